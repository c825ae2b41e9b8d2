/**
 * Errors the HTTP layer turns into `{"error": {"code", "message", "hint"?}}` responses.
 * Services throw these; routes never build error bodies by hand.
 */
import type {ContentfulStatusCode} from 'hono/utils/http-status'

export interface ErrorBody {
  error: {code: string; message: string; hint?: string}
}

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'HttpError'
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.hint)
  }
}

export function errorBody(code: string, message: string, hint?: string): ErrorBody {
  return {error: hint === undefined ? {code, message} : {code, message, hint}}
}

export const badRequest = (code: string, message: string, hint?: string) => new HttpError(400, code, message, hint)

export const unauthenticated = (message: string, hint?: string) => new HttpError(401, 'UNAUTHENTICATED', message, hint)

export const forbidden = (message: string, hint?: string) => new HttpError(403, 'FORBIDDEN', message, hint)

export const notFound = (message: string, hint?: string) => new HttpError(404, 'NOT_FOUND', message, hint)

export const conflict = (code: string, message: string, hint?: string) => new HttpError(409, code, message, hint)
