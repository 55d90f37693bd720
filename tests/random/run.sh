#!/usr/bin/env bash
# Random-model tests of the generated code against the reference runtime.
#
#   bash tests/random/run.sh OUTDIR [SEED] [COUNT]
#
# 1. builds the runtime (make runtime -> build/librnnc.a);
# 2. writes COUNT (default 90) random model files OUTDIR/rNN.lua
#    (make_models.lua, SEED: Sequential and functional chains of SimpleRNN,
#    LSTM, GRU, Bidirectional, Dense, TimeDistributed; front-end models fNN;
#    Embedding models eNN, whose tokens the test draws as int32) and prints the options
#    drawn (kept in OUTDIR/coverage.txt), and COUNT / 3 random functional
#    graphs OUTDIR/gNN.lua (make_graphs.lua: merges, fan-out, shared layers,
#    several inputs, outputs and losses);
# 3. generates every model twice, OUTDIR/gen/rNN_f64.{h,c} and rNN_f32.{h,c},
#    with the batch size the model file records;
# 4. writes OUTDIR/gen/models.{h,c}, the table of the units' descriptors;
# 5. compiles every generated unit with -std=c99 -Wall -Wextra -Werror
#    -pedantic (the generated code must compile without a warning), the table
#    and tests/random/test_generated.c, links them with the runtime, cmocka
#    and libm, and runs the test program OUTDIR/test_generated.
#
# Environment: CC (cc), CFLAGS (-O1), LDFLAGS, JOBS (parallel jobs, nproc),
# UNROLL (when set, passed as --unroll to bin/rnnc generate: 0 lowers every op
# to loops, a large value unrolls everything; unset, the generator's default),
# FORMAT (which units rnnc formats with clang-format: f64 (default), all or
# none; the others get --no-format. Formatting is whitespace only but takes
# most of the generation time; by default the float64 units are compiled as
# users get them by default and the float32 units as --no-format leaves them,
# so both must compile without a warning).
# CFLAGS and LDFLAGS reach every compile and the link, e.g.
#   CFLAGS="-O1 -g -fsanitize=address,undefined" LDFLAGS="-fsanitize=address,undefined" \
#     bash tests/random/run.sh build/random-asan
# When CFLAGS asks for a sanitizer, the runtime is compiled again with the same
# flags into OUTDIR (build/librnnc.a is left as the Makefile builds it).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 || $1 == -h || $1 == --help ]]; then
  echo "usage: bash tests/random/run.sh OUTDIR [SEED] [COUNT]" >&2
  exit 2
fi
OUT=${1%/}
SEED=${2:-}
COUNT=${3:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/random
GEN=$OUT/gen
OBJ=$OUT/obj
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O1}
LDFLAGS=${LDFLAGS:-}
LUA=${LUA:-lua5.4}
UNROLL=${UNROLL:-}
FORMAT=${FORMAT:-f64}
case $FORMAT in
f64 | all | none) ;;
*)
  echo "run.sh: FORMAT must be f64, all or none" >&2
  exit 2
  ;;
esac
WARN="-std=c99 -Wall -Wextra -Werror -pedantic"
START=$(date +%s.%N)

phase() {
  awk -v what="$1" -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "== %s (%.1fs)\n", what, e - s }'
}

phase "runtime: make runtime"
# The Makefile's own flags for build/: the environment's CFLAGS are for this run.
env -u CFLAGS -u LDFLAGS make -s -C "$ROOT" runtime

phase "models"
mkdir -p "$OUT"
rm -rf "$GEN" "$OBJ"
mkdir -p "$GEN" "$OBJ"
# shellcheck disable=SC2086  # SEED and COUNT are optional words
"$LUA" "$HERE/make_models.lua" "$OUT" $SEED $COUNT
# functional graphs (merges, fan-out, shared layers, several outputs and
# losses): a third as many, appended to models.txt
GRAPHS=${GRAPHS:-$(((${COUNT:-90} + 2) / 3))}
"$LUA" "$HERE/make_graphs.lua" "$OUT" "${SEED:-20240611}" "$GRAPHS"
mapfile -t MODELS < <(awk 'NF { print $1 }' "$OUT/models.txt")

phase "generate ${#MODELS[@]} models x {float64, float32} (formatted: $FORMAT)"
generate_one() { # name batch dtype suffix
  local log
  local extra=()
  if [[ -n $UNROLL ]]; then extra=(--unroll "$UNROLL"); fi
  if [[ $FORMAT == none || ($FORMAT == f64 && $4 == f32) ]]; then extra+=(--no-format); fi
  if ! log=$("$ROOT/bin/rnnc" generate "$OUT/$1.lua" -o "$GEN" --dtype "$3" --batch "$2" \
    --name "$1_$4" "${extra[@]}" 2>&1); then
    echo "FAILED: bin/rnnc generate $OUT/$1.lua -o $GEN --dtype $3 --batch $2 --name $1_$4" \
      "${extra[*]}" >&2
    echo "$log" >&2
    return 1
  fi
}
export -f generate_one
export ROOT OUT GEN UNROLL FORMAT
# shellcheck disable=SC2016  # $@ is expanded by the inner bash
awk 'NF { print $1, $2, "float64", "f64"; print $1, $2, "float32", "f32" }' "$OUT/models.txt" |
  xargs -P "$JOBS" -n 4 bash -c 'generate_one "$@"' _

phase "descriptor table"
{
  echo "/* Written by tests/random/run.sh: the descriptors of the generated units. */"
  echo "#ifndef RNNC_RANDOM_MODELS_H"
  echo "#define RNNC_RANDOM_MODELS_H"
  echo "#include \"rnnc.h\""
  echo "extern const rnnc_model *const rnnc_test_models[];"
  echo "extern const char *const rnnc_test_model_files[]; /* the model file of each unit */"
  echo "extern const int rnnc_test_model_count;"
  echo "#endif"
} >"$GEN/models.h"
{
  echo "/* Written by tests/random/run.sh. */"
  echo "#include \"models.h\""
  for m in "${MODELS[@]}"; do
    echo "#include \"${m}_f64.h\""
    echo "#include \"${m}_f32.h\""
  done
  echo "const rnnc_model *const rnnc_test_models[] = {"
  for m in "${MODELS[@]}"; do
    echo "    &${m}_f64_model,"
    echo "    &${m}_f32_model,"
  done
  echo "};"
  echo "const char *const rnnc_test_model_files[] = {"
  for m in "${MODELS[@]}"; do
    echo "    \"$OUT/$m.lua\","
    echo "    \"$OUT/$m.lua\","
  done
  echo "};"
  echo "const int rnnc_test_model_count = $((2 * ${#MODELS[@]}));"
} >"$GEN/models.c"

LIB="$ROOT/build/librnnc_ref.a $ROOT/build/librnnc.a"
SOURCES=()
for m in "${MODELS[@]}"; do
  SOURCES+=("$GEN/${m}_f64.c" "$GEN/${m}_f32.c")
done
SOURCES+=("$GEN/models.c" "$HERE/test_generated.c")
if [[ $CFLAGS == *-fsanitize* ]]; then
  # An instrumented copy of the runtime and the reference runtime.
  SOURCES+=("$ROOT"/runtime/*.c "$ROOT"/runtime/reference/*.c)
  LIB=
fi

phase "compile ${#SOURCES[@]} C files: $CC $CFLAGS $WARN"
compile_one() { # source
  local obj
  obj=$OBJ/$(basename "$1" .c).o
  # shellcheck disable=SC2086  # flags are lists of words
  if ! $CC $CFLAGS $WARN -I"$ROOT/runtime" -I"$ROOT/runtime/reference" -I"$GEN" -c "$1" -o "$obj"; then
    echo "FAILED: $CC $CFLAGS $WARN -I$ROOT/runtime -I$ROOT/runtime/reference -I$GEN -c $1" >&2
    return 1
  fi
}
export -f compile_one
export CC CFLAGS WARN OBJ
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
printf '%s\n' "${SOURCES[@]}" | xargs -P "$JOBS" -n 1 bash -c 'compile_one "$1"' _

phase "link"
OBJS=()
for s in "${SOURCES[@]}"; do
  OBJS+=("$OBJ/$(basename "$s" .c).o")
done
# shellcheck disable=SC2086
$CC $CFLAGS "${OBJS[@]}" $LIB $LDFLAGS -lcmocka -lm -o "$OUT/test_generated"

phase "run $OUT/test_generated"
"$OUT/test_generated"
echo "options drawn by make_models.lua: $OUT/coverage.txt"
phase "done"
