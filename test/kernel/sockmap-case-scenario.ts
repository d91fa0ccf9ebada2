// A `bpfvm sockmap` case (src/sockmap-test) as a sockrun scenario for the host kernel: the same maps and
// programs, sock_ops on the helper's private cgroup, listeners on 10000/10001, the same knob-array writes and the
// same send calls (sendmsg with the data-test pattern, or sendfile). Shared by test/model/sockmap-test-kernel.test.ts
// and the whole-list comparison script test/kernel/sockmap-matrix-diff.ts.
import type { CollectionSpec, ProgramSpec } from '../../src/spec.js';
import { resolveLayout } from '../../src/sockmap-test/engine.js';
import type { SockmapCaseOptions } from '../../src/sockmap-test/options.js';
import type { Scenario, ScenarioStep } from './sockrun.js';

/** The case as a sockrun scenario (what test_sockmap's run_options + sendmsg_test do, minus the receiver). */
export function toScenario(spec: CollectionSpec, o: SockmapCaseOptions, interleaved = false): { s: Scenario; progNames: string[] } {
  const L = resolveLayout(spec);
  const mi = (n: string): number => spec.maps.findIndex((m) => m.name === n);
  const progList: ProgramSpec[] = [L.parser, L.verdict, L.sockops];
  const role = o.txmsg ? 'pass' : o.txmsgRedir ? 'redir' : o.txmsgApply ? 'apply' : o.txmsgCork ? 'cork' : o.txmsgDrop ? 'drop' : null;
  if (role !== null) progList.push(L.msg[role]!);
  const int = (m: string, key: number, v: number): ScenarioStep => ({ op: 'mapUpdate', map: mi(m), key, value: v });
  const steps: ScenarioStep[] = [];
  if (!o.txmsgOmitSkbParser) steps.push({ op: 'attach', prog: 0, map: mi('sock_map'), attachType: 4 });
  steps.push(
    { op: 'attach', prog: 1, map: mi('sock_map'), attachType: 5 },
    { op: 'cgroupAttach', prog: 2 },
    { op: 'listen', name: 's1', port: 10000 },
    { op: 'listen', name: 's2', port: 10001 },
    { op: 'connect', name: 'c1', listener: 's1' },
    { op: 'connect', name: 'c2', listener: 's2' },
    { op: 'accept', name: 'p1', listener: 's1' },
    { op: 'accept', name: 'p2', listener: 's2' },
  );
  if (role !== null) {
    steps.push(
      { op: 'attach', prog: 3, map: mi('sock_map_txmsg'), attachType: 7 },
      { op: 'sockUpdate', map: mi('sock_map_txmsg'), key: 0, sock: 'c1' },
      { op: 'sockUpdate', map: mi('sock_map_redir'), key: 0, sock: o.txmsgRedir ? 'c2' : 'c1' },
    );
    if (o.txmsgApply) steps.push(int('sock_apply_bytes', 0, o.txmsgApply));
    if (o.txmsgCork) steps.push(int('sock_cork_bytes', 0, o.txmsgCork));
    if (o.txmsgStart) steps.push(int('sock_bytes', 0, o.txmsgStart));
    if (o.txmsgEnd) steps.push(int('sock_bytes', 1, o.txmsgEnd));
    if (o.txmsgStartPush) steps.push(int('sock_bytes', 2, o.txmsgStartPush));
    if (o.txmsgEndPush) steps.push(int('sock_bytes', 3, o.txmsgEndPush));
    steps.push(int('sock_bytes', 4, o.txmsgStartPop), int('sock_bytes', 5, o.txmsgPop));
    if (o.txmsgIngress) {
      steps.push(
        int('sock_redir_flags', 0, 1),
        { op: 'sockUpdate', map: mi('sock_map_txmsg'), key: 1, sock: 'p1' },
        { op: 'sockUpdate', map: mi('sock_map_redir'), key: 1, sock: 'p1' },
        { op: 'sockUpdate', map: mi('sock_map_redir'), key: 2, sock: 'p2' },
      );
    }
    if (o.txmsgRedirSkb) {
      steps.push(int('sock_skb_opts', 0, 1), { op: 'sockUpdate', map: mi('sock_map'), key: 3, sock: 'p2' });
    }
  }
  if (o.skbUseParser) steps.push(int('sock_skb_opts', 2, o.skbUseParser));
  for (let i = 0; i < o.rate; i++) {
    steps.push(o.test === 'sendpage' ? { op: 'sendfile', sock: 'c1', len: o.length } : { op: 'sendmsg', sock: 'c1', iovLen: o.length, iovCount: o.iovCount, flags: 0x4000 });
    // The engine's default receiver reads after every send (which lets the sender's page fragment be reused).
    if (interleaved) steps.push({ op: 'sleep', ms: 5 }, { op: 'recv', sock: 'p2', maxLen: 1 << 20, timeoutMs: 50 }, { op: 'recv', sock: 'p2', maxLen: 1 << 20, timeoutMs: 0 });
  }
  // test_sockmap's receiver waits in select() (0.3 s with cork) while bytes are missing; data that TCP holds
  // behind MSG_MORE with nothing in flight leaves on the probe timer (~200 ms) meanwhile. The engine's receiver
  // lets that virtual time pass; the kernel run waits as long before its final drain.
  if (o.txmsgCork) steps.push({ op: 'sleep', ms: 300 });
  const s: Scenario = {
    maps: spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags })),
    progs: progList.map((p) => ({ progType: p.type, ...(p.attachType !== undefined ? { expectedAttachType: p.attachType } : {}), insns: p.insns })),
    steps,
    drainMs: 300,
    // test_sockmap's fixed ports: a private network namespace keeps parallel runs apart
    netns: true,
  };
  return { s, progNames: progList.map((p) => p.name) };
}
