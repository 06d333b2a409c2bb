#!/usr/bin/env python3
"""Compares Lull's verification time with the kernel's over a directory of BPF objects.

For every program of every `*.bpf.o` in OBJDIR, Lull's time comes from `lull verify OBJ --json`
(`verification_time_ns`) and the kernel's from kload (`verification time N usec` of the
BPF_LOG_STATS log, loaded with `--name PROG`). Only programs the kernel's verifier actually ran
on (kload reports a time) count. Needs root for kload.

Usage: scripts/verify-timing.py OBJDIR [--lull PATH] [--kload PATH] [--top N]
Example:
  gcc -O2 -o /tmp/kload /work/shared/tools/kload/kload.c -lbpf -lelf -lz
  cargo build --release -p lull
  scripts/verify-timing.py target-harness/selftests-cache/obj-cpuv4-*/ --kload /tmp/kload
"""

import argparse
import glob
import json
import os
import subprocess
import sys


def lull_times(lull, obj):
    """Program name -> (accepted, ns) from `lull verify --json`."""
    p = subprocess.run([lull, "verify", obj, "--json"], capture_output=True, text=True)
    out = {}
    for line in p.stdout.splitlines():
        try:
            j = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "program" in j:
            out[j["program"]] = (j.get("accepted"), j.get("verification_time_ns", -1))
    return out


def kernel_time(kload, obj, name):
    """(accepted, ns) from kload, ns = -1 when the verifier did not run."""
    p = subprocess.run([kload, "--obj", obj, "--name", name], capture_output=True, text=True)
    try:
        j = json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None, -1
    return j.get("accepted"), j.get("verification_time_ns", -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("objdir")
    ap.add_argument("--lull", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "lull"))
    ap.add_argument("--kload", default="kload")
    ap.add_argument("--top", type=int, default=10, help="print the N slowest programs for Lull")
    a = ap.parse_args()
    objs = sorted(glob.glob(os.path.join(a.objdir, "*.bpf.o")))
    if not objs:
        sys.exit(f"no *.bpf.o in {a.objdir}")
    rows = []
    for obj in objs:
        for name, (lacc, lns) in lull_times(a.lull, obj).items():
            kacc, kns = kernel_time(a.kload, obj, name)
            if kns is None or kns < 0 or lns is None or lns < 0:
                continue
            rows.append((os.path.basename(obj), name, lacc, lns, kacc, kns))
    lsum = sum(r[3] for r in rows)
    ksum = sum(r[5] for r in rows)
    print(f"programs timed (kernel verifier ran): {len(rows)}")
    print(f"lull total:   {lsum / 1e6:10.3f} ms")
    print(f"kernel total: {ksum / 1e6:10.3f} ms")
    if ksum:
        print(f"ratio lull/kernel: {lsum / ksum:.3f}")
    for r in sorted(rows, key=lambda r: -r[3])[: a.top]:
        print(f"  {r[0]}:{r[1]}  lull {r[3] / 1e3:.0f} us  kernel {r[5] / 1e3:.0f} us")


if __name__ == "__main__":
    main()
