// Which register representation should the interpreter use? This measures the FNV-1a-64 inner step
// (xor a byte, 64-bit multiply, add, compare) written the way an interpreter executes it, once with
// registers in a BigUint64Array and BigInt arithmetic, once with two Int32Arrays of 32-bit halves
// (the representation vm/interpreter.ts uses). Both compute the same hash; the check below makes sure.

import { measure, testBytes } from './lib.js';

const PRIME = 0x100000001b3n;
const BASIS = 0xcbf29ce484222325n;

function fnvBigInt(regs: BigUint64Array, data: Uint8Array): bigint {
  regs[0] = BASIS;
  regs[3] = PRIME;
  regs[4] = 0n;
  regs[2] = BigInt(data.length);
  while (regs[4]! < regs[2]!) {
    regs[6] = BigInt(data[Number(regs[4])]!);
    regs[0] = regs[0]! ^ regs[6]!;
    regs[0] = BigInt.asUintN(64, regs[0]! * regs[3]!);
    regs[4] = regs[4]! + 1n;
  }
  return regs[0]!;
}

function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const t = a0 * b0;
  const m1 = a1 * b0 + (t >>> 16);
  const m2 = a0 * b1 + (m1 & 0xffff);
  return (a1 * b1 + Math.floor(m1 / 65536) + Math.floor(m2 / 65536)) | 0;
}

function fnvHalves(L: Int32Array, H: Int32Array, data: Uint8Array): bigint {
  L[0] = 0x84222325 | 0; H[0] = 0xcbf29ce4 | 0;
  L[3] = 0x1b3; H[3] = 0x100;
  L[4] = 0; H[4] = 0;
  L[2] = data.length; H[2] = 0;
  while ((H[4]! >>> 0) < (H[2]! >>> 0) || (H[4] === H[2] && (L[4]! >>> 0) < (L[2]! >>> 0))) {
    L[6] = data[L[4]!]!; H[6] = 0;
    L[0] = L[0]! ^ L[6]!; H[0] = H[0]! ^ H[6]!;
    const a = L[0]!, b = L[3]!;
    H[0] = (mulhi(a >>> 0, b >>> 0) + Math.imul(a, H[3]!) + Math.imul(H[0]!, b)) | 0;
    L[0] = Math.imul(a, b);
    const s = (L[4]! >>> 0) + 1;
    L[4] = s | 0; H[4] = (H[4]! + (s >= 4294967296 ? 1 : 0)) | 0;
  }
  return (BigInt(H[0]! >>> 0) << 32n) | BigInt(L[0]! >>> 0);
}

export interface ReprResult {
  representation: string;
  nsPerByte: number;
}

export function runReprBench(opts: { quick?: boolean } = {}): ReprResult[] {
  const data = testBytes(1500);
  const regs = new BigUint64Array(11);
  const L = new Int32Array(11);
  const H = new Int32Array(11);
  if (fnvBigInt(regs, data) !== fnvHalves(L, H, data)) throw new Error('representations disagree');
  const o = opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5 } : {};
  const big = measure(() => void fnvBigInt(regs, data), o);
  const halves = measure(() => void fnvHalves(L, H, data), o);
  return [
    { representation: 'BigInt (BigUint64Array registers)', nsPerByte: big.medianNs / data.length },
    { representation: 'two int32 halves (Int32Array lo/hi)', nsPerByte: halves.medianNs / data.length },
  ];
}
