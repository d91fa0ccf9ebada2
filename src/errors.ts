// Typed loader errors. Every failure while turning an ELF object into a CollectionSpec surfaces as a
// BpfLoadError whose message reads like a path from the outermost step to the cause, e.g.
//   load maps: map "sock_map": key type 7: unknown BTF kind 99
// `context` holds those steps (outermost first) so callers can print or match them without parsing.

export interface BpfLoadErrorWhere {
  file?: string;
  section?: string;
  /** Byte offset in the file or section where the problem was found, when known. */
  offset?: number;
}

export class BpfLoadError extends Error {
  override name = 'BpfLoadError';
  /** Context chain, outermost first (e.g. ["load maps", "map \"sock_map\"", "key type 7"]). */
  readonly context: string[];
  /** The innermost cause, without context. */
  readonly detail: string;
  file?: string;
  section?: string;
  offset?: number;

  constructor(detail: string, where: BpfLoadErrorWhere = {}, context: string[] = [], options?: { cause?: unknown }) {
    super(context.length ? `${context.join(': ')}: ${detail}` : detail, options);
    this.detail = detail;
    this.context = context;
    if (where.file !== undefined) this.file = where.file;
    if (where.section !== undefined) this.section = where.section;
    if (where.offset !== undefined) this.offset = where.offset;
  }

  /** Returns a copy with `step` prepended to the context chain; where-fields already set are kept. */
  within(step: string, where: BpfLoadErrorWhere = {}): BpfLoadError {
    const e = new BpfLoadError(
      this.detail,
      {
        file: this.file ?? where.file,
        section: this.section ?? where.section,
        offset: this.offset ?? where.offset,
      },
      [step, ...this.context],
      { cause: this.cause },
    );
    e.stack = this.stack;
    return e;
  }
}

/** Throws a BpfLoadError (helper that keeps call sites to one line). */
export function loadError(detail: string, where: BpfLoadErrorWhere = {}): never {
  throw new BpfLoadError(detail, where);
}

/**
 * Runs `fn`, prefixing any failure with `step`. Non-BpfLoadError exceptions (a RangeError from a DataView,
 * anything a dependency throws) are converted so nothing but BpfLoadError ever leaves the loader.
 */
export function withContext<T>(step: string, fn: () => T, where: BpfLoadErrorWhere = {}): T {
  try {
    return fn();
  } catch (e) {
    throw asLoadError(e, where).within(step, where);
  }
}

export function asLoadError(e: unknown, where: BpfLoadErrorWhere = {}): BpfLoadError {
  if (e instanceof BpfLoadError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new BpfLoadError(msg, where, [], { cause: e });
}
