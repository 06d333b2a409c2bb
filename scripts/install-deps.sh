#!/usr/bin/env bash
# Installs the Debian packages Lull's tests use: clang-19/llvm-19 build the BPF C fixtures and the
# kernel selftests corpus, libbpf-dev is the libbpf oracle, bpftool generates vmlinux.h, and
# linux-source-6.12 holds the kernel's verifier selftests. Idempotent; quiet when all is present.
set -euo pipefail
pkgs=(clang-19 llvm-19 libbpf-dev libelf-dev zlib1g-dev bpftool linux-source-6.12 pkg-config)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "all Debian packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (not root: install them yourself; tests that need them will say they skip)" >&2
    exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
