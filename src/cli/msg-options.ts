// Command-line options shared by `bpfvm run` and `bpfvm bench` for sk_msg programs, which run on one message
// through the socket model (src/kernel/prog-run.ts): --attach MAP, --map-slot MAP:KEY=SOCKET,
// --map-set MAP:KEY=VALUE.

import type { CollectionSpec, ProgramSpec } from '../spec.js';
import type { KeyInput, MapEntryInput, MsgTopology } from '../kernel/prog-run.js';
import { UsageError, parseHex } from './common.js';

export const MSG_OPTIONS = {
  attach: { type: 'string', multiple: true },
  'map-slot': { type: 'string', multiple: true },
  'map-set': { type: 'string', multiple: true },
} as const;

export const MSG_OPTIONS_HELP = `sk_msg and sk_skb programs run through bpfvm's socket model (README "bpfvm run for sk_msg and sk_skb
programs"): the data is --data-in (default: 64 bytes 00 01 … 3f); connections c1→p1 (127.0.0.1:10000) and
c2→p2 (:10001); every SOCKMAP/SOCKHASH of the object holds key 0 = c1, 1 = p1, 2 = c2, 3 = p2 by default.
sk_msg: c1 sends the message; the program is attached to the first sock map it uses. sk_skb: the program runs
on one skb holding the data, received by p1.
  --attach MAP              sk_msg: attach the program to MAP instead (repeatable)
  --map-slot MAP:KEY=SOCK   put socket SOCK (c1, p1, c2, p2) at KEY of MAP; replaces the default slots (repeatable)
  --map-set MAP:KEY=VALUE   write a plain map entry before the run (repeatable); KEY and VALUE are integers
                            (decimal or 0x…, little-endian in the map's key/value size) or hex:BYTES`;

/** KEY or VALUE of --map-slot / --map-set: an integer, or raw bytes as hex:…. */
function parseValue(text: string, what: string): KeyInput {
  if (text.startsWith('hex:')) return parseHex(text.slice(4), what);
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return BigInt(text);
  throw new UsageError(`${what}: "${text}" is not an integer (decimal or 0x…) or hex:BYTES`);
}

function splitEntry(text: string, option: string): { map: string; key: string; value: string } {
  const m = /^([^:=]+):([^=]+)=(.+)$/.exec(text);
  if (!m) throw new UsageError(`${option} takes MAP:KEY=VALUE (got "${text}")`);
  return { map: m[1]!, key: m[2]!, value: m[3]! };
}

/** Topology and map entries from the options; topology undefined = the default. */
export function msgRunInputs(
  list: (name: string) => string[],
  spec: CollectionSpec,
  prog: ProgramSpec,
  defaultTopology: (c: CollectionSpec, p: ProgramSpec) => MsgTopology,
): { topology?: MsgTopology; mapEntries: MapEntryInput[] } {
  const mapEntries = list('map-set').map((t) => {
    const e = splitEntry(t, '--map-set');
    return { map: e.map, key: parseValue(e.key, `--map-set ${t} key`), value: parseValue(e.value, `--map-set ${t} value`) };
  });
  const attach = list('attach');
  const slots = list('map-slot');
  if (attach.length === 0 && slots.length === 0) return { mapEntries };
  const topo = defaultTopology(spec, prog);
  if (attach.length > 0) topo.attach = attach;
  if (slots.length > 0) {
    topo.slots = slots.map((t) => {
      const e = splitEntry(t, '--map-slot');
      return { map: e.map, key: parseValue(e.key, `--map-slot ${t} key`), socket: e.value };
    });
  }
  return { topology: topo, mapEntries };
}
