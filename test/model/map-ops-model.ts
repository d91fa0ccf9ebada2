// The model side of the map-operation differential tests: runs test/kernel/mapops.ts commands on createMap maps
// and answers like mapops.c does (errno, bytes, handle).

import type { KernelMapCmd, KernelMapResult } from '../kernel/mapops.js';
import { BpfMapError, createMap, type BpfMap } from '../../src/kernel/maps/index.js';

/** Runs the commands on the model (a fresh set of maps after each reset), mirroring mapops.c. */
export function runModelMapOps(cmds: KernelMapCmd[], CPUS: number): KernelMapResult[] {
  let maps: BpfMap[] = [];
  return cmds.map((c): KernelMapResult => {
    const res = (fn: () => Uint8Array | void): KernelMapResult => {
      try {
        const b = fn();
        return b && b.length > 0 ? { errno: 0, bytes: b } : { errno: 0 };
      } catch (e) {
        if (e instanceof BpfMapError) return { errno: e.errno };
        throw e;
      }
    };
    switch (c.op) {
      case 'reset':
        maps = [];
        return { errno: 0 };
      case 'create':
        try {
          const m = createMap(
            { name: `m${maps.length}`, type: c.type, keySize: c.keySize, valueSize: c.valueSize, maxEntries: c.maxEntries, flags: c.flags ?? 0 },
            { nrCpus: CPUS, innerMap: c.inner !== undefined && c.inner >= 0 ? maps[c.inner] : undefined },
          );
          maps.push(m);
          return { errno: 0, handle: maps.length - 1 };
        } catch (e) {
          if (e instanceof BpfMapError) return { errno: e.errno };
          throw e;
        }
      case 'update':
        return res(() => maps[c.map]!.update(c.key, c.value, c.flags));
      case 'updateMap':
        return res(() => maps[c.map]!.update(c.key, maps[c.inner]!, c.flags));
      case 'lookup':
        return res(() => maps[c.map]!.lookup(c.key));
      case 'lookupAndDelete':
        return res(() => maps[c.map]!.lookupAndDelete(c.key, c.flags));
      case 'delete':
        return res(() => maps[c.map]!.delete(c.key));
      case 'next':
        return res(() => maps[c.map]!.getNextKey(c.key));
      case 'keys': {
        const ks = maps[c.map]!.keys();
        const out = new Uint8Array(ks.reduce((n, k) => n + k.length, 0));
        let o = 0;
        for (const k of ks) {
          out.set(k, o);
          o += k.length;
        }
        return out.length > 0 ? { errno: 0, bytes: out } : { errno: 0 };
      }
      case 'freeze':
        return res(() => maps[c.map]!.freeze());
    }
  });
}
