/** The port a local gateway listens on when neither --port nor `[gateway] port` says otherwise. */
export const DEFAULT_PORT = 8787
