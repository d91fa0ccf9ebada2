// Shared pieces of the command line: argument parsing, input formats, error reporting.

import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Tier } from '../../vm/interpreter.js';

/** A mistake in how a command was called: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A user-facing failure with a clear message (bad input file, …): exit status 1 unless given. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Prints an error the way the CLI reports them and returns the exit status. */
export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`bpfvm: ${err.message}\n`);
    return 2;
  }
  if (err instanceof CliError) {
    process.stderr.write(`bpfvm: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof Error && /^(Bpf\w+Error|BpfMemoryFault|BpfBudgetExceeded|BpfLoadError)$/.test(err.name)) {
    process.stderr.write(`bpfvm: ${err.name}: ${err.message}\n`);
    return 1;
  }
  // A bug in bpfvm itself: say so, with the stack, so it can be reported.
  process.stderr.write(`bpfvm: internal error (please report): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 70;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed command line: positionals plus typed accessors for the options. */
export interface ParsedArgs {
  positionals: string[];
  str(name: string): string | undefined;
  bool(name: string): boolean;
  /** Every value given for a repeatable (`multiple: true`) string option. */
  list(name: string): string[];
}

/** node:util parseArgs with bpfvm's conventions: unknown options and missing values are usage errors. */
export function parse(argv: string[], options: Options, usage: string): ParsedArgs | null {
  let r: { values: Record<string, unknown>; positionals: string[] };
  try {
    r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
  }
  if (r.values['help'] === true) {
    process.stdout.write(usage + '\n');
    return null;
  }
  const values = r.values;
  return {
    positionals: r.positionals,
    str: (n) => (typeof values[n] === 'string' ? (values[n] as string) : undefined),
    bool: (n) => values[n] === true,
    list: (n) => (Array.isArray(values[n]) ? (values[n] as string[]) : typeof values[n] === 'string' ? [values[n] as string] : []),
  };
}

const TIERS: readonly Tier[] = ['interp', 'js', 'auto'];

/** The value of --tier (interp, js or auto); undefined when it is not given, a usage error for anything else. */
export function tierOption(r: ParsedArgs): Tier | undefined {
  const t = r.str('tier');
  if (t !== undefined && !TIERS.includes(t as Tier)) throw new UsageError(`--tier takes ${TIERS.join(', ')} (got "${t}")`);
  return t as Tier | undefined;
}

export function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

/** Parses hex bytes: "b7 00 00 00", "b7000000", "0xb7,0x00", with any whitespace or commas. */
export function parseHex(text: string, what: string): Uint8Array {
  const cleaned = text.replace(/0x/gi, ' ').replace(/[\s,]+/g, ' ').trim();
  if (cleaned === '') return new Uint8Array(0);
  const tokens = cleaned.split(' ');
  const out: number[] = [];
  for (const t of tokens) {
    if (!/^[0-9a-fA-F]+$/.test(t)) throw new CliError(`${what}: "${t}" is not hex`);
    if (t.length <= 2) out.push(parseInt(t, 16));
    else {
      if (t.length % 2 !== 0) throw new CliError(`${what}: "${t}" has an odd number of hex digits`);
      for (let k = 0; k < t.length; k += 2) out.push(parseInt(t.slice(k, k + 2), 16));
    }
  }
  return new Uint8Array(out);
}

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

export function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && ELF_MAGIC.every((v, i) => b[i] === v);
}

/** True if the bytes look like text (assembly or hex) rather than raw bytecode. */
export function isText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 4096);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0 || (c < 9 && c !== 0) || (c > 13 && c < 32)) return false;
  }
  return b.length > 0;
}

/**
 * Reads a program given as raw bytecode (.bin), hex text (.hex) or kernel-syntax assembly (.s / .asm / any
 * other text). ELF objects are not handled here (use the loader).
 */
export async function readProgram(path: string): Promise<Uint8Array> {
  const bytes = readBytes(path);
  if (isElf(bytes)) throw new CliError(`${path} is an ELF object; this command takes raw bytecode, hex or assembly`);
  if (!isText(bytes)) return bytes;
  const text = new TextDecoder().decode(bytes);
  if (/\.hex$/i.test(path) || /^[\s0-9a-fA-Fx,]+$/.test(text)) return parseHex(text, path);
  const { assemble } = await import('../../vm/asm.js');
  return assemble(text);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
