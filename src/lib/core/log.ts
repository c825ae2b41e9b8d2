/**
 * The logger both sides hand down: the gateway writes through it and whoever runs the gateway
 * decides where the lines go (`lobu run` prints them by --log-level; tests collect them).
 */
export type LogLevel = 'info' | 'warn' | 'error' | 'debug'
export type Logger = (level: LogLevel, msg: string) => void
