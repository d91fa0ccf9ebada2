// `bpfvm sockmap OBJ [options]`: one case of the kernel's test_sockmap selftest, offline, on the socket model;
// `bpfvm sockmap OBJ --all`: its built-in list. The engine is src/sockmap-test/.

import type { SockmapCaseOptions } from '../sockmap-test/options.js';
import { CliError, UsageError, isElf, parse, readBytes, tierOption } from './common.js';

const USAGE = `usage: bpfvm sockmap OBJ [--test sendmsg|sendpage] [--rate N] [--iov_count N] [--length N]
                     [--txmsg] [--txmsg_redir] [--txmsg_drop] [--txmsg_apply N] [--txmsg_cork N]
                     [--txmsg_start N] [--txmsg_end N] [--txmsg_start_push N] [--txmsg_end_push N]
                     [--txmsg_start_pop N] [--txmsg_pop N] [--txmsg_ingress] [--txmsg_redir_skb]
                     [--txmsg_omit_skb_parser] [--peek] [--data_test] [--skb_use_parser N] [--json]
                     [--tier interp|js|auto]
       bpfvm sockmap OBJ --all [--test sendmsg|sendpage] [--data_test] [--whitelist A,B] [--blacklist A,B] [--json]

Runs one case of the kernel's test_sockmap selftest on bpfvm's socket model, for an object with
test_sockmap's layout (maps sock_map, sock_map_txmsg, sock_map_redir, sock_apply_bytes, sock_cork_bytes,
sock_bytes, sock_redir_flags, sock_skb_opts; an sk_skb stream parser and verdict, a sockops program, and the
sk_msg programs pass, redirect, apply, cork, drop in that order). Topology: listeners on 127.0.0.1:10000 and
:10001, c1<->p1 and c2<->p2; parser and verdict on sock_map (parser left out with --txmsg_omit_skb_parser),
sock_ops filling sock_map, the chosen sk_msg program on sock_map_txmsg. c1 sends --rate times
(sendmsg of --iov_count buffers of --length bytes, or sendfile of --length bytes with --test sendpage);
p2 receives. Options are test_sockmap's (-t, -r, -i, -l, -d also work); defaults: sendmsg, rate 1,
iov_count 1, length 1024. --skb_use_parser N sets the parser's frame length.

Prints tx/rx bytes and errors, each send's return value, and the bytes received at c1, p1, c2, p2 with their
FNV-1a-64 hash; --json prints the result object { ok, tx_bytes, tx_err, rx_bytes, rx_err,
rx_expected, rx_started, sends, sockets: { c1|p1|c2|p2: { bytes, fnv1a64 } }, runs, options }.
Exit status 0 when the case is OK, 1 when it fails.

--all runs the built-in list (every group but kTLS) and prints test_sockmap's "#N/M type::group:OK|FAIL"
lines and "Pass: X Fail: Y"; the send mode defaults to sendmsg for a SOCKMAP object and sendpage for a
SOCKHASH one. --whitelist / --blacklist (comma-separated) select groups whose title contains a word, as in
test_sockmap. With --json: { groups, pass, fail }.`;

const NUMERIC: Record<string, keyof SockmapCaseOptions> = {
  rate: 'rate', iov_count: 'iovCount', length: 'length', txmsg_apply: 'txmsgApply', txmsg_cork: 'txmsgCork',
  txmsg_start: 'txmsgStart', txmsg_end: 'txmsgEnd', txmsg_start_push: 'txmsgStartPush', txmsg_end_push: 'txmsgEndPush',
  txmsg_start_pop: 'txmsgStartPop', txmsg_pop: 'txmsgPop', skb_use_parser: 'skbUseParser',
};
const FLAGS: Record<string, keyof SockmapCaseOptions> = {
  txmsg: 'txmsg', txmsg_redir: 'txmsgRedir', txmsg_drop: 'txmsgDrop', txmsg_ingress: 'txmsgIngress',
  txmsg_redir_skb: 'txmsgRedirSkb', txmsg_omit_skb_parser: 'txmsgOmitSkbParser', peek: 'peek', data_test: 'dataTest',
};
const SHORT: Record<string, string> = { rate: 'r', iov_count: 'i', length: 'l', data_test: 'd' };

export async function main(argv: string[]): Promise<number> {
  const options: Parameters<typeof parse>[1] = {
    test: { type: 'string', short: 't' },
    json: { type: 'boolean' },
    all: { type: 'boolean' },
    whitelist: { type: 'string', short: 'n' },
    blacklist: { type: 'string', short: 'b' },
    tier: { type: 'string' },
  };
  for (const n of Object.keys(NUMERIC)) options[n] = { type: 'string', ...(SHORT[n] ? { short: SHORT[n] } : {}) };
  for (const n of Object.keys(FLAGS)) options[n] = { type: 'boolean', ...(SHORT[n] ? { short: SHORT[n] } : {}) };
  const r = parse(argv, options, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const test = r.str('test');
  if (test !== undefined && test !== 'sendmsg' && test !== 'sendpage') {
    throw new UsageError(`--test takes sendmsg or sendpage (got "${test}"; test_sockmap's ping, base and base_sendpage are not modelled)`);
  }
  const tier = tierOption(r);

  const bytes = readBytes(file);
  if (!isElf(bytes)) throw new CliError(`${file} is not a BPF ELF object`);
  const { loadCollection } = await import('../elf/index.js');
  const spec = loadCollection(bytes, { file });
  const { runSockmapCase, SockmapTestError } = await import('../sockmap-test/engine.js');
  const { runSockmapAll } = await import('../sockmap-test/matrix.js');
  const { defaultCaseOptions, describeCase } = await import('../sockmap-test/options.js');
  const json = r.bool('json');

  try {
    if (r.bool('all')) {
      const given = [...Object.keys(NUMERIC), ...Object.keys(FLAGS)].filter((n) => n !== 'data_test' && (r.str(n) !== undefined || r.bool(n)));
      if (given.length > 0) throw new UsageError(`--all runs test_sockmap's built-in list; it takes only --test, --data_test, --whitelist, --blacklist, --json and --tier (not --${given.join(', --')})`);
      const wl = r.str('whitelist');
      const bl = r.str('blacklist');
      const res = runSockmapAll(spec, {
        ...(test !== undefined ? { test } : {}),
        dataTest: r.bool('data_test'),
        ...(wl !== undefined ? { whitelist: wl.split(',').filter((x) => x !== '') } : {}),
        ...(bl !== undefined ? { blacklist: bl.split(',').filter((x) => x !== '') } : {}),
        ...(tier !== undefined ? { tier } : {}),
        ...(json ? {} : { onGroup: (g) => process.stdout.write(g.line + '\n') }),
      });
      if (json) process.stdout.write(JSON.stringify(res) + '\n');
      else process.stdout.write(`Pass: ${res.pass} Fail: ${res.fail}\n`);
      return res.fail === 0 ? 0 : 1;
    }

    if (r.str('whitelist') !== undefined || r.str('blacklist') !== undefined) throw new UsageError('--whitelist and --blacklist select groups of --all');
    const o = defaultCaseOptions();
    if (test !== undefined) o.test = test;
    for (const [name, field] of Object.entries(NUMERIC)) {
      const v = r.str(name);
      if (v === undefined) continue;
      if (!/^\d+$/.test(v) || Number(v) > 0x7fffffff) throw new UsageError(`--${name} takes a whole number from 0 to 2147483647 (got "${v}")`);
      (o[field] as number) = Number(v);
    }
    for (const [name, field] of Object.entries(FLAGS)) if (r.bool(name)) (o[field] as boolean) = true;
    const res = runSockmapCase(spec, o, tier !== undefined ? { tier } : {});
    if (json) {
      process.stdout.write(JSON.stringify(res) + '\n');
    } else {
      let out = `${file}: ${describeCase(o)}\n`;
      out += `tx_bytes ${res.tx_bytes} tx_err ${res.tx_err} rx_bytes ${res.rx_bytes} rx_err ${res.rx_err} (expected ${res.rx_expected}${res.rx_started ? '' : ', receiver not started'})\n`;
      out += `sends: ${summariseSends(res.sends)}\n`;
      for (const [n, s] of Object.entries(res.sockets)) out += `${n}: ${s.bytes} bytes fnv1a64 ${s.fnv1a64}\n`;
      out += res.ok ? 'OK\n' : 'FAIL\n';
      process.stdout.write(out);
    }
    return res.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof SockmapTestError) throw new CliError(e.message);
    throw e;
  }
}

/** "3 x 5, -13" style: runs of equal values collapsed. */
function summariseSends(v: readonly number[]): string {
  if (v.length === 0) return '(none)';
  const parts: string[] = [];
  for (let i = 0; i < v.length; ) {
    let j = i;
    while (j < v.length && v[j] === v[i]) j++;
    parts.push(j - i > 1 ? `${j - i} x ${v[i]}` : String(v[i]));
    i = j;
  }
  return parts.join(', ');
}
