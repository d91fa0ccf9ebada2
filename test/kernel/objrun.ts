/**
 * Runs commands against ONE BPF object loaded by libbpf in the host kernel (test/kernel/objrun.c): for helpers
 * whose programs need the object's BTF (map value BTF for bpf_spin_lock / bpf_timer, func_info for callbacks),
 * which bpfrun.c's raw loader cannot give. Built on first use with -lbpf (libbpf-dev); `objrunAvailability`
 * says why it cannot be used (no kernel oracle, no libbpf), for tests to skip with that reason.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildCHelper } from './cbuild.js';
import { kernelAvailability } from './oracle.js';

const SOURCE = fileURLToPath(new URL('./objrun.c', import.meta.url));

export type ObjrunCmd =
  | { op: 'run'; prog: string }
  | { op: 'sleep'; ms: number }
  | { op: 'dump'; map: string }
  | { op: 'lookup'; map: string; key: Uint8Array; flags: number }
  | { op: 'update'; map: string; key: Uint8Array; value: Uint8Array; flags: number }
  /** Stores the fd of directory `path` (a cgroup) in slot `key` of a CGROUP_ARRAY. */
  | { op: 'update_fd'; map: string; key: Uint8Array; path: string };

export type ObjrunAnswer =
  | { run: string; errno: number; retval: number }
  | { slept: number }
  | { map: string; entries: [string, string][] }
  | { lookup: string; errno: number; value?: string }
  | { update: string; errno: number };

let bin: string | undefined;
let why: string | undefined;

/** { ok } when objrun can be used, else the reason. */
export function objrunAvailability(): { ok: boolean; reason: string } {
  const k = kernelAvailability();
  if (!k.ok) return k;
  if (bin === undefined && why === undefined) {
    const r = buildCHelper(SOURCE, ['-lbpf']);
    if (r.path) bin = r.path;
    else why = `cannot build test/kernel/objrun.c with libbpf (apt-get install libbpf-dev): ${r.reason ?? ''}`;
  }
  return bin !== undefined ? { ok: true, reason: `objrun ready (${bin})` } : { ok: false, reason: why! };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function encode(c: ObjrunCmd): string {
  switch (c.op) {
    case 'run':
      return `run ${c.prog}`;
    case 'sleep':
      return `sleep ${c.ms}`;
    case 'dump':
      return `dump ${c.map}`;
    case 'lookup':
      return `lookup ${c.map} ${hex(c.key)} ${c.flags}`;
    case 'update':
      return `update ${c.map} ${hex(c.key)} ${hex(c.value)} ${c.flags}`;
    case 'update_fd':
      return `update_fd ${c.map} ${hex(c.key)} ${c.path}`;
  }
}

/** Loads `object` and runs `cmds` in one helper process: whether it loaded (with the libbpf log) and the answers. */
export function objrun(object: string, cmds: ObjrunCmd[]): { loaded: boolean; errno?: number; log?: string; answers: ObjrunAnswer[] } {
  const a = objrunAvailability();
  if (!a.ok) throw new Error(a.reason);
  const res = spawnSync(bin!, [object], { input: cmds.map(encode).join('\n') + '\n', encoding: 'utf8', timeout: 30_000, maxBuffer: 1 << 26 });
  if (res.error) throw new Error(`objrun failed: ${res.error.message}`);
  const lines = res.stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  const head = lines.shift() as { loaded: boolean; errno?: number; log?: string } | undefined;
  if (head === undefined) throw new Error(`objrun: no output (exit ${res.status}): ${res.stderr}`);
  if (!head.loaded) return { ...head, answers: [] };
  if (lines.length !== cmds.length) throw new Error(`objrun: ${lines.length} answers for ${cmds.length} commands (exit ${res.status}): ${res.stderr}`);
  return { loaded: true, answers: lines as ObjrunAnswer[] };
}
