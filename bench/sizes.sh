#!/usr/bin/env bash
# Cost of generation for every seed model: generator time, generated lines,
# compile time and object size (gcc -O2). Prints a Markdown table.
# usage: bench/sizes.sh [UNROLL]
set -euo pipefail
cd "$(dirname "$0")/.."
unroll=${1:-}
out=${BUILD:-build}/sizes
rm -rf "$out" && mkdir -p "$out"
now() { date +%s.%N; }
echo "| model | generate (s) | lines (.c) | compile -O2 (s) | object (bytes) |"
echo "| --- | --- | --- | --- | --- |"
for m in examples/seeds/seed*.lua; do
  name=$(basename "$m" .lua)
  opts=()
  [ -n "$unroll" ] && opts+=(--unroll "$unroll")
  [ "$name" = seed11 ] && opts+=(--timesteps 10)
  t0=$(now)
  if ! lua5.4 bin/rnnc generate "$m" -o "$out/$name" "${opts[@]}" 2>"$out/$name.log"; then
    echo "| $name | $(sed 's/|/\\|/g' "$out/$name.log" | head -1) | | | |"
    continue
  fi
  t1=$(now)
  ${CC:-cc} -std=c99 -O2 -Iruntime -c "$out/$name/$name.c" -o "$out/$name.o"
  t2=$(now)
  lines=$(wc -l <"$out/$name/$name.c")
  bytes=$(size "$out/$name.o" | awk 'NR == 2 { print $1 + $2 + $3 }')
  printf "| %s | %.2f | %d | %.2f | %d |\n" "$name" "$(echo "$t1 - $t0" | bc)" "$lines" \
    "$(echo "$t2 - $t1" | bc)" "$bytes"
done
