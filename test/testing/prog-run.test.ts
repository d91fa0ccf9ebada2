// The engine behind bpfvm run / bench for sk_msg and sk_skb programs (src/kernel/prog-run.ts): set-up errors
// name the map, key and socket; the default topology; sk_skb runs through the kit.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fc from 'fast-check';
import { defaultMsgTopology, loadObject, message, programOf, runMsg, runSkb, socketAt, sockTopology, type MsgTopology } from '../../src/testing/index.js';

const root = join(import.meta.dirname, '..', '..');
const redir = loadObject(join(root, 'fixtures', 'v3', 'sk_msg_redirect.o'));
const skb = loadObject(join(root, 'fixtures', 'v3', 'sk_skb_redirect.o'));
const prog = programOf(redir, 'msg_redir_map_egress');
const topo = (f: (t: MsgTopology) => void): MsgTopology => {
  const t = defaultMsgTopology(redir, prog);
  f(t);
  return t;
};

describe('sk_msg / sk_skb runs: set-up', () => {
  it('the default topology: test_sockmap connections, c1..p2 at keys 0..3 of every sock map, attached to the first sock map used', () => {
    const t = defaultMsgTopology(redir, prog);
    expect(t.connections).toEqual([{ client: 'c1', peer: 'p1', port: 10000 }, { client: 'c2', peer: 'p2', port: 10001 }]);
    expect(t.sender).toBe('c1');
    expect(t.attach).toEqual(['redir_map']);
    expect(t.slots.filter((s) => s.map === 'redir_hash').map((s) => [s.key, s.socket])).toEqual([[0, 'c1'], [1, 'p1'], [2, 'c2'], [3, 'p2']]);
    expect(defaultMsgTopology(redir, programOf(redir, 'msg_redir_hash_egress')).attach).toEqual(['redir_hash']);
    expect(defaultMsgTopology(skb, programOf(skb, 'skb_verdict_map')).attach).toEqual([]);
  });

  it('errors name the map, the key and the socket', () => {
    const cases: [Parameters<typeof runMsg>[2], RegExp][] = [
      [{ topology: topo((t) => (t.slots = [{ map: 'redir_map', key: 0, socket: 'c9' }])) }, /slot redir_map:0: no socket "c9" \(sockets: c1, p1, c2, p2\)/],
      [{ topology: topo((t) => (t.slots = [{ map: 'nomap', key: 0, socket: 'c1' }])) }, /slot: no map named "nomap" \(maps: redir_map, redir_hash, redir_key\)/],
      [{ topology: topo((t) => (t.slots = [{ map: 'redir_map', key: 8, socket: 'c1' }])) }, /slot redir_map:8 = c1 fails with E2BIG \(max_entries is 8\)/],
      [
        { topology: topo((t) => (t.slots = [{ map: 'redir_map', key: 0, socket: 'c1' }, { map: 'redir_map', key: 1, socket: 'c1' }])) },
        /slot redir_map:1 = c1 fails with EBUSY \(the socket already has an sk_msg program/,
      ],
      [{ topology: topo((t) => (t.attach = ['redir_key'])) }, /attach: redir_key is not a SOCKMAP or SOCKHASH/],
      [{ topology: topo((t) => (t.connections[1]!.client = 'c1')) }, /topology: socket name "c1" is used twice/],
      [{ mapEntries: [{ map: 'redir_key', key: 0, value: 2n ** 32n }] }, /map redir_key value: 4294967296 does not fit in 4 bytes/],
      [{ mapEntries: [{ map: 'redir_key', key: 1, value: 0 }] }, /map redir_key: update of key 1 fails with E2BIG/],
      [{ mapEntries: [{ map: 'redir_map', key: 0, value: 1 }] }, /redir_map is a sock map; put sockets in it with topology slots/],
      [{ data: new Uint8Array(0) }, /runs on at least 1 byte/],
    ];
    for (const [opts, msg] of cases) expect(() => runMsg(redir, prog, opts), String(msg)).toThrow(msg);
    expect(() => runSkb(skb, 'skb_verdict_map', { topology: topo((t) => (t.attach = ['redir_map'])) })).toThrow(/attach: skb_verdict_map is an sk_skb program/);
    expect(() => runMsg(skb, 'nope')).toThrow(/no program named "nope" \(programs: skb_parser, /);
  });

  it('sk_skb: verdict, redirect target and bytes after, for the skb p1 receives', () => {
    const r = runSkb(skb, 'skb_verdict_map_in', { mapEntries: [{ map: 'skb_cfg', key: 1, value: 3 }], data: Uint8Array.of(1, 2, 3) });
    expect(r).toMatchObject({ role: 'verdict', verdict: 'redirect', socket: 'p1', sizeIn: 3, sizeOut: 3, redirect: { map: 'skb_map', key: 3, flags: 1, direction: 'ingress', socket: 'p2' } });
    const p = runSkb(skb, 'skb_verdict_pass', { data: new TextEncoder().encode('abc') });
    expect(p.verdict).toBe('pass');
    expect(new TextDecoder().decode(p.dataOut)).toBe('Abc');
    expect(runSkb(skb, 'skb_parser', { mapEntries: [{ map: 'skb_cfg', key: 0, value: 7 }] })).toMatchObject({ role: 'stream_parser', retval: 7, verdict: null });
  });

  it('sk_skb with random topologies: the redirect names whatever socket the slot holds, or drops when it is empty', () => {
    fc.assert(
      fc.property(sockTopology(skb, 'skb_verdict_map'), fc.integer({ min: 0, max: 3 }), message({ maxLength: 32 }), (t, key, m) => {
        const r = runSkb(skb, 'skb_verdict_map', { data: m, topology: t, tier: 'interp', mapEntries: [{ map: 'skb_cfg', key: 1, value: key }] });
        const target = socketAt(t, 'skb_map', key);
        return target === null ? r.verdict === 'drop' : r.verdict === 'redirect' && r.redirect?.socket === target && r.redirect.direction === 'egress';
      }),
      { numRuns: 30 },
    );
  });
});
