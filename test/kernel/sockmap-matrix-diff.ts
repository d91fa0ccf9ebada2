// Whole built-in list, engine vs host kernel: every case of `bpfvm sockmap --all` (except "wait send mem" and the
// receiver-less skb case, whose outcome depends on timing) run by the engine (receiver after the sends) and on
// real loopback sockets through sockrun, compared on send returns, bytes/FNV-1a-64 at p2 (length only with push),
// byte counts at c1/p1/c2 and sk_msg run counts. Not part of `npm test` (it takes minutes); run by hand as root:
//   npx tsx test/kernel/sockmap-matrix-diff.ts sockmap_layout|sockhash_layout
import { loadCollectionFile } from '../../src/elf/index.js';
import { fnv1a64, runSockmapCase } from '../../src/sockmap-test/engine.js';
import { builtinGroups } from '../../src/sockmap-test/matrix.js';
import type { SockmapCaseOptions } from '../../src/sockmap-test/options.js';
import { runScenario, sockAvailability } from './sockrun.js';
import { toScenario } from './sockmap-case-scenario.js';

const avail = sockAvailability();
if (!avail.ok) {
  console.log(`skipped: ${avail.reason}`);
  process.exit(0);
}
const objName = process.argv[2] ?? 'sockmap_layout';
const spec = loadCollectionFile(new URL(`../../fixtures/v3/${objName}.o`, import.meta.url).pathname);
const test = objName === 'sockmap_layout' ? 'sendmsg' : 'sendpage';
let agree = 0, differ = 0;
for (const g of builtinGroups(true)) {
  for (const c0 of g.cases) {
    const o: SockmapCaseOptions = { ...c0, test, dataTest: true };
    if (o.txWaitMem || o.ktlsSkbDrop) continue;
    const { s, progNames } = toScenario(spec, o);
    const k = runScenario({ ...s, timeoutSec: 60, drainMs: 500 });
    const m = runSockmapCase(spec, o, { receive: 'after' });
    const sends = k.steps.filter((st) => st.op === 'sendmsg' || st.op === 'sendfile').map((st) => st.ret);
    const lengthOnly = o.txmsgEndPush > 0;
    const kp2 = k.sockets.p2!.data;
    const kv = JSON.stringify({ sends, p2: lengthOnly ? kp2.length : [kp2.length, fnv1a64(kp2)], o: ['c1', 'p1', 'c2'].map((n) => k.sockets[n]!.data.length), runs: k.statsEnabled ? progNames.slice(3).map((_, i) => k.progs[i + 3]!.runCnt) : null });
    const mv = JSON.stringify({ sends: m.sends, p2: lengthOnly ? m.sockets.p2.bytes : [m.sockets.p2.bytes, m.sockets.p2.fnv1a64], o: [m.sockets.c1.bytes, m.sockets.p1.bytes, m.sockets.c2.bytes], runs: k.statsEnabled ? progNames.slice(3).map((n) => m.runs[n]) : null });
    const short = (x: string) => x.replace(/(\d+,){6,}/g, (t) => `${t.slice(0, 20)}…,`);
    if (kv === mv) agree++;
    else { differ++; console.log('DIFF', g.title, JSON.stringify({ r: o.rate, i: o.iovCount, l: o.length, a: o.txmsgApply, c: o.txmsgCork }), '\n  K', short(kv), '\n  M', short(mv)); }
  }
}
console.log(objName, 'agree', agree, 'differ', differ);
