# sum 1..1000 (kernel/LLVM syntax; `lull asm sum.s -o sum.bin`)
r0 = 0
r1 = 1
loop:
r0 += r1
r1 += 1
if r1 <= 1000 goto loop
exit
