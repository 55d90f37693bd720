#!/usr/bin/env bash
# Cost of generation for every seed model, one Markdown table per unroll
# policy: generator time (rnnc generate, clang-format of the output
# included), generated lines, compile time of the unit (-c) and object size
# (text + data + bss).
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
exit $failed
