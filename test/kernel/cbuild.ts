// Builds the small C helpers the kernel-differential tests use (bpfrun.c, sockrun.c, mapops.c) with the
// machine's C compiler, once per source version: the binary is cached under node_modules/.cache (or the
// system temp directory) in a folder named by a hash of the source, the compiler and the platform.
// Test files run in parallel workers, so each build goes to a unique temporary name and is renamed into
// place: nobody ever executes a half-written binary.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export interface BuiltHelper {
  path?: string;
  /** Why there is no binary (no compiler, build failure, no writable cache folder). */
  reason?: string;
}

const built = new Map<string, BuiltHelper>();

/**
 * Compiles `sourcePath` (cc -O2 -Wall, or $CC) unless a binary for this exact source is cached. `libs` are
 * linker arguments after the source (e.g. ['-lbpf'] for a libbpf-based helper).
 */
export function buildCHelper(sourcePath: string, libs: readonly string[] = []): BuiltHelper {
  const cached = built.get(sourcePath);
  if (cached) return cached;
  const r = build(sourcePath, libs);
  built.set(sourcePath, r);
  return r;
}

function build(sourcePath: string, libs: readonly string[]): BuiltHelper {
  const name = basename(sourcePath, '.c');
  const shown = `test/kernel/${basename(sourcePath)}`;
  let source: Buffer;
  try {
    source = readFileSync(sourcePath);
  } catch (e) {
    return { reason: `cannot read ${sourcePath}: ${(e as Error).message}` };
  }
  const cc = process.env.CC ?? 'cc';
  const hash = createHash('sha256').update(source).update(`\0${cc}\0${process.platform}\0${process.arch}\0${libs.join(' ')}`).digest('hex').slice(0, 16);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const repoRoot = resolve(dirname(sourcePath), '..', '..');
  let lastError = '';
  for (const dir of [join(repoRoot, 'node_modules', '.cache', `bpfvm-${name}`, hash), join(tmpdir(), `bpfvm-${name}-${uid}`, hash)]) {
    const bin = join(dir, name);
    if (existsSync(bin)) return { path: bin };
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      lastError = `cannot create ${dir}: ${(e as Error).message}`;
      continue;
    }
    const tmp = `${bin}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const res = spawnSync(cc, ['-O2', '-Wall', '-o', tmp, sourcePath, ...libs], { encoding: 'utf8', timeout: 120_000 });
    if (res.error) {
      rmSync(tmp, { force: true });
      const code = (res.error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { reason: `no C compiler (${cc}) to build ${shown}` };
      return { reason: `running ${cc} failed: ${res.error.message}` };
    }
    if (res.status !== 0) {
      rmSync(tmp, { force: true });
      const msg = `${res.stderr ?? ''}`.trim().split('\n').slice(0, 20).join('\n');
      return { reason: `${cc} failed to build ${shown} (exit ${res.status}): ${msg}` };
    }
    try {
      chmodSync(tmp, 0o755);
      renameSync(tmp, bin);
      return { path: bin };
    } catch (e) {
      rmSync(tmp, { force: true });
      lastError = `cannot install helper in ${dir}: ${(e as Error).message}`;
    }
  }
  return { reason: lastError || `no usable cache directory for the ${name} helper` };
}
