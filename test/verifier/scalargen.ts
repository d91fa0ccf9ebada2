// Random scalar programs whose result is used as a stack offset, for the verifier's soundness and kernel
// differential tests of the bounds logic. A tc program reads two packet-dependent values (the packet length and
// the first packet byte, behind a bounds check), runs a random mix of 64- and 32-bit ALU operations, moves,
// sign extensions and conditional exits over them, then loads a byte at `fp - 512 + rX`. The verifier accepts
// it only if it proved rX in [0, 511]; any value outside that range faults in the interpreter, so an accepted
// program that faults means unsound bounds. Seeded (xorshift32), loop-free, short.

export const TC = 3;

export function rng(seed: number): () => number {
  let a = seed >>> 0 || 1;
  return () => {
    a ^= a << 13;
    a >>>= 0;
    a ^= a >>> 17;
    a ^= a << 5;
    a >>>= 0;
    return a / 0x1_0000_0000;
  };
}

const ALU = ['+=', '-=', '*=', '&=', '|=', '^=', '<<=', '>>=', 's>>=', '/=', '%='] as const;
const CMP = ['>', '<', '>=', '<=', 's>', 's<', 's>=', 's<=', '==', '!=', '&'] as const;
const CONSTS = [0, 1, 2, 3, 7, 8, 15, 16, 63, 64, 100, 255, 256, 511, 512, 1000, 0x7fff, 0xffff, 0x7fffffff, -1, -2, -8, -64, -255, -512, -0x80000000];

/** One program's assembly text (kernel syntax, as `vm/asm.ts` reads it). */
export function genScalarProgram(seed: number): string {
  const R = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(R() * a.length)]!;
  const k = () => (R() < 0.7 ? pick(CONSTS) : Math.floor(R() * 2048) - 1024);
  const regs = [2, 4, 5];
  const out: string[] = [
    'r6 = r1',
    'r7 = *(u32 *)(r6 +76)',
    'r8 = *(u32 *)(r6 +80)',
    'r9 = r7',
    'r9 += 1',
    'if r9 > r8 goto out',
    'r4 = *(u8 *)(r7 +0)',
    'r2 = *(u32 *)(r6 +0)',
    'r5 = r4',
    'r5 ^= r2',
  ];
  const n = 3 + Math.floor(R() * 9);
  for (let i = 0; i < n; i++) {
    const d = pick(regs);
    const w = R() < 0.35;
    const r = (x: number) => `${w ? 'w' : 'r'}${x}`;
    const c = R();
    if (c < 0.45) {
      const op = pick(ALU);
      const shift = op.includes('<<') || op.includes('>>');
      if (shift) out.push(`${r(d)} ${op} ${Math.floor(R() * (w ? 32 : 64))}`);
      else if (op === '/=' || op === '%=') out.push(R() < 0.5 ? `${r(d)} ${op} ${Math.min(0x7fffffff, Math.max(1, Math.abs(k())))}` : `${r(d)} ${op} ${r(pick(regs))}`);
      else if (R() < 0.6) out.push(`${r(d)} ${op} ${k()}`);
      else out.push(`${r(d)} ${op} ${r(pick(regs))}`);
    } else if (c < 0.55) {
      out.push(`${r(d)} = ${r(pick(regs))}`);
    } else if (c < 0.62) {
      out.push(w ? `w${d} = (s${pick([8, 16])})w${pick(regs)}` : `r${d} = (s${pick([8, 16, 32])})r${pick(regs)}`);
    } else if (c < 0.68) {
      out.push(`${r(d)} = -${r(d)}`);
    } else {
      const op = pick(CMP);
      const rhs = R() < 0.7 ? String(k()) : r(pick(regs));
      out.push(`if ${r(d)} ${op} ${rhs} goto out`);
    }
  }
  const x = pick(regs);
  // sometimes clamp the register ourselves so that a good share of programs is accepted
  if (R() < 0.5) out.push(`if r${x} ${pick(['>', '>='])} ${pick([255, 511, 512, 600])} goto out`);
  if (R() < 0.4) out.push(`if r${x} s< ${pick([0, -1, 1])} goto out`);
  out.push('r3 = r10', 'r3 += -512', `r3 += r${x}`, 'r0 = *(u8 *)(r3 +0)', 'exit', 'out:', 'r0 = 0', 'exit');
  return out.join('\n');
}
