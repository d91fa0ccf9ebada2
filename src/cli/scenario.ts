// `bpfvm scenario FILE [--json]`: runs a JSON socket scenario on the socket model (src/scenario/file.ts has the
// format; README "bpfvm scenario" documents it).

import { CliError, UsageError, parse } from './common.js';

const USAGE = `usage: bpfvm scenario FILE [--json]

Runs the JSON socket scenario FILE on bpfvm's socket model: an object to load ("object", relative to FILE) or
"maps" and assembly "programs", then "steps" (attach, detach, cgroup_attach, cgroup_detach, use_cgroup, listen,
tcp, connect, accept, insert, update, delete, lookup, send, sendmsg, recv, fionread, shutdown, close, cookie,
runs), each with an optional "expect" ({ ret, data, bytes }), and an optional final "expect" on the bytes every
socket still has ("sockets"), program run counts ("runs") and sock map contents ("maps").
Prints one line per step and the failed expectations; --json prints
{ ok, steps: [{ op, ret, data?, port?, failed? }], sockets: { NAME: { open, data } }, maps, runs, failures }.
Exit status 0 when every expectation holds, 1 otherwise.`;

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const { runScenarioPath } = await import('../scenario/file.js');
  const { ScenarioError } = await import('../scenario/api.js');
  let res;
  try {
    res = runScenarioPath(file);
  } catch (e) {
    if (e instanceof ScenarioError) throw new CliError(e.message);
    throw e;
  }
  if (r.bool('json')) {
    process.stdout.write(JSON.stringify(res) + '\n');
  } else {
    let out = '';
    res.steps.forEach((s, i) => {
      out += `${String(i + 1).padStart(3)} ${s.op.padEnd(13)} ${s.ret}${s.data !== undefined ? ` ${s.data.length > 64 ? `${s.data.slice(0, 64)}… (${s.data.length / 2} bytes)` : s.data}` : ''}${s.failed ? `  FAILED: ${s.failed.join('; ')}` : ''}\n`;
    });
    for (const [n, s] of Object.entries(res.sockets)) if (s.data !== '') out += `socket ${n}: ${s.data.length / 2} bytes unread\n`;
    for (const f of res.failures) out += `FAILED: ${f}\n`;
    out += res.ok ? 'OK\n' : `FAIL (${res.failures.length} expectation${res.failures.length === 1 ? '' : 's'})\n`;
    process.stdout.write(out);
  }
  return res.ok ? 0 : 1;
}
