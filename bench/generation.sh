#!/usr/bin/env bash
# Cost of generation for every seed model, one Markdown table per unroll
# policy: generator time (rnnc generate, clang-format of the output
# included), generated lines, compile time of the unit (-c) and object size
# (text + data + bss). Then the same costs against the sequence length:
# LSTM(128) at 10, 1,000 and 100,000 steps (batch 1: 100,000 steps of a
# batch of 32 need more scratch than a unit may have), LSTM(256) and a
# Bidirectional GRU(128) at 10 and at 2,000 / 5,000 steps, seed 11 with
# --timesteps 10 and 10,000 (bench/models/length/).
# usage: bench/generation.sh [POLICY...]   POLICY: "default" (no --unroll) or
#        an --unroll value; without arguments: 0 default $BENCH_UNROLL_LARGE.
# Environment: RNNC_SRC (the rnnc tree to measure, default this one), CC,
# BENCH_CFLAGS (default -O3 -march=native), BENCH_UNROLL_LARGE (1024),
# BENCH_COMPILE_TIMEOUT (seconds per compile, 120), BENCH_OUT (build/bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "${RNNC_SRC:-$root}" && pwd)
out=${BENCH_OUT:-$root/build/bench}/generation
cc=${CC:-cc}
read -r -a cflags <<<"${BENCH_CFLAGS:--O3 -march=native}"
compile_timeout=${BENCH_COMPILE_TIMEOUT:-120}
# the generator's default, as generate.lua sets it
default=$(sed -n 's/^generate.DEFAULT_UNROLL = \([0-9]*\).*/\1/p; s/^local DEFAULT_UNROLL = \([0-9]*\).*/\1/p' \
  "$src/generator/generate.lua" | head -1)
requested=("$@")
[ ${#requested[@]} -gt 0 ] || requested=(0 default "${BENCH_UNROLL_LARGE:-1024}")
# an explicit value equal to the default is measured once, as the default
policies=()
for policy in "${requested[@]}"; do
  if [ "$policy" != default ] && [ "$policy" = "$default" ] && [[ " ${requested[*]} " == *" default "* ]]; then
    continue
  fi
  policies+=("$policy")
done

now_ns() { date +%s%N; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }

rm -rf "$out" && mkdir -p "$out"
failed=0
for policy in "${policies[@]}"; do
  opts=()
  title="--unroll $policy"
  if [ "$policy" = default ]; then
    title="default (--unroll ${default:-?})"
  else
    opts+=(--unroll "$policy")
  fi
  echo
  echo "#### $title"
  echo
  echo "| model | generate (s) | lines (.c) | compile (s) | object (bytes) |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  total_gen=0 total_cc=0 total_lines=0 total_bytes=0 complete=1
  for m in "$src"/examples/seeds/seed*.lua; do
    name=$(basename "$m" .lua)
    dir="$out/$policy/$name"
    mkdir -p "$dir"
    extra=()
    [ "$name" = seed11 ] && extra+=(--timesteps 10) # length None: generated for up to 10 steps
    t0=$(now_ns)
    if ! lua5.4 "$src/bin/rnnc" generate "$m" -o "$dir" "${opts[@]}" "${extra[@]}" >"$dir.log" 2>&1; then
      echo "| $name | failed: $(tail -1 "$dir.log" | sed 's/|/\\|/g') | | | |"
      failed=1 complete=0
      continue
    fi
    t1=$(now_ns)
    if ! timeout "$compile_timeout" "$cc" -std=c99 "${cflags[@]}" -I"$src/runtime" -c "$dir/$name.c" \
      -o "$dir.o" 2>>"$dir.log"; then
      echo "| $name | $(seconds $((t1 - t0))) | $(wc -l <"$dir/$name.c") | > $compile_timeout (stopped) | |"
      failed=1 complete=0
      continue
    fi
    t2=$(now_ns)
    lines=$(wc -l <"$dir/$name.c")
    bytes=$(size "$dir.o" | awk 'NR == 2 { print $1 + $2 + $3 }')
    echo "| $name | $(seconds $((t1 - t0))) | $lines | $(seconds $((t2 - t1))) | $bytes |"
    total_gen=$((total_gen + t1 - t0)) total_cc=$((total_cc + t2 - t1))
    total_lines=$((total_lines + lines)) total_bytes=$((total_bytes + bytes))
  done
  total="**total**"
  [ $complete = 1 ] || total="**total** of the rows measured"
  echo "| $total | $(seconds $total_gen) | $total_lines | $(seconds $total_cc) | $total_bytes |"
done

# ---------------------------------------------------------------- against the length
echo
echo "#### against the sequence length (default --unroll)"
echo
echo "| model | steps | generate (s) | bytes (.c) | compile (s) | generate / T=10 | bytes / T=10 | compile / T=10 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
# one row: NAME STEPS MODEL_FILE [rnnc options...]; prints the row and sets
# row_gen, row_bytes, row_cc
length_row() {
  local name=$1 steps=$2 model=$3
  shift 3
  local dir="$out/length/$name-$steps"
  mkdir -p "$dir"
  local t0 t1 t2
  t0=$(now_ns)
  if ! lua5.4 "$src/bin/rnnc" generate "$model" -o "$dir" --name "$name" "$@" >"$dir.log" 2>&1; then
    echo "| $name | $steps | failed: $(tail -1 "$dir.log" | sed 's/|/\\|/g') | | | | | |"
    failed=1
    return 1
  fi
  t1=$(now_ns)
  if ! timeout "$compile_timeout" "$cc" -std=c99 "${cflags[@]}" -I"$src/runtime" -c "$dir/$name.c" \
    -o "$dir.o" 2>>"$dir.log"; then
    echo "| $name | $steps | $(seconds $((t1 - t0))) | | > $compile_timeout (stopped) | | | |"
    failed=1
    return 1
  fi
  t2=$(now_ns)
  row_gen=$((t1 - t0)) row_bytes=$(wc -c <"$dir/$name.c") row_cc=$((t2 - t1))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
length_case() { # NAME MODEL_TEMPLATE_OR_FILE LONG... -- the steps after T=10
  local name=$1 model=$2
  shift 2
  local base_gen base_bytes base_cc
  for steps in 10 "$@"; do
    local file="$out/length/$name-$steps.lua" opts=()
    mkdir -p "$out/length"
    if [ "$name" = seed11 ]; then
      file=$model opts=(--timesteps "$steps")
    else
      sed "s/@T@/$steps/g" "$model" >"$file"
    fi
    [ "$name" = lstm128 ] && opts+=(--batch 1)
    length_row "$name" "$steps" "$file" "${opts[@]}" || return 0
    if [ "$steps" = 10 ]; then
      base_gen=$row_gen base_bytes=$row_bytes base_cc=$row_cc
    fi
    echo "| $name | $steps | $(seconds "$row_gen") | $row_bytes | $(seconds "$row_cc") | $(ratio "$row_gen" "$base_gen") \
| $(ratio "$row_bytes" "$base_bytes") | $(ratio "$row_cc" "$base_cc") |"
  done
}
length_case lstm128 "$src/bench/models/length/lstm128.lua" 1000 100000
length_case lstm256 "$src/bench/models/length/lstm256.lua" 2000
length_case bigru128 "$src/bench/models/length/bigru128.lua" 5000
length_case seed11 "$src/examples/seeds/seed11.lua" 10000
exit $failed
