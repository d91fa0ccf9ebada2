/**
 * bpf_for_each_map_elem, bpf_spin_lock / unlock, bpf_timer_* and the cgroup / pid-namespace id helpers
 * (src/kernel/base-helpers.ts, timers.ts) against the host kernel: fixtures/v3|v4/callbacks.o is loaded by
 * libbpf (test/kernel/objrun.c: the programs need their BTF) and each tc program test-run once; bpfvm runs the
 * same programs with prepareTestRun on maps of its own. The results the programs store (.bss res[]), the map
 * contents (spin-lock values as user space reads them) and, for timers, what the callbacks did after the
 * kernel slept 50 ms / bpfvm advanced its virtual clock by 50 ms must agree.
 * Skips, with the reason in the suite name, without the kernel oracle or libbpf.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { CgroupArrayMap, Maps } from '../../src/kernel/maps/index.js';
import { prepareTestRun } from '../../src/kernel/testrun.js';
import { objrun, objrunAvailability, type ObjrunCmd } from './objrun.js';

const root = join(import.meta.dirname, '..', '..');
const avail = objrunAvailability();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** Where cgroup2 is mounted (null: nowhere). */
const cgroup2Mount = ((): string | null => {
  try {
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '));
    return line === undefined ? null : line.split(' ')[4]!;
  } catch {
    return null;
  }
})();
/** The cgroup v2 path of this process (bpfvm's test run stands for a task in the root cgroup). */
const cgroup2 = ((): string => {
  try {
    return /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
})();

/** The model's answer to a command sequence (same shape as objrun's). */
function modelRun(file: string, cmds: ObjrunCmd[]): unknown[] {
  const spec = loadCollectionFile(file);
  const maps = Maps.fromSpec(spec);
  const out: unknown[] = [];
  const prepared: ReturnType<typeof prepareTestRun>[] = [];
  for (const c of cmds) {
    if (c.op === 'run') {
      const p = spec.programs.find((x) => x.name === c.prog)!;
      const pr = prepareTestRun(p, new Uint8Array(64), { collection: spec, maps });
      prepared.push(pr);
      out.push({ run: c.prog, errno: 0, retval: Number(pr.runOnce().r0 & 0xffffffffn) });
    } else if (c.op === 'sleep') {
      for (const pr of prepared) pr.timers.advance(BigInt(c.ms) * 1_000_000n);
      out.push({ slept: c.ms });
    } else if (c.op === 'dump') {
      const m = maps.get(c.map);
      out.push({ map: c.map, entries: m.keys().map((k) => [hex(k), hex(m.lookup(k))]) });
    } else if (c.op === 'lookup') {
      try {
        out.push({ lookup: c.map, errno: 0, value: hex(maps.get(c.map).lookup(c.key, c.flags)) });
      } catch (e) {
        out.push({ lookup: c.map, errno: (e as { errno: number }).errno, value: '' });
      }
    } else if (c.op === 'update_fd') {
      // The fd of the cgroup2 mount's root directory: the model's root cgroup.
      const m = maps.get(c.map) as CgroupArrayMap;
      m.cgroupOfFd = (fd) => (fd === 1000 ? { path: '/' } : null);
      try {
        m.update(c.key, Uint8Array.of(0xe8, 3, 0, 0), 0);
        out.push({ update: c.map, errno: 0 });
      } catch (e) {
        out.push({ update: c.map, errno: (e as { errno: number }).errno });
      }
    } else if (c.op === 'update') {
      try {
        maps.get(c.map).update(c.key, c.value, c.flags);
        out.push({ update: c.map, errno: 0 });
      } catch (e) {
        out.push({ update: c.map, errno: (e as { errno: number }).errno });
      }
    }
  }
  return out;
}

/** Blanks the u64 at byte `off` of every value of the dumps of `map` (machine-dependent: bpf_ktime_get_ns). */
function blank(answers: unknown[], map: string, off: number): unknown[] {
  return answers.map((a) => {
    const d = a as { map?: string; entries?: [string, string][] };
    if (d.map !== map || d.entries === undefined) return a;
    return { ...d, entries: d.entries.map(([k, v]) => [k, v.slice(0, 2 * off) + '*'.repeat(16) + v.slice(2 * off + 16)]) };
  });
}

describe.skipIf(!avail.ok)(`callback and special-field helpers: bpfvm = kernel${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  for (const cpu of ['v3', 'v4']) {
    it(`${cpu}: for_each_map_elem, spin locks, timer return codes and firing, cgroup / pidns ids`, () => {
      const file = join(root, 'fixtures', cpu, 'callbacks.o');
      const cmds: ObjrunCmd[] = [
        { op: 'run', prog: 'fe_array' }, { op: 'dump', map: '.bss' }, { op: 'dump', map: 'arr' },
        { op: 'run', prog: 'fe_hash' }, { op: 'dump', map: '.bss' }, { op: 'dump', map: 'hmap' },
        { op: 'run', prog: 'lock_count' }, { op: 'run', prog: 'lock_count' }, { op: 'dump', map: '.bss' }, { op: 'dump', map: 'larr' }, { op: 'dump', map: 'lhash' },
        { op: 'lookup', map: 'lhash', key: Uint8Array.of(9, 0, 0, 0), flags: 4 }, { op: 'lookup', map: 'hmap', key: Uint8Array.of(1, 0, 0, 0), flags: 4 },
        { op: 'run', prog: 'timer_codes' }, { op: 'dump', map: '.bss' },
        // user space: BPF_F_LOCK updates, task / cgroup storage keyed by fds that are no pidfd / cgroup fd
        { op: 'update', map: 'larr', key: Uint8Array.of(0, 0, 0, 0), value: new Uint8Array(24).fill(7), flags: 4 },
        { op: 'update', map: 'arr', key: Uint8Array.of(0, 0, 0, 0), value: new Uint8Array(8), flags: 4 },
        { op: 'update', map: 'lhash', key: Uint8Array.of(9, 0, 0, 0), value: new Uint8Array(24).fill(8), flags: 4 | 2 },
        { op: 'update', map: 'lhash', key: Uint8Array.of(5, 0, 0, 0), value: new Uint8Array(24).fill(8), flags: 4 | 2 },
        { op: 'dump', map: 'larr' }, { op: 'dump', map: 'lhash' },
        { op: 'update', map: 'tarr', key: Uint8Array.of(3, 0, 0, 0), value: new Uint8Array(32).fill(5), flags: 0 }, { op: 'dump', map: 'tarr' },
        { op: 'lookup', map: 'tstore', key: Uint8Array.of(0, 0, 0, 0), flags: 0 },
        { op: 'update', map: 'tstore', key: Uint8Array.of(99, 0, 0, 0), value: new Uint8Array(8), flags: 0 },
        { op: 'lookup', map: 'cstore', key: Uint8Array.of(0, 0, 0, 0), flags: 0 },
        { op: 'update', map: 'cstore', key: Uint8Array.of(0, 0, 0, 0), value: new Uint8Array(24), flags: 4 },
        { op: 'run', prog: 'timer_arm' }, { op: 'dump', map: '.bss' }, { op: 'sleep', ms: 50 }, { op: 'dump', map: 'tarr' }, { op: 'dump', map: 'thash' },
        // The cgroup ids only agree when the kernel runs us in the root cgroup (as bpfvm's test run assumes).
        ...(cgroup2 === '/' ? ([{ op: 'run', prog: 'ids' }, { op: 'dump', map: '.bss' }] as ObjrunCmd[]) : []),
        // bpf_current_task_under_cgroup: empty slots (-EAGAIN), past the end (-E2BIG), the root cgroup (1)
        { op: 'run', prog: 'under' }, { op: 'dump', map: '.bss' },
        { op: 'lookup', map: 'cga', key: Uint8Array.of(0, 0, 0, 0), flags: 0 },
        ...(cgroup2 === '/' && cgroup2Mount !== null
          ? ([
              { op: 'update_fd', map: 'cga', key: Uint8Array.of(0, 0, 0, 0), path: cgroup2Mount },
              { op: 'update_fd', map: 'cga', key: Uint8Array.of(9, 0, 0, 0), path: cgroup2Mount },
              { op: 'run', prog: 'under' }, { op: 'dump', map: '.bss' },
            ] as ObjrunCmd[])
          : []),
      ];
      if (cgroup2 !== '/') console.log(`the cgroup ids are not compared: this process is in cgroup ${cgroup2}, not the root`);
      const k = objrun(file, cmds);
      expect(k.loaded, k.log).toBe(true);
      const kernel = blank(blank(k.answers, 'tarr', 24), 'thash', 24);
      const model = blank(blank(modelRun(file, cmds), 'tarr', 24), 'thash', 24);
      let same = 0;
      cmds.forEach((c, i) => {
        if (JSON.stringify(kernel[i]) === JSON.stringify(model[i])) same++;
        else console.log(`${cpu} ${JSON.stringify(c)}: kernel ${JSON.stringify(kernel[i])} bpfvm ${JSON.stringify(model[i])}`);
      });
      console.log(`${cpu}: ${same}/${cmds.length} answers agree with the kernel`);
      expect(model).toEqual(kernel);
    });
  }
});
