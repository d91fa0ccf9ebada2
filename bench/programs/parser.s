; A branchy byte classifier: counts digits, lower-case letters, upper-case letters, spaces and other bytes
; of the buffer at r1 (length r2) and returns a checksum of the counts.
  r3 = 0            ; digits
  r4 = 0            ; lower
  r5 = 0            ; upper
  r6 = 0            ; space
  r7 = 0            ; other
  r8 = 0            ; index
loop:
  if r8 >= r2 goto out
  r9 = r1
  r9 += r8
  r0 = *(u8 *)(r9 +0)
  r8 += 1
  if r0 < 48 goto not_digit
  if r0 > 57 goto not_digit
  r3 += 1
  goto loop
not_digit:
  if r0 < 97 goto not_lower
  if r0 > 122 goto not_lower
  r4 += 1
  goto loop
not_lower:
  if r0 < 65 goto not_upper
  if r0 > 90 goto not_upper
  r5 += 1
  goto loop
not_upper:
  if r0 == 32 goto space
  if r0 == 9 goto space
  if r0 == 10 goto space
  r7 += 1
  goto loop
space:
  r6 += 1
  goto loop
out:
  r0 = r3
  r0 <<= 8
  r0 ^= r4
  r0 <<= 8
  r0 ^= r5
  r0 <<= 8
  r0 ^= r6
  r0 <<= 8
  r0 ^= r7
  exit
