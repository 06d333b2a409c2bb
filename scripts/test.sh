#!/usr/bin/env bash
# Runs every test of the workspace: first installs the Debian tools the tests use (when root), then
# `cargo test --workspace`. Tests that need something still missing say so and skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace "$@"
