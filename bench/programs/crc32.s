; CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320), bit by bit, of the buffer at r1, length r2.
  w0 = -1
  r4 = 0
loop:
  if r4 >= r2 goto out
  r5 = r1
  r5 += r4
  r6 = *(u8 *)(r5 +0)
  w0 ^= w6
  r7 = 8
bit:
  w8 = w0
  w8 &= 1
  w0 >>= 1
  if w8 == 0 goto next
  w0 ^= -306674912
next:
  r7 -= 1
  if r7 != 0 goto bit
  r4 += 1
  goto loop
out:
  w0 ^= -1
  exit
