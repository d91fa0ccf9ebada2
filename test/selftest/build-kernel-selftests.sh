#!/usr/bin/env bash
# Builds the kernel's own verifier selftest objects (tools/testing/selftests/bpf/progs/verifier_*.c) from a
# Linux source tree, for `bpfvm test` and test/selftest/kernel-selftests.test.ts (BPFVM_SELFTESTS_DIR).
# The objects are built locally and never committed (GPL sources).
#
#   test/selftest/build-kernel-selftests.sh LINUX_SRC OUT_DIR [PATTERN]
#
# LINUX_SRC: an extracted kernel tree (e.g. `apt-get download linux-source-6.12`, then
# tar -xJf usr/src/linux-source-6.12.tar.xz linux-source-6.12/tools linux-source-6.12/scripts).
# PATTERN: which progs to build (default verifier_*). Needs clang-19, bpftool, python3 and
# /sys/kernel/btf/vmlinux (for vmlinux.h). Objects land in OUT_DIR/obj, compiler errors in OUT_DIR/logs.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
K=$(cd "$1" && pwd)
OUT=$(mkdir -p "$2" && cd "$2" && pwd)
PAT=${3:-verifier_*}
CLANG=${CLANG:-clang-19}
S=$K/tools/testing/selftests/bpf
mkdir -p "$OUT/obj" "$OUT/logs" "$OUT/inc/bpf"
[ -f "$OUT/vmlinux.h" ] || bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$OUT/vmlinux.h"
cp "$K"/tools/lib/bpf/*.h "$OUT/inc/bpf/"
python3 "$K/scripts/bpf_doc.py" --header --file "$K/tools/include/uapi/linux/bpf.h" > "$OUT/inc/bpf/bpf_helper_defs.h"
ok=0; bad=0
for f in "$S"/progs/$PAT.c; do
	n=$(basename "$f" .c)
	if "$CLANG" -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wno-compare-distinct-pointer-types \
		-I"$OUT" -I"$S/progs" -I"$S" -I"$K/tools/include/uapi" -I"$OUT/inc" -I"/usr/include/$(uname -m)-linux-gnu" \
		-c "$f" -o "$OUT/obj/$n.o" 2>"$OUT/logs/$n.err"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
done
echo "built $ok objects into $OUT/obj ($bad failed to compile: see $OUT/logs)"
