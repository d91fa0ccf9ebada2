// The sockmap-test engine's own pieces: FNV-1a-64, the built-in list's shape, layout resolution.
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { fnv1a64, resolveLayout, runSockmapCase, SockmapTestError } from '../../src/sockmap-test/engine.js';
import { builtinGroups } from '../../src/sockmap-test/matrix.js';
import { defaultCaseOptions } from '../../src/sockmap-test/options.js';

describe('sockmap-test engine', () => {
  it('FNV-1a 64 reference vectors', () => {
    const t = (s: string) => fnv1a64(new TextEncoder().encode(s));
    expect(t('')).toBe('cbf29ce484222325');
    expect(t('a')).toBe('af63dc4c8601ec8c');
    expect(t('foobar')).toBe('85944171f73967e8');
    expect(fnv1a64(new TextEncoder().encode('foo'), new TextEncoder().encode('bar'))).toBe(t('foobar'));
  });

  it('the built-in list: test_sockmap\'s groups and case counts (kTLS left out)', () => {
    const g = builtinGroups();
    expect(g.map((x) => [x.title, x.cases.length])).toEqual([
      ['txmsg test passthrough', 6], ['txmsg test redirect', 6], ['txmsg test redirect wait send mem', 1],
      ['txmsg test drop', 6], ['txmsg test ingress redirect', 6], ['txmsg test skb', 3], ['txmsg test apply', 12],
      ['txmsg test cork', 12], ['txmsg test hanging corks', 3], ['txmsg test push_data', 11],
      ['txmsg test pull-data', 17], ['txmsg test pop-data', 9], ['txmsg test push/pop data', 1],
      ['txmsg test ingress parser', 1], ['txmsg test ingress parser2', 1],
    ]);
    // knobs persist inside a group: "pull + redirect" still has the pass program selected
    const pull = g.find((x) => x.title === 'txmsg test pull-data')!.cases;
    expect(pull[7]).toMatchObject({ txmsg: true, txmsgRedir: true, txmsgStart: 1, txmsgEnd: 2 });
    // the pop + cork cases run without the data check even with --data_test
    expect(builtinGroups(true).find((x) => x.title === 'txmsg test pop-data')!.cases.map((c) => c.dataTest)).toEqual([true, true, true, true, true, false, false, false, false]);
  });

  it('layout: programs by role, and a clear error for objects without it', () => {
    const L = resolveLayout(loadCollectionFile(new URL('../../fixtures/v3/sockhash_layout.o', import.meta.url).pathname));
    expect([L.parser.name, L.verdict.name, L.sockops.name, L.msg.pass?.name, L.msg.redir?.name, L.msg.drop?.name, L.sockMapType]).toEqual(['bpf_prog1', 'bpf_prog2', 'bpf_sockmap', 'bpf_prog4', 'bpf_prog6', 'bpf_prog10', 18]);
    expect(() => resolveLayout(loadCollectionFile(new URL('../../fixtures/v3/sockops_insert.o', import.meta.url).pathname))).toThrow(SockmapTestError);
  });

  it('pass through the sk_skb parser/verdict (p1 redirects to c2) with the receiver reading after all sends: 512 KiB arrive intact', () => {
    // Regression: the backlog worker's egress send on c2 copied into the process's page fragment and restarted it
    // at offset 0 while c1 still held an unsent sk_msg element on that page (the last 27 bytes were overwritten).
    // The kernel's worker sends on its own task (own fragment; a native target references the skb's pages).
    const spec = loadCollectionFile(new URL('../../fixtures/v3/sockmap_layout.o', import.meta.url).pathname);
    const o = { ...defaultCaseOptions(), txmsg: true, rate: 2, iovCount: 32, length: 8192, dataTest: true };
    for (const receive of ['after', 'interleaved'] as const) {
      const r = runSockmapCase(spec, o, { receive });
      expect([receive, r.rx_err, r.tx_err, r.sends]).toEqual([receive, 0, 0, [262144, 262144]]);
      // the FNV-1a-64 the 6.18 host reports at p2 for this case (test/kernel/sockmap-matrix-diff.ts)
      expect(r.sockets.p2).toEqual({ bytes: 524288, fnv1a64: 'd51a3c145cba2325' });
    }
  });
});
