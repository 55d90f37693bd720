#!/usr/bin/env bash
# Conformance against PyTorch: the committed golden vectors of every case in
# tests/conformance/cases/ (written by golden.py; no torch needed here) against
# the generated code in float64 and float32 and against the reference runtime.
#
#   bash tests/conformance/run.sh OUTDIR [CASE...]
#
# 1. builds the runtime (make runtime -> build/librnnc.a);
# 2. generates every case's model.lua twice, OUTDIR/gen/<case>_f64.{h,c} and
#    <case>_f32.{h,c} (bin/rnnc generate --dtype float64|float32, plus the
#    options cases/index.txt lists for the case);
# 3. compiles them with -std=c99 -Wall -Wextra -Werror -pedantic, with a table
#    of their descriptors and check.c, into one program OUTDIR/conformance:
#    `conformance driver UNIT ...` is the generated driver of UNIT (rnnc_main,
#    what `rnnc build` links), `conformance check` the comparison;
# 4. runs, for each case and each unit, the driver as a user would:
#      predict --weights W --x X [--x1 ...] --out <unit>_pred.npy
#      grad    --weights W --x X --y Y --out <unit>_grad.safetensors   (stdout: the loss)
#      fit     --weights W --x X --y Y --epochs 20 --batch-size N --no-shuffle --verbose 0
#              --csv <unit>_fit.csv --out <unit>_fit.safetensors
#    (N = the case's sample count: one full-batch optimizer update per epoch);
# 5. `conformance check` compares all of it, and the reference runtime run on
#    the golden inputs, with the golden vectors, printing per case the worst
#    error of gen-f64, gen-f32 and ref, and a summary line. Exit status 1 on
#    any error above tolerance (float64 and reference 1e-10, float32 1e-5).
#
# Environment: CC (cc), CFLAGS (-O2), LDFLAGS, BUILD (build: the runtime's
# build directory, relative to the repository), JOBS (parallel jobs, nproc),
# VERBOSE=1 (every tensor's error). When CFLAGS asks for a sanitizer the
# runtime is compiled again with the same flags into the program.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: bash tests/conformance/run.sh OUTDIR [CASE...]" >&2
  exit 2
fi
OUT=${1%/}
shift
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/conformance
CASES=$HERE/cases
GEN=$OUT/gen
OBJ=$OUT/obj
WORK=$OUT/work
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2}
LDFLAGS=${LDFLAGS:-}
VERBOSE=${VERBOSE:-0}
WARN="-std=c99 -Wall -Wextra -Werror -pedantic"
STEPS=20 # golden.py's STEPS, check.c's TRAJECTORY_STEPS
START=$(date +%s.%N)

phase() {
  awk -v what="$1" -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "== %s (%.1fs)\n", what, e - s }'
}

# cases/index.txt: name samples steps inputs outputs [generate options...]
declare -A SAMPLES INPUTS OPTIONS
NAMES=()
while read -r name samples _steps inputs _outputs options; do
  [[ -z $name || $name == \#* ]] && continue
  if [[ $# -gt 0 && " $* " != *" $name "* ]]; then continue; fi
  NAMES+=("$name")
  SAMPLES[$name]=$samples
  INPUTS[$name]=$inputs
  OPTIONS[$name]=$options
done <"$CASES/index.txt"
if [[ ${#NAMES[@]} -eq 0 ]]; then
  echo "run.sh: no case selected from $CASES/index.txt" >&2
  exit 2
fi

phase "runtime: make runtime"
# The Makefile's own flags for build/: the environment's CFLAGS are for this run.
env -u CFLAGS -u LDFLAGS make -s -C "$ROOT" runtime

phase "generate ${#NAMES[@]} cases x {float64, float32}"
rm -rf "$GEN" "$OBJ" "$WORK"
mkdir -p "$GEN" "$OBJ" "$WORK"
generate_one() { # case dtype suffix options...
  local name=$1 dtype=$2 sfx=$3 log
  shift 3
  # shellcheck disable=SC2068  # options are words
  if ! log=$("$ROOT/bin/rnnc" generate "$CASES/$name/model.lua" -o "$GEN" --dtype "$dtype" \
    --name "${name}_$sfx" --no-format $@ 2>&1); then
    echo "FAILED: bin/rnnc generate $CASES/$name/model.lua -o $GEN --dtype $dtype --name ${name}_$sfx $*" >&2
    echo "$log" >&2
    return 1
  fi
}
export -f generate_one
export ROOT CASES GEN
# shellcheck disable=SC2016  # the inner bash splits $1 into words
for name in "${NAMES[@]}"; do
  echo "$name float64 f64 ${OPTIONS[$name]}"
  echo "$name float32 f32 ${OPTIONS[$name]}"
done | xargs -P "$JOBS" -d '\n' -n 1 bash -c 'generate_one $1' _

phase "descriptor table"
{
  echo "/* Written by tests/conformance/run.sh: the cases' generated units. */"
  echo "#ifndef RNNC_CONFORMANCE_CASES_H"
  echo "#define RNNC_CONFORMANCE_CASES_H"
  echo "#include \"rnnc.h\""
  echo "typedef struct {"
  echo "  const char *name;"
  echo "  int samples; /* the golden batch */"
  echo "  int steps;   /* the data's sequence length (0: no time axis) */"
  echo "  const rnnc_model *f64, *f32;"
  echo "} conformance_case;"
  echo "extern const conformance_case conformance_cases[];"
  echo "extern const int conformance_case_count;"
  echo "#endif"
} >"$GEN/cases.h"
{
  echo "/* Written by tests/conformance/run.sh. */"
  echo "#include \"cases.h\""
  for name in "${NAMES[@]}"; do
    echo "#include \"${name}_f64.h\""
    echo "#include \"${name}_f32.h\""
  done
  echo "const conformance_case conformance_cases[] = {"
  while read -r name samples steps _rest; do
    [[ -z $name || $name == \#* || -z ${SAMPLES[$name]+x} ]] && continue
    echo "    {\"$name\", $samples, $steps, &${name}_f64_model, &${name}_f32_model},"
  done <"$CASES/index.txt"
  echo "};"
  echo "const int conformance_case_count = ${#NAMES[@]};"
} >"$GEN/cases.c"

BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
LIB="$BUILD/librnnc_ref.a $BUILD/librnnc.a"
SOURCES=()
for name in "${NAMES[@]}"; do
  SOURCES+=("$GEN/${name}_f64.c" "$GEN/${name}_f32.c")
done
SOURCES+=("$GEN/cases.c" "$HERE/check.c")
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
OBJS=()
for s in "${SOURCES[@]}"; do
  OBJS+=("$OBJ/$(basename "$s" .c).o")
done
# shellcheck disable=SC2086
$CC $CFLAGS "${OBJS[@]}" $LIB $LDFLAGS -lm -o "$OUT/conformance"

phase "run the driver: predict, grad, fit ($STEPS full-batch steps) of every unit"
run_unit() { # case suffix
  local name=$1 sfx=$2 dir=$CASES/$1 unit=${1}_$2 xs k log
  xs=(--x "$dir/x.npy")
  for ((k = 1; k < ${INPUTS[$name]}; k++)); do
    xs+=("--x$k" "$dir/x_$k.npy")
  done
  log=$WORK/$unit.log
  if ! "$OUT/conformance" driver "$unit" predict --weights "$dir/weights.safetensors" "${xs[@]}" \
    --out "$WORK/${unit}_pred.npy" >"$log" 2>&1 ||
    ! "$OUT/conformance" driver "$unit" grad --weights "$dir/weights.safetensors" "${xs[@]}" \
      --y "$dir/y.npy" --out "$WORK/${unit}_grad.safetensors" >"$WORK/${unit}_grad.txt" 2>>"$log" ||
    ! "$OUT/conformance" driver "$unit" fit --weights "$dir/weights.safetensors" "${xs[@]}" \
      --y "$dir/y.npy" --epochs "$STEPS" --batch-size "${SAMPLES[$name]}" --no-shuffle --verbose 0 \
      --csv "$WORK/${unit}_fit.csv" --out "$WORK/${unit}_fit.safetensors" >>"$log" 2>&1; then
    echo "driver of $unit failed (the check below reports what is missing):" >&2
    cat "$log" >&2
  fi
}
for name in "${NAMES[@]}"; do
  run_unit "$name" f64
  run_unit "$name" f32
done

phase "check against the golden vectors"
check_args=("$CASES" "$WORK")
if [[ $VERBOSE == 1 ]]; then check_args+=(-v); fi
"$OUT/conformance" check "${check_args[@]}" "${NAMES[@]}"
phase "done"
