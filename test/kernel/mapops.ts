/**
 * Kernel map operations for differential tests: runs batches of raw bpf(2) map commands (test/kernel/mapops.c)
 * in one helper process per batch and returns one { errno, bytes } per command. The helper is compiled on first
 * use into a cache directory keyed by a hash of its source (like oracle.ts does for bpfrun.c). Callers should
 * check `kernelAvailability()` from oracle.ts first.
 */
import { spawnSync } from 'node:child_process';
import { buildCHelper } from './cbuild.js';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./mapops.c', import.meta.url));

export type KernelMapCmd =
  | { op: 'create'; type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number; inner?: number }
  | { op: 'update'; map: number; key: Uint8Array; value: Uint8Array; flags: number }
  | { op: 'updateMap'; map: number; key: Uint8Array; inner: number; flags: number }
  | { op: 'lookup'; map: number; key: Uint8Array }
  | { op: 'lookupAndDelete'; map: number; key: Uint8Array; flags: number }
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
  const r = buildCHelper(SOURCE);
  if (!r.path) throw new Error(r.reason ?? 'building test/kernel/mapops.c failed');
  return (binPath = r.path);
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
    case 'lookupAndDelete':
      return `LOOKUPDEL ${c.map} ${hex(c.key)} ${c.flags}`;
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
