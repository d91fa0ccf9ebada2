; FNV-1a 64-bit hash of the buffer at r1, length r2.
  r0 = 0xcbf29ce484222325
  r3 = 0x100000001b3
  r4 = 0
loop:
  if r4 >= r2 goto out
  r5 = r1
  r5 += r4
  r6 = *(u8 *)(r5 +0)
  r0 ^= r6
  r0 *= r3
  r4 += 1
  goto loop
out:
  exit
