// Bob Jenkins' lookup3 hash as the kernel uses it (include/linux/jhash.h): `jhash` over bytes and `jhash2` over
// 32-bit words. Hash maps pick their bucket with it (hashtab.c htab_map_hash: jhash2 when the key length is a
// multiple of 4, jhash otherwise), so with the same seed the model walks buckets in the kernel's order.

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// a, b, c live in this scratch array so mix/final stay allocation-free.
const st = new Int32Array(3);

function mix(): void {
  let a = st[0]!, b = st[1]!, c = st[2]!;
  a = (a - c) | 0; a ^= rol32(c, 4); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol32(a, 6); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol32(b, 8); b = (b + a) | 0;
  a = (a - c) | 0; a ^= rol32(c, 16); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol32(a, 19); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol32(b, 4); b = (b + a) | 0;
  st[0] = a; st[1] = b; st[2] = c;
}

function final(): void {
  let a = st[0]!, b = st[1]!, c = st[2]!;
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  st[0] = a; st[1] = b; st[2] = c;
}

function le32(k: Uint8Array, i: number): number {
  return k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24);
}

/** jhash(key, length, initval) over bytes (little-endian word loads, as on x86). Returns an unsigned 32-bit value. */
export function jhash(k: Uint8Array, initval: number): number {
  let length = k.length;
  const init = (JHASH_INITVAL + length + initval) | 0;
  st[0] = init; st[1] = init; st[2] = init;
  let i = 0;
  while (length > 12) {
    st[0] = (st[0]! + le32(k, i)) | 0;
    st[1] = (st[1]! + le32(k, i + 4)) | 0;
    st[2] = (st[2]! + le32(k, i + 8)) | 0;
    mix();
    length -= 12;
    i += 12;
  }
  if (length === 0) return st[2]! >>> 0;
  // The tail: bytes 8..11 go to c, 4..7 to b, 0..3 to a, each at its byte position.
  for (let j = length - 1; j >= 0; j--) {
    const v = k[i + j]! << ((j & 3) * 8);
    const w = j >> 2;
    st[w] = (st[w]! + v) | 0;
  }
  final();
  return st[2]! >>> 0;
}

/** jhash2(words, length_in_words, initval): the key as little-endian u32 words (its length a multiple of 4). */
export function jhash2(k: Uint8Array, initval: number): number {
  let words = k.length >> 2;
  const init = (JHASH_INITVAL + (words << 2) + initval) | 0;
  st[0] = init; st[1] = init; st[2] = init;
  let i = 0;
  while (words > 3) {
    st[0] = (st[0]! + le32(k, i)) | 0;
    st[1] = (st[1]! + le32(k, i + 4)) | 0;
    st[2] = (st[2]! + le32(k, i + 8)) | 0;
    mix();
    words -= 3;
    i += 12;
  }
  if (words === 0) return st[2]! >>> 0;
  for (let j = 0; j < words; j++) st[j] = (st[j]! + le32(k, i + 4 * j)) | 0;
  final();
  return st[2]! >>> 0;
}

/** hashtab.c htab_map_hash. */
export function htabHash(key: Uint8Array, seed: number): number {
  return key.length % 4 === 0 ? jhash2(key, seed) : jhash(key, seed);
}
