#!/usr/bin/env bash
# rnnc as a user installs it: `make install` into a temporary prefix, then the
# examples built against that prefix only (examples/c with Make and
# pkg-config, examples/cmake with CMake; each program in C and in C++) and
# run; a program built for inference only links no training code; generated
# headers compile as C++ with g++ -Wall -Wextra; `make uninstall` removes
# everything. Prints "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
CC=${CC:-cc}
CXX=${CXX:-g++}
work=$BUILD/install-test
prefix=$work/prefix
rm -rf "$work" && mkdir -p "$work"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }
# run NAME LOG command...: the command's output goes to LOG, shown on failure
run() {
  local name=$1 log=$2
  shift 2
  if "$@" >"$log" 2>&1; then ok; else ko "$name (exit $?): $(tail -15 "$log")"; return 1; fi
}

# --- make install -----------------------------------------------------------
run "make install PREFIX=$prefix" "$work/install.log" make -s -C "$ROOT" install PREFIX="$prefix" \
  BUILD="$BUILD" CC="$CC" || { echo "install: $passed passed, $failed failed"; exit 1; }
for f in bin/rnnc include/rnnc/rnnc.h include/rnnc/rnnc_catalog.h include/rnnc/rnnc_kernels.h include/rnnc/rnnc_ref.h lib/librnnc.a \
  lib/librnnc.so lib/librnnc_ref.a lib/librnnc_ref.so lib/pkgconfig/rnnc.pc lib/cmake/rnnc/rnncConfig.cmake \
  share/rnnc/generator/cli.lua share/rnnc/templates/unit.c.in share/rnnc/runtime/rnnc.h share/rnnc/.clang-format; do
  [ -e "$prefix/$f" ] && ok || ko "make install did not install $f"
done
# the shared library's soname, and no undefined symbol of its own beyond libc and libm
if objdump -p "$prefix/lib/librnnc.so" | grep -q "SONAME *librnnc.so.0"; then ok; else ko "librnnc.so has no soname librnnc.so.0"; fi
# the core library holds neither the driver nor the reference runtime
if nm -g --defined-only "$prefix/lib/librnnc.a" | grep -qE " T (rnnc_main|rnnc_ref_new)$"; then
  ko "librnnc.a holds the driver or the reference runtime"
else ok; fi

export PATH="$prefix/bin:$PATH"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$prefix/lib"
unset RNNC_RUNTIME_LIB
export RNNC_CACHE_DIR="$work/cache"

# --- the installed rnnc works from any directory ---------------------------
mkdir -p "$work/elsewhere" && cp examples/tagger.lua "$work/elsewhere/"
(cd "$work/elsewhere" && run "installed rnnc summary from another directory" "$work/summary.log" rnnc summary tagger.lua)
grep -q "Total params: 33" "$work/summary.log" && ok || ko "installed rnnc summary: $(tail -3 "$work/summary.log")"
(cd "$work/elsewhere" && run "installed rnnc generate" "$work/generate.log" rnnc generate tagger.lua -o gen)
[ -f "$work/elsewhere/gen/tagger.c" ] && ok || ko "installed rnnc generate wrote no tagger.c"
(cd "$work/elsewhere" && run "installed rnnc generate --dump-ir" "$work/dump.log" rnnc generate tagger.lua \
  --dump-ir layout)
grep -q "forward: 72 multiply-adds" "$work/dump.log" && ok || ko "installed --dump-ir: $(tail -3 "$work/dump.log")"
# rnnc import: its reader is built on first use into the cache (the install is read-only)
cp tests/import/fixtures/keras3_bidir_gru.keras "$work/elsewhere/"
(cd "$work/elsewhere" && run "installed rnnc import" "$work/import.log" rnnc import keras3_bidir_gru.keras -o imported)
ls "$work/elsewhere/imported/"*.safetensors >/dev/null 2>&1 && ok || ko "installed rnnc import wrote nothing"
# rnnc build: the runtime library built once into the cache, then reused
(cd "$work/elsewhere" && CFLAGS=-O0 run "installed rnnc build (cold)" "$work/build1.log" rnnc build tagger.lua -o b1)
grep -q "rnnc: runtime library $RNNC_CACHE_DIR/runtime-[0-9a-f]* (built" "$work/build1.log" && ok ||
  ko "the first rnnc build did not build the cached runtime: $(tail -3 "$work/build1.log")"
(cd "$work/elsewhere" && CFLAGS=-O0 run "installed rnnc build (warm)" "$work/build2.log" rnnc build tagger.lua -o b2)
grep -q "rnnc: runtime library $RNNC_CACHE_DIR/runtime-[0-9a-f]* (reused)" "$work/build2.log" && ok ||
  ko "the second rnnc build did not reuse the cached runtime: $(tail -3 "$work/build2.log")"
run "the driver built by the installed rnnc diffs against the reference" "$work/diff.log" \
  bash -c "'$work/elsewhere/b2/tagger' init --seed 1 --out '$work/t.safetensors' &&
    '$work/elsewhere/b2/tagger' diff --weights '$work/t.safetensors' --x examples/data/tagger_x.npy --y examples/data/tagger_y.npy"

# --- generated headers are C++ ---------------------------------------------
for h in generated/*/*.h "$work/elsewhere/gen/tagger.h"; do
  if ! "$CXX" -x c++ -std=c++11 -fsyntax-only -Wall -Wextra -Werror -I"$prefix/include/rnnc" "$h" 2>"$work/cxx.log"; then
    ko "$h is not valid C++: $(head -5 "$work/cxx.log")"
  else ok; fi
done

# --- examples/c: Make, pkg-config, C and C++ -------------------------------
cp -r examples/c "$work/c"
run "examples/c: make" "$work/c.log" make -C "$work/c" CC="$CC" CXX="$CXX"
for p in sensor_demo sensor_demo_cpp; do
  run "examples/c: $p trains, saves, reloads and streams" "$work/c.$p.log" "$work/c/build/$p" "$work/c/$p.safetensors"
  grep -q "streaming = forward" "$work/c.$p.log" && ok || ko "$p printed no streaming check"
done
run "examples/c: sensor_stream runs the saved weights" "$work/c.stream.log" "$work/c/build/sensor_stream" \
  "$work/c/sensor_demo.safetensors" 0.1 0.3 0.5
[ "$(grep -c -- '->' "$work/c.stream.log")" = 3 ] && ok || ko "sensor_stream: $(cat "$work/c.stream.log")"
# inference only: none of the runtime's training code (nor the driver, nor the reference) is in the program
if nm "$work/c/build/sensor_stream" | grep -E " [TtDdRr] (rnnc_fit|rnnc_optimizer_|rnnc_loss_|rnnc_init_|rnnc_main|rnnc_ref_)"; then
  ko "sensor_stream (RNNC_INFERENCE_ONLY) links training code"
else ok; fi
nm "$work/c/build/sensor_stream" | grep -q " T rnnc_weights_load$" && ok || ko "sensor_stream has no rnnc_weights_load"
# the training program does link the training code
nm "$work/c/build/sensor_demo_cpp" | grep -q " T rnnc_optimizer_apply_f32$" && ok || ko "sensor_demo_cpp lacks the optimizer"

# --- examples/cmake: find_package(rnnc), rnnc_generate, C and C++ ----------
cmake_build=$work/cmake-build
run "examples/cmake: configure" "$work/cmake.configure.log" cmake -S examples/cmake -B "$cmake_build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
run "examples/cmake: build" "$work/cmake.build.log" cmake --build "$cmake_build"
for p in sensor_demo sensor_demo_cpp; do
  run "examples/cmake: $p" "$work/cmake.$p.log" "$cmake_build/$p" "$work/cmake.$p.safetensors"
done
run "examples/cmake: sensor_stream" "$work/cmake.stream.log" "$cmake_build/sensor_stream" \
  "$work/cmake.sensor_demo.safetensors" 0.2
# editing the model regenerates the unit; building again without a change does not
run "examples/cmake: build again" "$work/cmake.nochange.log" cmake --build "$cmake_build"
grep -q "rnnc: generating" "$work/cmake.nochange.log" && ko "cmake regenerated an unchanged model" || ok
cp -r examples "$work/examples-copy"
sed -i 's/LSTM { 8,/LSTM { 6,/' "$work/examples-copy/c/sensor.lua"
run "examples/cmake: configure a copy" "$work/cmake2.configure.log" cmake -S "$work/examples-copy/cmake" \
  -B "$work/cmake-build2" -DCMAKE_PREFIX_PATH="$prefix"
run "examples/cmake: build the copy" "$work/cmake2.build.log" cmake --build "$work/cmake-build2"
grep -q "SENSOR_N_PARAMS 199" "$work/cmake-build2/rnnc/sensor_unit/sensor.h" && ok || ko "sensor.h before the edit"
sed -i 's/LSTM { 6,/LSTM { 5,/' "$work/examples-copy/c/sensor.lua"
run "examples/cmake: build after editing the model" "$work/cmake2.rebuild.log" cmake --build "$work/cmake-build2"
grep -q "rnnc: generating" "$work/cmake2.rebuild.log" && ok || ko "editing sensor.lua did not regenerate"
grep -q "SENSOR_N_PARAMS 146" "$work/cmake-build2/rnnc/sensor_unit/sensor.h" && ok || ko "sensor.h after the edit"

# --- make uninstall ----------------------------------------------------------
run "make uninstall" "$work/uninstall.log" make -s -C "$ROOT" uninstall PREFIX="$prefix" BUILD="$BUILD"
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] && ok || ko "make uninstall left: $left"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
