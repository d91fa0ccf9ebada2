// The property-testing kit (bpfvm/testing), used the way users use it: fast-check properties over messages,
// splits into sends and iovecs, map contents and socket topologies, run through the socket model. Each
// property is also checked against a program that breaks it, so the properties can fail.

import * as fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  concatSends,
  defaultMsgTopology,
  loadObject,
  mapContents,
  message,
  messageSends,
  packet,
  programOf,
  redirectDestination,
  runMsg,
  runPacket,
  sameBytes,
  sendsOf,
  socketAt,
  sockTopology,
  splitBytes,
  type MsgRunResult,
} from '../../src/testing/index.js';

const root = join(import.meta.dirname, '..', '..');
const kit = loadObject(join(root, 'fixtures', 'v3', 'msg_kit.o'));
const redir = loadObject(join(root, 'fixtures', 'v3', 'sk_msg_redirect.o'));
const pkt = loadObject(join(root, 'fixtures', 'v3', 'pkt_parse.o'));
const topo = defaultMsgTopology(kit, programOf(kit, 'kit_pass'));
const SOCKS = ['c1', 'p1', 'c2', 'p2'];
const NUM_RUNS = 60;

/** Only `at` received bytes, and exactly `bytes`. */
function deliveredOnlyAt(r: MsgRunResult, at: string, bytes: Uint8Array): boolean {
  return SOCKS.every((s) => (s === at ? sameBytes(r.delivered[s], bytes) : r.delivered[s]!.length === 0));
}

/** Property 1: for any message and any split into sends, a pass program delivers exactly the bytes sent (at p1). */
const passDelivers = (prog: string) =>
  fc.property(messageSends(), ({ message: m, sends }) => {
    const r = runMsg(kit, prog, { sends, tier: 'interp' });
    return r.sends.every((s) => s.ret === s.bytes) && r.runs.every((x) => x.verdict === 'pass') && deliveredOnlyAt(r, 'p1', m);
  });

/** Property 2: a redirect program delivers them at the target (egress: the target's peer; ingress: the target). */
const redirectDelivers = (prog: string) =>
  fc.property(messageSends(), fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 1), ({ message: m, sends }, key, flags) => {
    const r = runMsg(kit, prog, { sends, tier: 'interp', mapEntries: [{ map: 'kit_cfg', key: 0, value: key }, { map: 'kit_cfg', key: 1, value: flags }] });
    const target = socketAt(topo, 'kit_map', key)!;
    const direction = flags ? 'ingress' : 'egress';
    return (
      r.verdict === 'redirect' &&
      r.redirect?.map === 'kit_map' &&
      r.redirect.key === key &&
      r.redirect.socket === target &&
      r.redirect.direction === direction &&
      deliveredOnlyAt(r, redirectDestination(topo, target, direction), m)
    );
  });

/** Property 3: push then pop of the same range restores the message. */
const pushPopRestores = (prog: string) =>
  fc.property(
    message({ maxLength: 300 }).chain((m) => fc.tuple(fc.constant(m), fc.integer({ min: 0, max: m.length }), fc.integer({ min: 1, max: 64 }))),
    ([m, start, len]) => {
      const r = runMsg(kit, prog, { data: m, tier: 'interp', mapEntries: [{ map: 'kit_cfg', key: 2, value: start }, { map: 'kit_cfg', key: 3, value: len }] });
      return r.verdict === 'pass' && sameBytes(r.dataOut, m) && r.sizeOut === m.length && deliveredOnlyAt(r, 'p1', m);
    },
  );

describe('bpfvm/testing properties on our fixtures', () => {
  it('a pass program delivers exactly the bytes sent, for any message and any split into sends and iovecs', () => {
    fc.assert(passDelivers('kit_pass'), { numRuns: NUM_RUNS });
  });

  it('... and the property fails for a program that corrupts a byte (with a shrunk counterexample)', () => {
    const out = fc.check(passDelivers('kit_corrupt'), { numRuns: NUM_RUNS });
    expect(out.failed).toBe(true);
    // Shrinking reaches a one-byte message in one send.
    const [ex] = out.counterexample as [{ message: Uint8Array; sends: Uint8Array[][] }];
    expect(ex.message.length).toBe(1);
    expect(ex.sends).toHaveLength(1);
  });

  it('a redirect program delivers the bytes at the target, egress and ingress, to any slot', () => {
    fc.assert(redirectDelivers('kit_redirect'), { numRuns: NUM_RUNS });
  });

  it('... and the property fails for a program that passes instead', () => {
    expect(fc.check(redirectDelivers('kit_pass'), { numRuns: NUM_RUNS }).failed).toBe(true);
  });

  it('push then pop of the same range restores the message', () => {
    fc.assert(pushPopRestores('kit_push_pop'), { numRuns: NUM_RUNS });
  });

  it('... and the property fails for a program that corrupts a byte', () => {
    expect(fc.check(pushPopRestores('kit_corrupt'), { numRuns: NUM_RUNS }).failed).toBe(true);
  });

  it('a drop program makes every send fail with EACCES and delivers nothing (the drop is sticky: one run)', () => {
    fc.assert(
      fc.property(messageSends(), ({ sends }) => {
        const r = runMsg(kit, 'kit_drop', { sends, tier: 'interp' });
        return r.sends.every((s) => s.ret === -13) && r.runs.length === 1 && SOCKS.every((s) => r.delivered[s]!.length === 0);
      }),
      { numRuns: 30 },
    );
  });

  it('how one send is cut into iovecs does not matter: same runs, same bytes after the program, same delivery', () => {
    fc.assert(
      fc.property(
        message({ maxLength: 200 }).chain((m) => fc.tuple(fc.constant(m), splitBytes(m, 6), fc.integer({ min: 0, max: m.length }), fc.integer({ min: 1, max: 16 }))),
        ([m, iov, start, len]) => {
          const mapEntries = [{ map: 'kit_cfg', key: 2, value: start }, { map: 'kit_cfg', key: 3, value: len }];
          const whole = runMsg(kit, 'kit_push_pop', { data: m, mapEntries, tier: 'interp' });
          const split = runMsg(kit, 'kit_push_pop', { sends: [iov], mapEntries, tier: 'interp' });
          return JSON.stringify(whole.runs) === JSON.stringify(split.runs) && sameBytes(whole.delivered['p1'], split.delivered['p1']);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('large messages (several scatterlist elements) pass unchanged', () => {
    fc.assert(passDelivers('kit_pass'), { numRuns: 3, examples: [[{ message: new Uint8Array(70000).map((_, i) => i * 7), sends: [[new Uint8Array(70000).map((_, i) => i * 7)]] }]] });
    const big = new Uint8Array(600_000).map((_, i) => i);
    const r = runMsg(kit, 'kit_pass', { data: big, tier: 'interp' });
    expect(r.runs.length).toBeGreaterThan(1); // an sk_msg holds at most 17 elements of up to 32 KiB: one run per piece
    expect(sameBytes(r.delivered['p1'], big)).toBe(true);
  });

  it('map contents: a redirect by key from an array map is taken iff the default topology fills that slot', () => {
    const spec = redir.maps.find((m) => m.name === 'redir_key')!;
    fc.assert(
      fc.property(mapContents(spec, { value: fc.integer({ min: 0, max: 9 }) }), message({ maxLength: 64 }), (entries, m) => {
        const r = runMsg(redir, 'msg_redir_map_egress', { data: m, mapEntries: entries, tier: 'interp' });
        const key = Number(entries.find((e) => Number(e.key) === 0)?.value ?? 0);
        if (key > 3) return r.verdict === 'drop' && r.sends[0]!.ret === -13;
        const target = ['c1', 'p1', 'c2', 'p2'][key]!;
        return r.verdict === 'redirect' && r.redirect?.socket === target && deliveredOnlyAt(r, redirectDestination(topo, target, 'egress'), m);
      }),
      { numRuns: 40 },
    );
  });

  it('socket topologies: a redirect reaches whatever socket the slot holds, and drops when it is empty', () => {
    fc.assert(
      fc.property(sockTopology(kit, 'kit_redirect'), fc.integer({ min: 0, max: 3 }), message({ maxLength: 64 }), (t, key, m) => {
        const r = runMsg(kit, 'kit_redirect', { data: m, topology: t, tier: 'interp', mapEntries: [{ map: 'kit_cfg', key: 0, value: key }] });
        const target = socketAt(t, 'kit_map', key);
        if (target === null) return r.verdict === 'drop' && r.sends[0]!.ret === -13;
        return r.redirect?.socket === target && deliveredOnlyAt(r, redirectDestination(t, target, 'egress'), m);
      }),
      { numRuns: 40 },
    );
  });

  it('sendsOf: the sends concatenate back to the message', () => {
    fc.assert(fc.property(message().chain((m) => fc.tuple(fc.constant(m), sendsOf(m))), ([m, s]) => sameBytes(concatSends(s), m)));
  });

  it('packets: a tc program that returns data_end - data sees the whole frame, for any generated packet', () => {
    fc.assert(
      fc.property(packet(), (p) => runPacket(pkt, 'tc_len', p, { tier: 'interp' }).retval === p.length),
      { numRuns: 50 },
    );
    // The packet arbitrary builds well-formed headers: IPv4 total length and UDP length agree with the bytes.
    fc.assert(
      fc.property(packet({ kinds: ['ipv4-udp'] }), (p) => (p[16]! << 8) + p[17]! === p.length - 14 && (p[38]! << 8) + p[39]! === p.length - 34),
    );
  });

  it('is exported as bpfvm/testing (package.json "exports")', () => {
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "const k = await import('bpfvm/testing'); console.log(typeof k.runMsg, typeof k.messageSends, typeof k.sockTopology)"],
      { cwd: root, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function function');
  });

  it("README's example runs as written (JavaScript as well as TypeScript) against bpfvm/testing", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const start = readme.indexOf("```ts\nimport fc from 'fast-check';");
    expect(start).toBeGreaterThan(0);
    const code = readme.slice(start + 6, readme.indexOf('```', start + 6)) + "\nconsole.log('example ok');\n";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('example ok\n');
  });
});
