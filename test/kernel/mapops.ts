/**
 * Kernel map operations for differential tests: runs batches of raw bpf(2) map commands (test/kernel/mapops.c)
 * in one helper process per batch and returns one { errno, bytes } per command. The helper is compiled on first
 * use into a cache directory keyed by a hash of its source (like oracle.ts does for bpfrun.c). Callers should
 * check `kernelAvailability()` from oracle.ts first.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./mapops.c', import.meta.url));
const ROOT = resolve(dirname(SOURCE), '..', '..');

export type KernelMapCmd =
  | { op: 'create'; type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number; inner?: number }
  | { op: 'update'; map: number; key: Uint8Array; value: Uint8Array; flags: number }
  | { op: 'updateMap'; map: number; key: Uint8Array; inner: number; flags: number }
  | { op: 'lookup'; map: number; key: Uint8Array }
  | { op: 'delete'; map: number; key: Uint8Array }
  | { op: 'next'; map: number; key: Uint8Array | null }
  | { op: 'keys'; map: number }
  | { op: 'freeze'; map: number }
  | { op: 'reset' };

export interface KernelMapResult {
  errno: number;
  /** Value (lookup), next key (next), all keys concatenated (keys). */
  bytes?: Uint8Array;
  handle?: number;
}

let binPath: string | undefined;

function build(): string {
  if (binPath) return binPath;
  const src = readFileSync(SOURCE);
  const cc = process.env.CC ?? 'cc';
  const hash = createHash('sha256').update(src).update(`\0${cc}\0${process.arch}`).digest('hex').slice(0, 16);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  let last = '';
  for (const dir of [join(ROOT, 'node_modules', '.cache', 'bpfvm-mapops', hash), join(tmpdir(), `bpfvm-mapops-${uid}`, hash)]) {
    const bin = join(dir, 'mapops');
    if (existsSync(bin)) return (binPath = bin);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      last = (e as Error).message;
      continue;
    }
    const tmp = `${bin}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const res = spawnSync(cc, ['-O2', '-Wall', '-o', tmp, SOURCE], { encoding: 'utf8', timeout: 120_000 });
    if (res.error || res.status !== 0) {
      rmSync(tmp, { force: true });
      throw new Error(`building test/kernel/mapops.c failed: ${res.error?.message ?? res.stderr}`);
    }
    chmodSync(tmp, 0o755);
    renameSync(tmp, bin);
    return (binPath = bin);
  }
  throw new Error(`no cache directory for the mapops helper: ${last}`);
}

const hex = (b: Uint8Array | null): string => (b === null || b.length === 0 ? '-' : Buffer.from(b).toString('hex'));

function encode(c: KernelMapCmd): string {
  switch (c.op) {
    case 'create':
      return `CREATE ${c.type} ${c.keySize} ${c.valueSize} ${c.maxEntries} ${c.flags ?? 0} ${c.inner ?? -1}`;
    case 'update':
      return `UPDATE ${c.map} ${hex(c.key)} ${hex(c.value)} ${c.flags}`;
    case 'updateMap':
      return `UPDATEMAP ${c.map} ${hex(c.key)} ${c.inner} ${c.flags}`;
    case 'lookup':
      return `LOOKUP ${c.map} ${hex(c.key)}`;
    case 'delete':
      return `DELETE ${c.map} ${hex(c.key)}`;
    case 'next':
      return `NEXT ${c.map} ${hex(c.key)}`;
    case 'keys':
      return `KEYS ${c.map}`;
    case 'freeze':
      return `FREEZE ${c.map}`;
    case 'reset':
      return 'RESET';
  }
}

/** Runs the commands in one helper process; returns the kernel's possible-CPU count and one result per command. */
export function kernelMapOps(cmds: KernelMapCmd[]): { cpus: number; results: KernelMapResult[] } {
  const bin = build();
  const res = spawnSync(bin, [], { input: cmds.map(encode).join('\n') + '\n', encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
  if (res.error) throw new Error(`mapops helper failed: ${res.error.message}`);
  const lines = res.stdout.split('\n').filter((l) => l.length > 0);
  const head = /^CPUS (\d+)$/.exec(lines.shift() ?? '');
  if (!head || lines.length !== cmds.length) {
    throw new Error(`mapops helper: exit ${res.status}, ${lines.length} results for ${cmds.length} commands: ${res.stderr}`);
  }
  const results = lines.map((l, i): KernelMapResult => {
    const [e, payload] = l.split(' ');
    const out: KernelMapResult = { errno: Number(e) };
    if (cmds[i]!.op === 'create') {
      if (out.errno === 0) out.handle = Number(payload);
    } else if (payload !== undefined && payload !== '-') {
      out.bytes = new Uint8Array(Buffer.from(payload, 'hex'));
    }
    return out;
  });
  return { cpus: Number(head[1]), results };
}

/** Number of possible CPUs of the host kernel (per-CPU values hold this many slots). */
export function kernelPossibleCpus(): number {
  return kernelMapOps([]).cpus;
}
