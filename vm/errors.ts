// Typed errors raised while running a program. A program never surfaces a raw JavaScript exception: every
// way it can go wrong at run time is one of these, carrying the instruction slot (`pc`) where it happened.

export { BpfDecodeError } from './isa.js';

/** Base of every run-time error. */
export class BpfRuntimeError extends Error {
  override name = 'BpfRuntimeError';
  constructor(
    readonly pc: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RegionInfo {
  name: string;
  start: bigint;
  end: bigint;
  writable: boolean;
}

/** A load or store outside every region, or a store to a read-only region. */
export class BpfMemoryFault extends BpfRuntimeError {
  override name = 'BpfMemoryFault';
  constructor(
    pc: number,
    readonly access: 'load' | 'store' | 'atomic',
    readonly address: bigint,
    readonly size: number,
    readonly reason: string,
    /** The region the address fell in or nearest to, and every mapped region, for the message. */
    readonly region: RegionInfo | null,
    readonly regions: RegionInfo[],
  ) {
    super(pc, describeFault(pc, access, address, size, reason, region, regions));
  }
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

function describeFault(
  pc: number,
  access: string,
  address: bigint,
  size: number,
  reason: string,
  region: RegionInfo | null,
  regions: RegionInfo[],
): string {
  let m = `pc ${pc}: invalid ${access} of ${size} byte${size === 1 ? '' : 's'} at ${hex(address)}: ${reason}`;
  if (region) {
    m += ` (region ${region.name} [${hex(region.start)}, ${hex(region.end)})${region.writable ? '' : ' read-only'})`;
  } else if (regions.length > 0) {
    m += '; mapped regions: ' + regions.map((r) => `${r.name} [${hex(r.start)}, ${hex(r.end)})`).join(', ');
  }
  return m;
}

/** The instruction budget ran out (a runaway or very long program). */
export class BpfBudgetExceeded extends BpfRuntimeError {
  override name = 'BpfBudgetExceeded';
  constructor(
    pc: number,
    readonly budget: number,
  ) {
    super(pc, `pc ${pc}: instruction budget of ${budget} exhausted`);
  }
}

/** Anything else that stops a run: unknown helper, call depth, bad tail call target, a helper's own failure. */
export class BpfExecutionError extends BpfRuntimeError {
  override name = 'BpfExecutionError';
  constructor(pc: number, readonly detail: string) {
    super(pc, `pc ${pc}: ${detail}`);
  }
}
