export {
  InvalidEncryptionKeyError,
  KEY_BYTES,
  KEY_FILE,
  type InstallKeySource,
  type ResolvedInstallKey,
  loadInstallKey,
  parseInstallKey,
  resolveInstallKey,
} from './install-key.js'
export {SecretDecryptionError, decryptSecret, encryptSecret, keyedHash} from './secrets.js'
