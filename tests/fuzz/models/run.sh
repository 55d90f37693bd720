#!/usr/bin/env bash
# The model-description fuzzer's driver:
#
#   bash tests/fuzz/models/run.sh OUTDIR FUZZ.LUA-OPTIONS...
#
# builds the runtime library (make runtime), then runs fuzz.lua with OUTDIR
# and the options given (tests/fuzz/models/fuzz.lua says which: make test
# passes a fixed seed and case count, make fuzz-explore a fresh seed and a
# time). Cases that found something are kept in OUTDIR/findings/; the exit
# status is non-zero on any finding.
# Environment: CC (cc) compiles the generated units, LUA (lua5.4).
set -euo pipefail

if [[ $# -lt 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: bash tests/fuzz/models/run.sh OUTDIR FUZZ.LUA-OPTIONS..." >&2
  exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=$1
shift
LUA=${LUA:-lua5.4}

# The Makefile's own flags for build/ (the runtime the generated units link).
env -u CFLAGS -u LDFLAGS make -s -C "$ROOT" runtime
cd "$ROOT"
RNNC_RUNTIME_LIB="$ROOT/build/librnnc.a" exec "$LUA" tests/fuzz/models/fuzz.lua --out "$OUT" "$@"
