// The knobs of one test_sockmap case (tools/testing/selftests/bpf/test_sockmap.c), with the original's names in
// the comments. The CLI maps `--txmsg_apply N` and friends onto these fields one to one.

export type SendMode = 'sendmsg' | 'sendpage';

export interface SockmapCaseOptions {
  /** `--test`: sendmsg (sendmsg of iov_count buffers) or sendpage (sendfile of `length` bytes). */
  test: SendMode;
  /** `--rate`: number of send calls. */
  rate: number;
  /** `--iov_count`: buffers per sendmsg (ignored by sendpage). */
  iovCount: number;
  /** `--length`: bytes per buffer. */
  length: number;
  /** `--txmsg`: the pass program (txmsg_pass). */
  txmsg: boolean;
  /** `--txmsg_redir`: the redirect program. */
  txmsgRedir: boolean;
  /** `--txmsg_drop`: the drop program; every send must fail. */
  txmsgDrop: boolean;
  /** `--txmsg_apply N`: sock_apply_bytes[0]. */
  txmsgApply: number;
  /** `--txmsg_cork N`: sock_cork_bytes[0]. */
  txmsgCork: number;
  /** `--txmsg_start N` / `--txmsg_end N`: bpf_msg_pull_data range (sock_bytes[0], [1]). */
  txmsgStart: number;
  txmsgEnd: number;
  /** `--txmsg_start_push N` / `--txmsg_end_push N`: bpf_msg_push_data start and length (sock_bytes[2], [3]). */
  txmsgStartPush: number;
  txmsgEndPush: number;
  /** `--txmsg_start_pop N` / `--txmsg_pop N`: bpf_msg_pop_data start and length (sock_bytes[4], [5]). */
  txmsgStartPop: number;
  txmsgPop: number;
  /** `--txmsg_ingress`: redirect with BPF_F_INGRESS to p2 (sock_redir_flags[0], key 2). */
  txmsgIngress: boolean;
  /** `--txmsg_redir_skb`: the verdict redirects to sock_map[3] = p2 with BPF_F_INGRESS (sock_skb_opts[0]). */
  txmsgRedirSkb: boolean;
  /** `--txmsg_omit_skb_parser`: attach only the verdict to sock_map. */
  txmsgOmitSkbParser: boolean;
  /** `--peek`: the receiver peeks (MSG_PEEK) before each read. */
  peek: boolean;
  /** `--data_test`: send the byte pattern and verify it at the receiver. */
  dataTest: boolean;
  /** `--skb_use_parser N`: the parser's frame length (sock_skb_opts[2]). */
  skbUseParser: number;
  /** Built-in list only ("redirect wait send mem"): small c2/p2 buffers, receiver closes after the first read. */
  txWaitMem: boolean;
  /** Built-in list only ("ingress parser2"): receiving more than expected is a failure (EMSGSIZE). */
  checkRecvedLen: boolean;
  /** Built-in list only ("txmsg test skb" without kTLS): the receiver is not started. */
  ktlsSkbDrop: boolean;
}

/** test_sockmap's defaults for a single run: one send of one 1024-byte buffer, nothing attached to txmsg. */
export function defaultCaseOptions(): SockmapCaseOptions {
  return {
    test: 'sendmsg', rate: 1, iovCount: 1, length: 1024,
    txmsg: false, txmsgRedir: false, txmsgDrop: false, txmsgApply: 0, txmsgCork: 0, txmsgStart: 0, txmsgEnd: 0,
    txmsgStartPush: 0, txmsgEndPush: 0, txmsgStartPop: 0, txmsgPop: 0, txmsgIngress: false, txmsgRedirSkb: false,
    txmsgOmitSkbParser: false, peek: false, dataTest: false, skbUseParser: 0, txWaitMem: false,
    checkRecvedLen: false, ktlsSkbDrop: false,
  };
}

/** The option string test_sockmap prints for a case ("pass,apply 1,pop (1,3),ingress,"), for messages. */
export function describeCase(o: SockmapCaseOptions): string {
  const parts: string[] = [];
  if (o.txmsg) parts.push('pass');
  if (o.txmsgRedir) parts.push('redir');
  if (o.txmsgDrop) parts.push('drop');
  if (o.txmsgApply) parts.push(`apply ${o.txmsgApply}`);
  if (o.txmsgCork) parts.push(`cork ${o.txmsgCork}`);
  if (o.txmsgStart) parts.push(`start ${o.txmsgStart}`);
  if (o.txmsgEnd) parts.push(`end ${o.txmsgEnd}`);
  if (o.txmsgStartPush || o.txmsgEndPush) parts.push(`push (${o.txmsgStartPush},${o.txmsgStartPush + o.txmsgEndPush})`);
  if (o.txmsgStartPop) parts.push(`pop (${o.txmsgStartPop},${o.txmsgStartPop + o.txmsgPop})`);
  if (o.txmsgIngress) parts.push('ingress');
  if (o.txmsgRedirSkb) parts.push('redir_skb');
  if (o.peek) parts.push('peek');
  return `(${o.rate}, ${o.iovCount}, ${o.length}, ${o.test}, ${parts.join(',')})`;
}
