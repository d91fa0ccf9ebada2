// 32-bit-halves arithmetic shared by the interpreter and the JavaScript tier, so both compute exactly the
// same results from one definition.

/** High 32 bits of the unsigned 64-bit product of two unsigned 32-bit numbers (16-bit limbs, no BigInt). */
export function mulhiU32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const t = a0 * b0;
  const m1 = a1 * b0 + (t >>> 16);
  const m2 = a0 * b1 + (m1 & 0xffff);
  // m1 and m2 are below 2^33, so the divisions by 2^16 stay below 2^17 and `| 0` truncates them exactly.
  return (a1 * b1 + ((m1 / 65536) | 0) + ((m2 / 65536) | 0)) | 0;
}

export function bswap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

export function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/**
 * 32-bit division or modulo of low words, as the kernel defines them: by zero the quotient is 0 and the
 * remainder the dividend; signed INT_MIN / -1 is INT_MIN and its remainder 0. The caller zero-extends.
 */
export function div32(dv: number, sv: number, signed: boolean, mod: boolean): number {
  if (sv === 0) return mod ? dv : 0;
  if (signed) {
    if (sv === -1) return mod ? 0 : -dv | 0;
    return mod ? dv % sv | 0 : Math.trunc(dv / sv) | 0;
  }
  const a = dv >>> 0;
  const b = sv >>> 0;
  return (mod ? a % b : Math.floor(a / b)) | 0;
}
