// What bpfvm's loader reports against what the kernel got when libbpf (through bpftool) loaded the same
// object: program names and types, and every map's type, key/value size, max_entries and flags.
// Skipped, with the reason, where bpf() is not permitted or bpftool is not installed. Objects bpftool's libbpf
// cannot load as a whole are left out, each with its reason.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { mapTypeName } from '../../src/kernel/maps/constants.js';
import { kernelAvailability } from '../kernel/oracle.js';

const root = join(import.meta.dirname, '..', '..');

const LEFT_OUT: Record<string, string> = {
  'legacy_maps.o': 'libbpf >= 1.0 refuses legacy `maps` sections',
  'legacy_sections.o': 'libbpf cannot type sk_skb1/sk_msg1 sections, and the object mixes program types',
  'verifier_reject.o': 'holds programs the kernel rejects, so loadall fails by design',
  'selftest_annotations.o': 'holds __failure programs the kernel rejects, so loadall fails by design',
};
/** Objects whose section names libbpf 1.1 does not know: loaded with bpftool's `type` override. */
const TYPE_OVERRIDE: Record<string, string> = { 'sk_skb_redirect.o': 'sk_skb', 'sk_skb_framing.o': 'sk_skb' };

function unavailable(): string | null {
  const k = kernelAvailability();
  if (!k.ok) return k.reason;
  const b = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
  if (b.error || b.status !== 0) return 'bpftool is not installed (apt-get install bpftool)';
  // A private bpffs for the pins: needs mount permission (root outside a restricted container).
  const probe = mkdtempSync(join(tmpdir(), 'bpfvm-bpffs-probe-'));
  try {
    const m = spawnSync('mount', ['-t', 'bpf', 'bpf', probe], { encoding: 'utf8' });
    if (m.error || m.status !== 0) return `cannot mount a private bpffs (${(m.stderr || m.error?.message || '').trim()})`;
    spawnSync('umount', [probe]);
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  return null;
}
const why = unavailable();

let mnt = '';
describe.skipIf(why !== null)(`loader agrees with what libbpf gave the kernel${why ? ` — skipped: ${why}` : ''}`, () => {
  beforeAll(() => {
    mnt = mkdtempSync(join(tmpdir(), 'bpfvm-bpffs-'));
    const m = spawnSync('mount', ['-t', 'bpf', 'bpf', mnt], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot mount a private bpffs at ${mnt}: ${m.stderr}`);
  });
  afterAll(() => {
    if (!mnt) return;
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  const dir = join(root, 'fixtures', 'v3');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.o') && !(x in LEFT_OUT)).sort()) {
    it(f, () => {
      const spec = loadCollectionFile(join(dir, f));
      const progDir = join(mnt, `${basename(f, ".o")}_progs`); // bpffs refuses names with dots
      const mapDir = join(mnt, `${basename(f, ".o")}_maps`);
      const args = ['prog', 'loadall', join(dir, f), progDir];
      if (TYPE_OVERRIDE[f]) args.push('type', TYPE_OVERRIDE[f]);
      args.push('pinmaps', mapDir);
      const load = spawnSync('bpftool', args, { encoding: 'utf8' });
      expect(load.status, load.stderr).toBe(0);
      try {
        const progs = readdirSync(progDir).sort().map((name) => {
          const r = spawnSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(progDir, name)], { encoding: 'utf8' });
          const j = JSON.parse(r.stdout) as { name: string; type: string };
          return `${j.name} ${j.type}`;
        });
        // bpftool prints the full name from BTF func info (the kernel's own name field keeps 15 characters).
        const ours = spec.programs.map((p) => `${p.name} ${p.typeName}`).sort();
        expect(progs.sort()).toEqual(ours);

        const objPrefix = basename(f, '.o').slice(0, 8);
        const maps = (spec.maps.length === 0 ? [] : readdirSync(mapDir)).map((name) => {
          const r = spawnSync('bpftool', ['-j', 'map', 'show', 'pinned', join(mapDir, name)], { encoding: 'utf8' });
          const j = JSON.parse(r.stdout) as { name: string; type: string | number; bytes_key: number; bytes_value: number; max_entries: number; flags: number };
          // An older bpftool prints the number of a map type newer than itself (e.g. 32, cgrp_storage).
          const type = typeof j.type === 'number' || /^\d+$/.test(j.type) ? mapTypeName(Number(j.type)) : j.type;
          return `${j.name} ${type} ${j.bytes_key} ${j.bytes_value} ${j.max_entries} ${j.flags}`;
        });
        // libbpf names global data maps "<8 chars of the object name><section>", e.g. global_d.bss.
        const kernelName = (n: string): string => (n.startsWith('.') ? objPrefix + n : n).slice(0, 15);
        const ourMaps = spec.maps.map((m) => `${kernelName(m.name)} ${m.typeName} ${m.keySize} ${m.valueSize} ${m.maxEntries} ${m.flags}`);
        expect(maps.sort()).toEqual(ourMaps.sort());
      } finally {
        rmSync(progDir, { recursive: true, force: true });
        rmSync(mapDir, { recursive: true, force: true });
      }
    });
  }
});
