// The verifier log (struct bpf_verifier_log, kernel/bpf/log.c): an append-only text buffer that can be rewound
// (bpf_vlog_reset), which is how the kernel cuts finished branches out of a level-1 log and how it appends the
// `; R0=1` state column to an instruction line it already printed (print_insn_state).

export const BPF_LOG_LEVEL1 = 1;
export const BPF_LOG_LEVEL2 = 2;
export const BPF_LOG_LEVEL = BPF_LOG_LEVEL1 | BPF_LOG_LEVEL2;
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

export class VLog {
  /** Chunks of text; `len` is their total length (so rewinding a few bytes never copies the whole log). */
  private chunks: string[] = [];
  private len = 0;
  /** Position after the last printed instruction line (env->prev_log_pos). */
  prevLogPos = 0;
  /** Length of the last instruction line including its newline (env->prev_insn_print_pos). */
  prevInsnPrintPos = 0;

  constructor(readonly level: number) {}

  get enabled(): boolean {
    return this.level !== 0;
  }

  get pos(): number {
    return this.len;
  }

  verbose(s: string): void {
    if (!this.level || !s) return;
    this.chunks.push(s);
    this.len += s.length;
  }

  reset(pos: number): void {
    while (this.len > pos && this.chunks.length) {
      const last = this.chunks[this.chunks.length - 1]!;
      const start = this.len - last.length;
      if (start >= pos) {
        this.chunks.pop();
        this.len = start;
      } else {
        this.chunks[this.chunks.length - 1] = last.slice(0, pos - start);
        this.len = pos;
      }
    }
  }

  text(): string {
    const t = this.chunks.join('');
    this.chunks = [t];
    return t;
  }
}

/** vlog_alignment: padding so that the `;` of a state column lands at a multiple of 8 (at least column 39). */
export function vlogAlignment(pos: number): number {
  const BPF_LOG_MIN_ALIGNMENT = 4;
  const BPF_LOG_ALIGNMENT = 40;
  const m = Math.max(pos + BPF_LOG_MIN_ALIGNMENT, BPF_LOG_ALIGNMENT);
  return Math.ceil(m / 8) * 8 - pos - 1;
}

export interface VerifierStats {
  processed: number;
  maxStatesPerInsn: number;
  totalStates: number;
  peakStates: number;
}

/** print_verification_stats, the last line of every log. */
export function statsLine(s: VerifierStats): string {
  return `processed ${s.processed} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${s.maxStatesPerInsn} ` +
    `total_states ${s.totalStates} peak_states ${s.peakStates} mark_read 0\n`;
}
