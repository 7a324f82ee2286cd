// One error base for the whole project: a stable `code` that tests and callers match on, an
// optional HTTP status for errors that reach a client, and the underlying `cause`.

export class ZeroscaleError extends Error {
  readonly code: string;
  readonly httpStatus: number | undefined;

  constructor(code: string, message: string, options: { httpStatus?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZeroscaleError';
    this.code = code;
    this.httpStatus = options.httpStatus;
  }
}

export function isZeroscaleError(err: unknown, code?: string): err is ZeroscaleError {
  return err instanceof ZeroscaleError && (code === undefined || err.code === code);
}
