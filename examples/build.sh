#!/usr/bin/env bash
# Rebuilds the example objects (committed so the README's first command needs no clang).
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
for src in *.bpf.c; do
    "$CLANG" -target bpf -g -O2 -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o"
done
