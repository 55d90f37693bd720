#!/usr/bin/env bash
# The model-description fuzzer's driver (make fuzz-models):
#
#   bash tests/fuzz/models/run.sh OUTDIR [SECONDS] [SEED]
#
# builds the runtime library (make runtime), then runs fuzz.lua for SECONDS
# (default 60) from SEED (default: $FUZZ_MODELS_SEED, else the time; the seed
# is printed, so a run can be repeated). Cases that found something are kept
# in OUTDIR/findings/; the exit status is non-zero on any finding.
# Environment: CC (cc) compiles the generated units, LUA (lua5.4).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 || $1 == -h || $1 == --help ]]; then
  echo "usage: bash tests/fuzz/models/run.sh OUTDIR [SECONDS] [SEED]" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=$1
SECONDS_BOUND=${2:-60}
SEED=${3:-${FUZZ_MODELS_SEED:-$(date +%s)}}
LUA=${LUA:-lua5.4}

# The Makefile's own flags for build/ (the runtime the generated units link).
env -u CFLAGS -u LDFLAGS make -s -C "$ROOT" runtime
RNNC_RUNTIME_LIB="$ROOT/build/librnnc.a" exec "$LUA" "$ROOT/tests/fuzz/models/fuzz.lua" --out "$OUT" \
  --seconds "$SECONDS_BOUND" --seed "$SEED"
