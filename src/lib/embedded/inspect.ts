/**
 * What `lobu doctor` reads of an embedded gateway's resources without starting it: the data
 * dir's lock, the install key file and a DATABASE_URL to print. The CLI reaches the gateway's
 * code through src/lib/embedded/ only (test/architecture/imports.test.ts).
 */
export {KEY_FILE, parseInstallKey} from '../gateway/crypto/install-key.js'
export {LOCK_FILE, readDataDirLock} from '../gateway/store/lock.js'
export {redactDatabaseUrl} from '../gateway/store/postgres.js'
