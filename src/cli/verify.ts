// `bpfvm verify FILE [--program NAME] [--log-level N] [--unprivileged] [--json]`: the kernel verifier's
// decision for each program of an object, with its log. Exit 0 when every checked program is accepted, 1
// otherwise. `--json` prints one record per program: { program, ok, error, log } (error = { pc, message } or
// null), plus errno, type and the statistics.

import { UsageError, CliError, isElf, parse, readBytes } from './common.js';

const USAGE = `usage: bpfvm verify FILE [--program NAME] [--log-level 0|1|2] [--unprivileged] [--json]

Checks every program of the BPF ELF object FILE (or only --program NAME) the way the Linux verifier does and
prints its verdict and, for a rejection, the kernel's message. --log-level 1 (default) prints the log of the
failing path on rejection, 2 the log of every instruction; --unprivileged checks as a loader with only
CAP_BPF and CAP_NET_ADMIN (default: root). Exit status: 0 all accepted, 1 some rejected.`;

export interface VerifyRecord {
  program: string;
  type: string;
  ok: boolean;
  error: { pc: number; message: string } | null;
  errno: number;
  log: string;
  processed: number;
}

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, {
    program: { type: 'string', short: 'p' },
    'log-level': { type: 'string' },
    unprivileged: { type: 'boolean' },
    json: { type: 'boolean' },
  }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const levelText = r.str('log-level') ?? '1';
  if (!['0', '1', '2'].includes(levelText)) throw new UsageError(`--log-level takes 0, 1 or 2 (got "${levelText}")`);
  const logLevel = Number(levelText) as 0 | 1 | 2;
  const bytes = readBytes(file);
  if (!isElf(bytes)) throw new CliError(`${file} is not an ELF object (bpfvm verify takes a clang -target bpf object)`);
  const { loadCollection } = await import('../elf/index.js');
  const { verify } = await import('../../verifier/index.js');
  const spec = loadCollection(bytes, { file });
  const name = r.str('program');
  const progs = name !== undefined ? spec.programs.filter((p) => p.name === name) : spec.programs;
  if (progs.length === 0) {
    throw new CliError(`${file}: no program named "${name}" (programs: ${spec.programs.map((p) => p.name).join(', ') || 'none'})`);
  }
  const records: VerifyRecord[] = [];
  for (const p of progs) {
    const res = verify({ ...p, license: spec.license }, { logLevel, privileged: !r.bool('unprivileged'), maps: spec.maps });
    records.push({ program: p.name, type: p.typeName, ok: res.ok, error: res.error, errno: res.errno, log: res.log, processed: res.stats.processed });
  }
  if (r.bool('json')) {
    process.stdout.write(JSON.stringify(records, null, 2) + '\n');
  } else {
    for (const rec of records) {
      if (rec.ok) process.stdout.write(`${rec.program}: accepted (${rec.type}, ${rec.processed} insns processed)\n`);
      else process.stdout.write(`${rec.program}: rejected at pc ${rec.error?.pc ?? '?'}: ${rec.error?.message ?? ''}\n`);
      if (logLevel > 0 && (logLevel === 2 || !rec.ok) && rec.log) {
        process.stdout.write(rec.log.replace(/^/gm, '  ').replace(/\s+$/, '') + '\n');
      }
    }
  }
  return records.every((x) => x.ok) ? 0 : 1;
}
