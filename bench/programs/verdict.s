; A short verdict program in the style of an sk_msg/sk_skb policy: looks at a 4-byte magic, a version
; byte and a 16-bit length at the start of the buffer at r1 (length r2), returns 1 (pass) or 0 (drop).
  r0 = 0
  if r2 < 8 goto out
  r3 = *(u32 *)(r1 +0)
  if r3 != 0x31425046 goto out
  r4 = *(u8 *)(r1 +4)
  if r4 > 2 goto out
  r5 = *(u16 *)(r1 +6)
  r5 = be16 r5
  r6 = r2
  r6 -= 8
  if r5 > r6 goto out
  r7 = *(u8 *)(r1 +5)
  r7 &= 3
  if r7 == 3 goto out
  r0 = 1
out:
  exit
