// Map errors: every failure of a map operation carries the errno the kernel returns for it.

// The one errno table of the model (maps, sockets, helpers); files take the names they use from it.
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ECONNRESET: 104,
  EISCONN: 106,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
  /** Kernel-internal "not supported" (not in libc); bpf() returns it as is. */
  ENOTSUPP: 524,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

const NAMES = new Map<number, ErrnoCode>(Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoCode]));

/** "EINVAL" for 22; "errno N" for numbers this module does not produce. */
export function errnoCode(errno: number): string {
  return NAMES.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

/**
 * A failed map operation. `errno` is positive (what bpf(2) leaves in errno); program-side operations return
 * `-errno` instead of throwing.
 */
export class BpfMapError extends Error {
  override name = 'BpfMapError';
  readonly errno: number;
  constructor(
    readonly code: ErrnoCode,
    /** The map's name, as in the spec. */
    readonly map: string,
    /** What was attempted: "create", "lookup", "update", "delete", "get_next_key", "freeze". */
    readonly op: string,
    readonly detail: string,
  ) {
    super(`map "${map}": ${op}: ${detail} (${code})`);
    this.errno = ERRNO[code];
  }
}

/** The spec asks for a map type the model does not implement yet. */
export class BpfMapNotModelledError extends BpfMapError {
  override name = 'BpfMapNotModelledError';
}

/** Runs `fn` and returns 0, or the positive errno of the BpfMapError it threw (anything else is rethrown). */
export function errnoOf(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (e) {
    if (e instanceof BpfMapError) return e.errno;
    throw e;
  }
}
