// Errors: one class for engine errors, stable codes for everything (docs/errors.md).

/** Every code a hashlog error can carry. A code never changes meaning. */
export type ErrorCode =
  | 'HASHLOG_INVALID_ARGUMENT'
  | 'HASHLOG_KEY_TOO_LARGE'
  | 'HASHLOG_VALUE_TOO_LARGE'
  | 'HASHLOG_CLOSED'
  | 'HASHLOG_LOCKED'
  | 'HASHLOG_IO'
  | 'HASHLOG_CORRUPTION'
  | 'HASHLOG_FAILED'
  | 'HASHLOG_READONLY'
  | 'HASHLOG_NO_SPACE'
  | 'HASHLOG_FULL'
  | 'HASHLOG_NOT_SUPPORTED';

/** An error raised by the store engine: I/O, corruption, locking, lifecycle. */
export class HashlogError extends Error {
  declare name: string;
  readonly code: ErrorCode;
  /** The OS error number, for I/O errors. */
  errno?: number;
  /** The failing system call, for I/O errors. */
  syscall?: string;

  constructor(message: string, code: ErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
HashlogError.prototype.name = 'HashlogError';

/** An argument error: a TypeError that also carries a `code`, as Node's own errors do. */
export type CodedTypeError = TypeError & { code: ErrorCode };
/** A size or range error that also carries a `code`. */
export type CodedRangeError = RangeError & { code: ErrorCode };

export function typeError(message: string, code: ErrorCode = 'HASHLOG_INVALID_ARGUMENT'): CodedTypeError {
  return Object.assign(new TypeError(message), { code });
}

export function rangeError(message: string, code: ErrorCode = 'HASHLOG_INVALID_ARGUMENT'): CodedRangeError {
  return Object.assign(new RangeError(message), { code });
}

export function closedError(): HashlogError {
  return new HashlogError('store is closed', 'HASHLOG_CLOSED');
}
