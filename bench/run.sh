#!/usr/bin/env bash
# make bench: builds and runs every benchmark case (bench/README.md), prints
# Markdown to stdout and writes it to $BENCH_OUT/results.md (build/bench).
# Each case is one process pinned to one core; inside it the implementations
# are first checked against the reference runtime, then timed in
# interleaved rounds.
#
# Environment (all optional):
#   BENCH_CFLAGS   flags for everything compiled here (-O3 -march=native)
#   BENCH_PARTS    which parts, in order: stream train throughput generation parallel front
#   BENCH_CPU      the core to pin to (1; 0 on a one-core machine)
#   BENCH_ROUNDS   timing rounds per case (7); BENCH_BLOCK_MS: least time of
#                  one implementation's block in a round (40)
#   BENCH_CLOCK    "wall" times with the wall clock instead of the thread's CPU time
#   BENCH_TOL      verification tolerance, normwise relative (1e-4)
#   BENCH_UNROLL   --unroll for the units of parts 1-3 (the generator's default)
#   BENCH_UNROLL_LARGE, BENCH_COMPILE_TIMEOUT: see bench/generation.sh
#   BENCH_PYTHON   a python3 that imports torch (found when unset; "none" skips)
#   RNNC_SRC       the rnnc tree to measure (this one): generator, runtime, examples
#   BENCH_OUT      output directory (build/bench); CC (cc)
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench/.." && pwd)
src=$(cd "${RNNC_SRC:-$root}" && pwd)
out=${BENCH_OUT:-$root/build/bench}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cc=${CC:-cc}
cxx=${CXX:-g++}
# Eigen for the streaming peer (Debian's libeigen3-dev); none: its column says so
eigen_dir=""
for d in ${BENCH_EIGEN:-/usr/include/eigen3}; do [ -f "$d/Eigen/Dense" ] && eigen_dir=$d; done
command -v "$cxx" >/dev/null 2>&1 || eigen_dir=""
cflags_text=${BENCH_CFLAGS:--O3 -march=native}
read -r -a cflags <<<"$cflags_text"
read -r -a parts <<<"${BENCH_PARTS:-stream train throughput generation parallel front}"
cpu=${BENCH_CPU:-1}
taskset -c "$cpu" true 2>/dev/null || cpu=0
pin=(taskset -c "$cpu")
unroll=()
[ -n "${BENCH_UNROLL:-}" ] && unroll=(--unroll "$BENCH_UNROLL")
results=$out/results.md
failures=$out/failures.txt
started=$(date +%s)

# PyTorch: the first python3 that imports torch and numpy.
python=""
if [ "${BENCH_PYTHON:-}" != none ]; then
  for p in ${BENCH_PYTHON:-} /usr/bin/python3 python3; do
    if "$p" -c "import torch, numpy" 2>/dev/null; then python=$p && break; fi
  done
fi
torch_args=()
[ -n "$python" ] && torch_args=("$python" "$bench/torch_peer.py")
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

have() { case " ${parts[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# (cases run in subshells: failures are collected in a file)
fail() {
  echo "bench: $*" >&2
  echo "$*" >>"$failures"
}

main() {

# ------------------------------------------------------------ header
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
isa=$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo "not a git tree")
[ -n "$(git -C "$src" status --porcelain -- generator runtime templates 2>/dev/null)" ] &&
  commit="$commit + uncommitted changes in generator/, runtime/ or templates/"
echo "# rnnc benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- CPU: ${cpu_model:-unknown} ($(getconf _NPROCESSORS_ONLN) cores; ${isa:-no avx2}), every case pinned to core $cpu (taskset -c $cpu)"
echo "- compiler: $("$cc" --version | head -1)"
echo "- flags: \`$cflags_text\` for generated units, runtime, reference runtime, naive C and harnesses"
echo "- rnnc: $src at $commit${BENCH_UNROLL:+, --unroll $BENCH_UNROLL}"
if [ -n "$python" ]; then
  # which BLAS PyTorch's products run on (Debian's torch links libblas.so.3: the
  # reference BLAS unless OpenBLAS provides the alternative, a 6x slower peer)
  torch_blas=$("$python" -c 'import torch
torch.mm(torch.ones(64, 64), torch.ones(64, 64))
libs = [l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.split()[-1] and "lapack" not in l]
print(", ".join(sorted(set(libs))) or "none loaded")' 2>/dev/null || echo unknown)
  echo "- PyTorch: $("$python" -c 'import torch; print(torch.__version__)') ($python), one thread; BLAS: $torch_blas"
  case $torch_blas in *openblas* | *mkl*) ;; *)
    echo "  (PyTorch is not on an optimised BLAS: its training columns measure a slow peer;"
    echo "  Debian: apt-get install libopenblas0-pthread)" ;;
  esac
else
  echo "- PyTorch: not available (python3 cannot import torch): its columns are skipped"
fi
clock="the thread's CPU time (a process sharing the core does not count)"
[ "${BENCH_CLOCK:-}" = wall ] && clock="wall time"
echo "- timing: median of ${BENCH_ROUNDS:-7} interleaved rounds, each implementation's block >= ${BENCH_BLOCK_MS:-40} ms of $clock; ± is the interquartile range / median"
echo "- verification before timing: normwise relative difference to the reference runtime (double) <= ${BENCH_TOL:-1e-4}"

# ------------------------------------------------------------ build
build=$out/build
logs=$out/logs
rm -rf "$build" "$logs" "$failures" && mkdir -p "$build" "$logs"

# The runtime and the reference runtime with the benchmark's flags (no
# -Werror: these flags are not the ones the runtime's warnings are kept
# clean for).
build_runtime() {
  local obj=$build/runtime
  rm -rf "$obj" && mkdir -p "$obj"
  for f in "$src"/runtime/*.c "$src"/runtime/reference/*.c; do
    "$cc" -std=c99 "${cflags[@]}" -fno-math-errno -I"$src/runtime" -I"$src/runtime/reference" -c "$f" \
      -o "$obj/$(basename "$f" .c).o" || return 1
  done
  rm -f "$build/librnnc.a" && ar rcs "$build/librnnc.a" "$obj"/*.o
}

# generate_unit NAME MODEL BATCH
generate_unit() {
  lua5.4 "$src/bin/rnnc" generate "$2" -o "$build/$1" --name "$1" --dtype float32 --batch "$3" \
    "${unroll[@]}" >"$logs/$1.generate.log" 2>&1
}

# harness_cc OUT UNIT LIBS SOURCE... -- FLAGS...: the harness sources with
# warnings as errors, the generated unit (build/UNIT, "" for none) with the
# same flags but without (its warnings are the generator's business), linked
# with the runtime and LIBS.
harness_cc() {
  local out=$1 unit=$2 libs objs=() flags=() sources=()
  read -r -a libs <<<"$3"
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sources+=("$1") && shift; done
  [ $# -gt 0 ] && shift
  flags=("$@")
  local inc=(-I"$bench" -I"$src/runtime" -I"$src/runtime/reference")
  [ -n "$unit" ] && inc+=(-I"$build/$unit")
  for f in "${sources[@]}"; do
    "$cc" -std=c99 "${cflags[@]}" -Wall -Wextra -Werror "${inc[@]}" "${flags[@]}" -c "$f" \
      -o "$out.$(basename "$f" .c).o" || return 1
    objs+=("$out.$(basename "$f" .c).o")
  done
  if [ -n "$unit" ]; then
    "$cc" -std=c99 "${cflags[@]}" "${inc[@]}" -c "$build/$unit/$unit.c" -o "$out.unit.o" || return 1
    objs+=("$out.unit.o" "$build/librnnc.a")
  fi
  "$cc" "${cflags[@]}" "${objs[@]}" "${libs[@]}" -lm -o "$out"
}

# build_stream CELL H
build_stream() {
  local name=$1_h$2 cell
  cell=$(echo "$1" | tr '[:lower:]' '[:upper:]')
  local eigen=() libs=""
  # the Eigen peer (bench/eigen_cell.cpp) when g++ and Eigen are there; -Wno-uninitialized:
  # GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_ps, GCC bug 105593)
  if [ -n "$eigen_dir" ]; then
    "$cxx" -std=c++17 "${cflags[@]}" -Wall -Wextra -Werror -Wno-uninitialized -Wno-maybe-uninitialized -isystem "$eigen_dir" -I"$bench" -DHIDDEN="$2" \
      -DCELL_"$cell" -c "$bench/eigen_cell.cpp" -o "$build/stream_$name.eigen.o" >"$logs/$name.eigen.log" 2>&1 &&
      eigen=(-DHAVE_EIGEN) libs="$build/stream_$name.eigen.o -lstdc++"
  fi
  generate_unit "$name" "$bench/models/$name.lua" 1 &&
    harness_cc "$build/stream_$name" "$name" "$libs" "$bench/stream.c" "$bench/naive_cell.c" -- \
      -DUNIT="$name" -DUNIT_HEADER="\"$name.h\"" -DHIDDEN="$2" -DCELL_"$cell" "${eigen[@]}" \
      >"$logs/$name.build.log" 2>&1
}

# build_train CASE MODEL BATCH
build_train() {
  generate_unit "$1" "$2" "$3" &&
    harness_cc "$build/train_$1" "$1" "" "$bench/train.c" -- -DUNIT="$1" -DUNIT_HEADER="\"$1.h\"" \
      >"$logs/$1.build.log" 2>&1
}

# The training cases: the seed models with their tutorials' loss and Adam
# (examples/tagger.lua etc. are seeds 12-14 plus compile{}; checked below)
# at the tutorials' batch sizes (2 sentences, 2 sentences, batch_size=1).
train_cases=(
  "seed12 $src/examples/tagger.lua 2 $src/examples/seeds/seed12.lua"
  "seed13 $src/examples/lstm_tagger.lua 2 $src/examples/seeds/seed13.lua"
  "seed14 $src/examples/sum_regression.lua 1 $src/examples/seeds/seed14.lua"
  "lstm128 $bench/models/lstm128_train.lua 32 -"
)
hiddens=(8 16 32 64 128)

# Part 5: the LSTM(128) case on threads (bench/parallel.c), and its driver
# built with --mpi when Open MPI is there (mpicc, mpirun).
build_parallel() {
  generate_unit lstm128par "$bench/models/lstm128_train.lua" 32 &&
    harness_cc "$build/parallel" lstm128par "-pthread" "$bench/parallel.c" -- -DUNIT=lstm128par \
      -DUNIT_HEADER='"lstm128par.h"' >"$logs/parallel.build.log" 2>&1 || return 1
  cp "$build/librnnc.a" "$build/librnnc_ref.a" # rnnc build takes the reference runtime from beside it
  for kind in plain mpi; do
    if [ $kind = mpi ] && ! { command -v mpicc && command -v mpirun; } >/dev/null 2>&1; then continue; fi
    CFLAGS="$cflags_text" RNNC_RUNTIME_LIB="$build/librnnc.a" lua5.4 "$src/bin/rnnc" build \
      "$bench/models/lstm128_train.lua" -o "$build/lstm128_$kind" --name lstm128 --batch 32 \
      $([ $kind = mpi ] && echo --mpi) >>"$logs/parallel.build.log" 2>&1 || return 1
  done
}

echo
echo "Building (logs in $logs) ..." >&2
build_runtime >"$logs/runtime.build.log" 2>&1 || fail "runtime did not build: $logs/runtime.build.log"
# Two jobs at a time: the build is not timed.
jobs_running=0
spawn() {
  "$@" &
  jobs_running=$((jobs_running + 1))
  if [ $jobs_running -ge 2 ]; then
    wait -n || true
    jobs_running=$((jobs_running - 1))
  fi
}
if have stream; then
  for h in "${hiddens[@]}"; do
    for cell in lstm gru; do spawn build_stream $cell "$h"; done
  done
fi
if have train || have throughput; then
  for c in "${train_cases[@]}"; do
    read -r name model batch seed <<<"$c"
    if [ "$seed" != - ] && ! diff <(lua5.4 "$src/bin/rnnc" summary "$seed" 2>&1) \
      <(lua5.4 "$src/bin/rnnc" summary "$model" 2>&1) >/dev/null; then
      fail "$model is not $(basename "$seed") plus a loss: its summary differs"
    fi
    if [ "$name" = lstm128 ] || have train; then spawn build_train "$name" "$model" "$batch"; fi
  done
fi
have parallel && spawn build_parallel
sgemm_ok=0
if have throughput; then
  if harness_cc "$build/sgemm" "" -lopenblas "$bench/sgemm.c" >"$logs/sgemm.build.log" 2>&1; then
    sgemm_ok=1
  fi
fi
wait

# ------------------------------------------------------------ run
# run_case NAME ROW_TAG COMMAND...: the case's rows, or a row saying why not.
run_case() {
  local name=$1 tag=$2
  shift 2
  if [ ! -x "$1" ]; then
    echo "| $name | build failed: see $logs/$name.build.log |"
    fail "$name did not build"
    return
  fi
  if ! "${pin[@]}" "$@" >"$logs/$name.out" 2>"$logs/$name.err"; then
    fail "$name: $(tail -1 "$logs/$name.err")"
  fi
  grep "^ROW $tag " "$logs/$name.out" | sed "s/^ROW $tag //" ||
    echo "| $name | failed: $(tail -1 "$logs/$name.err" | sed 's/|/\\|/g') |"
}

if have stream; then
  echo
  echo "## 1. Streaming inference: ns per timestep (batch 1, state carried)"
  echo
  echo "Cell(in 1, H) -> Dense(1). generated: NAME_stream_step, float32; reference: the reference"
  echo "runtime (double) at T = 1 with its states fed back; naive C: bench/naive_cell.c (float32,"
  echo "H fixed at compile time); Eigen: bench/eigen_cell.cpp, the cell as RTNeural's Eigen backend"
  echo "writes it (fused [W U b] . [x h 1], vectorised activations, H fixed at compile time;"
  echo "${eigen_dir:-not built: no Eigen or g++}); PyTorch: nn.LSTM / nn.GRU stepped one timestep"
  echo "per call + nn.Linear. Ratios are other / generated (above 1: generated is faster)."
  echo
  echo "| cell | H | generated | reference | naive C | Eigen | PyTorch | ref / gen | naive / gen | Eigen / gen | PyTorch / gen | max rel diff: gen / naive / Eigen / PyTorch |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for h in "${hiddens[@]}"; do
    for cell in lstm gru; do
      name=${cell}_h$h
      run_case "$name" stream "$build/stream_$name" "$build/$name.safetensors" "${torch_args[@]}"
    done
  done
fi

fwdbwd=""
if have train || have throughput; then
  if have train; then
    echo
    echo "## 2. Training step: µs per step (forward + loss + backward + Adam)"
    echo
    echo "generated: NAME_train_step, float32; reference: rnnc_ref_loss_grad (double) +"
    echo "rnnc_optimizer_step_f64; PyTorch: the same model, loss and Adam, one thread. The seed"
    echo "models at their tutorials' batch sizes; lstm128: LSTM(128) over 50 x 32 -> Dense(10)"
    echo "softmax, sparse categorical crossentropy, batch 32."
    echo
    echo "| model | batch | params | generated | reference | PyTorch | ref / gen | PyTorch / gen | rel diff loss / grad: gen | PyTorch |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
  fi
  for c in "${train_cases[@]}"; do
    read -r name model batch seed <<<"$c"
    if [ "$name" = lstm128 ]; then
      rows=$(BENCH_FWDBWD=1 run_case "$name" train "$build/train_$name" "$name" \
        "$build/$name.safetensors" "${torch_args[@]}")
      fwdbwd=$(sed -n 's/^FWDBWD //p' "$logs/$name.out")
    elif have train; then
      rows=$(run_case "$name" train "$build/train_$name" "$name" "$build/$name.safetensors" \
        "${torch_args[@]}")
    else
      continue
    fi
    have train && echo "$rows"
  done
fi

if have throughput; then
  echo
  echo "## 3. Throughput: LSTM(128), batch 32 x 50 steps x 32 features -> Dense(10)"
  echo
  echo "FLOPs count the matrix products only, 2 M N K each, with B = 32, T = 50, I = 32, H = 128,"
  echo "C = 10: forward 2 B T 4H (I + H) + 2 B H C, backward (no input gradient)"
  echo "2 B T 4H (I + 2 H) + 4 B H C, together 2 B T 4H (2 I + 3 H) + 6 B H C. The elementwise gate"
  echo "math and the loss are not counted, the optimizer is not run. generated: NAME_forward and"
  echo "NAME_loss_grad; PyTorch: forward + loss (recording for autograd), then with backward();"
  echo "OpenBLAS: cblas_sgemm, one thread, on the same products (bench/sgemm.c)."
  echo
  sgemm_total=""
  if [ $sgemm_ok = 1 ]; then
    "${pin[@]}" "$build/sgemm" 32 50 32 128 10 >"$logs/sgemm.out" 2>"$logs/sgemm.err" ||
      fail "sgemm: $(tail -1 "$logs/sgemm.err")"
    sgemm_total=$(sed -n 's/^SGEMM_TOTAL //p' "$logs/sgemm.out")
  fi
  if [ -n "$fwdbwd" ]; then
    read -r gen_fb gen_f torch_fb torch_f <<<"$fwdbwd"
    read -r _ blas_fb blas_f blas_b <<<"${sgemm_total:-0 0 0 0}"
    echo "| pass | MFLOP | generated (ms) | GFLOP/s | PyTorch (ms) | GFLOP/s | OpenBLAS (ms) | GFLOP/s | generated / OpenBLAS |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    # pass flops generated_ns pytorch_ns openblas_ns (0: not measured)
    row() {
      awk -v pass="$1" -v f="$2" -v g="$3" -v t="$4" -v b="$5" 'BEGIN {
        cell = "| %s | %.1f | %.2f | %.1f | "
        printf cell, pass, f / 1e6, g / 1e6, f / g
        if (t > 0) printf "%.2f | %.1f | ", t / 1e6, f / t; else printf "- | - | "
        if (b > 0) printf "%.2f | %.1f | %.0f%% |\n", b / 1e6, f / b, 100 * b / g
        else printf "- | - | - |\n" }'
    }
    # B = 32, T = 50, I = 32, H = 128, C = 10
    fwd_flops=$((2 * 1600 * 512 * (32 + 128) + 2 * 32 * 128 * 10))
    bwd_flops=$((2 * 1600 * 512 * (32 + 2 * 128) + 4 * 32 * 128 * 10))
    row forward $fwd_flops "$gen_f" "$torch_f" "$blas_f"
    row "backward (= both - forward)" $bwd_flops $((gen_fb - gen_f)) $((torch_fb - torch_f)) "$blas_b"
    row "forward + backward" $((fwd_flops + bwd_flops)) "$gen_fb" "$torch_fb" "$blas_fb"
  else
    echo "lstm128 failed: see $logs/lstm128.err"
  fi
  if [ -n "$sgemm_total" ]; then
    echo
    echo "OpenBLAS per product ($(sed -n 's/^SGEMM_CONFIG //p' "$logs/sgemm.out")):"
    echo
    echo "| product | M x N x K | calls | MFLOP | µs | GFLOP/s |"
    echo "| --- | --- | ---: | ---: | ---: | ---: |"
    sed -n 's/^ROW sgemm //p' "$logs/sgemm.out"
  else
    echo
    echo "OpenBLAS: not measured (bench/sgemm.c needs libopenblas-dev: apt-get install libopenblas-dev)."
  fi
fi

if have generation; then
  echo
  echo "## 4. Cost of generation: every seed model, per unroll policy"
  echo
  echo "float32, batch 32 (seed 11: --timesteps 10); generate includes clang-format of the output;"
  echo "compile: \`$cc -std=c99 $cflags_text -c\` of the unit alone."
  "${pin[@]}" env RNNC_SRC="$src" BENCH_OUT="$out" CC="$cc" BENCH_CFLAGS="$cflags_text" \
    bash "$bench/generation.sh" || fail "generation costs failed"
fi

if have parallel; then
  echo
  echo "## 5. Data parallelism: LSTM(128), batch 32 x 50 steps x 32 features -> Dense(10)"
  echo
  echo "Threads (bench/parallel.c): rnnc_fit steps (forward, loss, backward, Adam) with the batch"
  echo "in one loss_grad call or in two micro-batches of 16, on one or two threads (both cores:"
  echo "taskset -c 0,1). The clock is the wall clock; CPU / wall is the process's CPU time over"
  echo "the wall time (2.00: both cores busy all along). The two micro-batch-16 rows leave the"
  echo "same bytes (checked before timing)."
  echo
  echo "| run | ms per step | CPU ms per step | CPU / wall | speed-up over 1 thread, batch in one call | over 1 thread, micro-batch 16 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  step_ns=""
  if [ -x "$build/parallel" ]; then
    taskset -c 0,1 "$build/parallel" >"$logs/parallel.out" 2>"$logs/parallel.err" ||
      fail "parallel: $(tail -1 "$logs/parallel.err")"
    sed -n 's/^ROW parallel //p' "$logs/parallel.out"
    step_ns=$(sed -n 's/^STEP_NS //p' "$logs/parallel.out")
  else
    echo "| build failed: see $logs/parallel.build.log |"
    fail "parallel did not build"
  fi
  echo
  echo "Processes: the driver's fit (2 epochs of 320 samples, batch 32, micro-batch 16) in one"
  echo "process (\`rnnc build\`), and the \`rnnc build --mpi\` driver under \`mpirun -np 1\` and"
  echo "\`-np 2\` (one micro-batch per process), 3 interleaved rounds, the median of the last"
  echo "epoch's time per step (the driver's progress line, wall clock). The weights written must"
  echo "be the same bytes."
  echo
  d=$build/lstm128_plain/lstm128
  mpi=$build/lstm128_mpi/lstm128
  if [ -x "$d" ] && [ -x "$mpi" ]; then
    mpirun=(mpirun --oversubscribe)
    [ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
    "$d" init --seed 1 --out "$build/par.w0" >/dev/null
    "$d" sample --seed 2 --n 320 --x "$build/par.x.npy" --y "$build/par.y.npy" >/dev/null
    args=(fit --weights "$build/par.w0" --x "$build/par.x.npy" --y "$build/par.y.npy" --epochs 2
      --batch-size 32 --micro-batch 16 --verbose 2 --no-shuffle)
    # per_step LOG: the last epoch's time per step in ms
    per_step() {
      grep -o '[0-9.]*[mu]*s/step' "$1" | tail -1 |
        awk '{ v = $0 + 0; if ($0 ~ /us\/step/) v /= 1000; else if ($0 !~ /ms\/step/) v *= 1000; print v }'
    }
    : >"$logs/par.times"
    for round in 1 2 3; do
      "$d" "${args[@]}" --out "$build/par.one.w" >"$logs/par.one.$round.log" 2>&1 &&
        echo "one $(per_step "$logs/par.one.$round.log")" >>"$logs/par.times"
      "$d" "${args[@]}" --threads 2 --out "$build/par.t2.w" >"$logs/par.t2.$round.log" 2>&1 &&
        echo "t2 $(per_step "$logs/par.t2.$round.log")" >>"$logs/par.times"
      for np in 1 2; do
        "${mpirun[@]}" -np $np "$mpi" "${args[@]}" --out "$build/par.np$np.w" >"$logs/par.np$np.$round.log" 2>&1 &&
          echo "np$np $(per_step "$logs/par.np$np.$round.log")" >>"$logs/par.times"
      done
    done
    for f in t2 np1 np2; do
      cmp -s "$build/par.one.w" "$build/par.$f.w" || fail "parallel: $f's weights differ from one process's"
    done
    med() { awk -v k="$1" '$1 == k { print $2 }' "$logs/par.times" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    one=$(med one)
    echo "| run | ms per step | speed-up over one process, one thread |"
    echo "| --- | ---: | ---: |"
    for f in "one one process, one thread" "t2 one process, --threads 2" "np1 mpirun -np 1" "np2 mpirun -np 2"; do
      read -r k label <<<"$f"
      awk -v l="$label" -v t="$(med "$k")" -v o="$one" 'BEGIN { printf "| %s | %.2f | %.2f |\n", l, t, o / t }'
    done
  else
    echo "Not measured: the MPI driver needs Open MPI (apt-get install openmpi-bin libopenmpi-dev)."
  fi
  echo
  echo "The all-reduce per step on 8 to 256 machines (bench/allreduce_model.lua: the alpha-beta"
  echo "model, each machine a batch of 32 taking the measured one-thread step above):"
  echo
  lua5.4 "$bench/allreduce_model.lua" 83722 4 "$(awk -v n="${step_ns:-0}" 'BEGIN { printf "%.2f", n / 1e6 }')" 32
fi

# ------------------------------------------------------------ 6. front ends
# Convolutional front ends (issue 14): a CNN-LSTM training step against
# PyTorch, and the streaming step of a causal dilated Conv1D stack -> GRU(32).
# The PyTorch models are bench/torch_front_peer.py's.
if have front; then
  front_peer=()
  [ -n "$python" ] && front_peer=("$python" "$bench/torch_front_peer.py")
  echo "Building the front-end cases ..." >&2
  build_train conv_lstm "$bench/models/conv_lstm_train.lua" 32
  generate_unit conv_gru "$bench/models/conv_gru_stream.lua" 1 &&
    harness_cc "$build/stream_front_conv_gru" conv_gru "" "$bench/stream_front.c" -- \
      -DUNIT=conv_gru -DUNIT_HEADER="\"conv_gru.h\"" >"$logs/stream_front_conv_gru.build.log" 2>&1
  echo
  echo "## 6. Convolutional front ends"
  echo
  echo "Training step (µs per step: forward + loss + backward + Adam), as part 2:"
  echo "bench/models/conv_lstm_train.lua, Conv1D(32 filters, kernel 3, relu) over 200 steps x 8"
  echo "features -> LSTM(64) -> Dense(1), mse, batch 32. PyTorch: nn.Conv1d + relu on (batch,"
  echo "channels, steps), nn.LSTM, nn.Linear, mse_loss, Adam (eps 1e-7), one thread."
  echo
  echo "| model | batch | params | generated | reference | PyTorch | ref / gen | PyTorch / gen | rel diff loss / grad: gen | PyTorch |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
  run_case conv_lstm train "$build/train_conv_lstm" conv_lstm "$build/conv_lstm.safetensors" \
    "${front_peer[@]}"
  echo
  echo "Streaming step (ns per timestep, batch 1): bench/models/conv_gru_stream.lua, causal"
  echo "Conv1D(16, kernel 2, relu) with dilation 1, 2, 4, 8 (receptive field 16 steps) -> GRU(32) ->"
  echo "Dense(1). generated: NAME_stream_step (each causal Conv1D keeps its last (k - 1) d inputs in a"
  echo "ring buffer of the stream struct); forward / T: the unit's whole-sequence NAME_forward over its"
  echo "256 steps, per step; PyTorch: each nn.Conv1d applied to a window of its last (k - 1) d + 1"
  echo "inputs shifted by one step per call, nn.GRU on one step with the carried h, nn.Linear."
  echo "Verified over the 256 steps against the reference runtime's whole-sequence forward (double)."
  echo
  echo "| model | params | generated | forward / T | PyTorch | (forward / T) / gen | PyTorch / gen | max rel diff: stream / forward / PyTorch |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  run_case stream_front_conv_gru stream_front "$build/stream_front_conv_gru" \
    "$build/conv_gru.safetensors" "${front_peer[@]}"
fi

echo
echo "Total time of this run: $(($(date +%s) - started)) s."
if [ -s "$failures" ]; then
  echo
  echo "**Failed:** $(paste -sd ';' "$failures" | sed 's/;/; /g') (logs: $logs)"
fi
}

# Everything printed goes to stdout and results.md.
main | tee "$results"
[ ! -s "$failures" ]
