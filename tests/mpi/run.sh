#!/usr/bin/env bash
# Data-parallel training on MPI (make test-mpi): the driver built with
# `rnnc build --mpi`, run by `mpirun -np N --oversubscribe`, against the
# ordinary driver in one process. The weights, the optimizer state, the
# CSV log and the checkpoint must be the same bytes; a bad sample in one
# rank's share is reported once and nothing is written. Prints
# "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
work="$BUILD/mpi"
rm -rf "$work" && mkdir -p "$work"
rnnc="lua5.4 bin/rnnc"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)

# float32 LSTM tagger, a unit of batch 8; 60 samples in batches of 20 cut
# into micro-batches of 4 (5 per step: ranks own 2 and 3, or 1, 2, 2, ...)
$rnnc build examples/lstm_tagger.lua -o "$work/one" --batch 8 >/dev/null 2>&1 || ko "build"
$rnnc build examples/lstm_tagger.lua -o "$work/mpi" --batch 8 --mpi >/dev/null 2>&1 || ko "build --mpi"
one="$work/one/lstm_tagger"
mpi="$work/mpi/lstm_tagger"
"$one" init --seed 1 --out "$work/w0.safetensors" >/dev/null
"$one" sample --seed 8 --n 60 --x "$work/x.npy" --y "$work/y.npy" >/dev/null
fit=(fit --weights "$work/w0.safetensors" --x "$work/x.npy" --y "$work/y.npy" --epochs 3 --batch-size 20
  --micro-batch 4 --seed 2 --verbose 0)

# run NAME "OPTIONS" LAUNCHER...: fit with a validation split, a CSV log and a
# checkpoint into $work/NAME.*
run() {
  local name=$1 extra
  read -r -a extra <<<"$2"
  shift 2
  "$@" "${fit[@]}" "${extra[@]}" --validation-split 0.25 --csv "$work/$name.csv" --checkpoint "$work/$name.ck" \
    --out "$work/$name.safetensors" >"$work/$name.log" 2>&1 || ko "$name: $(tail -3 "$work/$name.log")"
}
run one "" "$one"
for np in 2 3; do
  run "np$np" "" "${mpirun[@]}" -np $np "$mpi"
  for f in safetensors csv ck; do
    cmp -s "$work/one.$f" "$work/np$np.$f" && ok || ko "mpirun -np $np: the .$f file differs from one process's"
  done
done
# threads inside each process, and more processes than a step has micro-batches
run np7t2 "--threads 2" "${mpirun[@]}" -np 7 "$mpi"
cmp -s "$work/one.safetensors" "$work/np7t2.safetensors" && ok || ko "mpirun -np 7 --threads 2 differs"
# only rank 0 prints: one progress line per epoch
run np2v "--verbose 2" "${mpirun[@]}" -np 2 "$mpi"
[ "$(grep -c '^Epoch 3/3' "$work/np2v.log")" = 1 ] && ok || ko "rank 0 alone should print: $(cat "$work/np2v.log")"

# a NaN in the last sample (rank 1's share): one message, status 1, no --out
"$one" sample --seed 8 --n 60 --x "$work/bad.npy" >/dev/null
lua5.4 - "$work/bad.npy" <<'LUA'
local path = arg[1]
local f = assert(io.open(path, "rb"))
local s = f:read("a")
f:close()
-- the last value of the file (float64 little-endian) becomes a NaN
s = s:sub(1, #s - 8) .. string.pack("<d", 0 / 0)
f = assert(io.open(path, "wb"))
f:write(s)
f:close()
LUA
out=$("${mpirun[@]}" -np 2 "$mpi" fit --weights "$work/w0.safetensors" --x "$work/bad.npy" --y "$work/y.npy" \
  --out "$work/bad.safetensors" 2>&1)
status=$?
if [ $status -ne 0 ] && [ "$(grep -c 'bad.npy: sample 59, position (2, 3): nan is not finite' <<<"$out")" = 1 ] &&
  [ ! -e "$work/bad.safetensors" ]; then ok
else ko "a NaN in rank 1's share: status $status, output: $out"; fi

# weight regularizers and constraints: the penalty in every micro-batch's
# loss_grad, the constraints after the update on every rank
sed 's/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true }/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true, kernel_regularizer = L1L2 { l1 = 0.01, l2 = 0.02 }, recurrent_constraint = MaxNorm { 0.5 }, bias_constraint = "non_neg" }/' \
  examples/lstm_tagger.lua >"$work/reg_tagger.lua"
$rnnc build "$work/reg_tagger.lua" -o "$work/reg1" --batch 8 >/dev/null 2>&1 || ko "build reg_tagger"
$rnnc build "$work/reg_tagger.lua" -o "$work/regm" --batch 8 --mpi >/dev/null 2>&1 || ko "build reg_tagger --mpi"
run reg1 "" "$work/reg1/reg_tagger"
run regnp3 "" "${mpirun[@]}" -np 3 "$work/regm/reg_tagger"
for f in safetensors csv ck; do
  cmp -s "$work/reg1.$f" "$work/regnp3.$f" && ok || ko "regularizers, constraints: mpirun -np 3's .$f differs"
done
cmp -s "$work/one.safetensors" "$work/reg1.safetensors" && ko "the regularized tagger trained to the plain one's bytes" || ok

# integer tokens (Embedding): each rank reads its share of an int32 .npy;
# the same bytes as one process; a token out of range in rank 1's share is
# reported once, by file, sample and position, and nothing is written
$rnnc build tests/cli/fixtures/embedding.lua -o "$work/emb1" --batch 4 >/dev/null 2>&1 || ko "build embedding"
$rnnc build tests/cli/fixtures/embedding.lua -o "$work/embm" --batch 4 --mpi >/dev/null 2>&1 || ko "build embedding --mpi"
"$work/emb1/embedding" init --seed 3 --out "$work/ew0.safetensors" >/dev/null
"$work/emb1/embedding" sample --seed 4 --n 30 --x "$work/ex.npy" --y "$work/ey.npy" >/dev/null
lua5.4 - "$work/ex.npy" "$work/ex32.npy" "$work/exbad.npy" <<'LUA'
-- the sampled float64 tokens (30, 4) as int32, and a copy whose last token is 6
local f = assert(io.open(arg[1], "rb"))
local s = f:read("a")
f:close()
local hlen = string.unpack("<I2", s, 9)
local header = s:sub(11, 10 + hlen):gsub("<f8", "<i4")
header = header:gsub("%s*\n$", "")
header = header .. string.rep(" ", (64 - (10 + #header + 1) % 64) % 64) .. "\n"
local out = {}
for i = 11 + hlen, #s, 8 do
  out[#out + 1] = string.pack("<i4", math.tointeger(string.unpack("<d", s, i)))
end
local body = table.concat(out)
for k, data in ipairs({ body, body:sub(1, #body - 4) .. string.pack("<i4", 6) }) do
  f = assert(io.open(arg[k + 1], "wb"))
  f:write("\x93NUMPY\1\0" .. string.pack("<I2", #header) .. header .. data)
  f:close()
end
LUA
efit=(fit --weights "$work/ew0.safetensors" --y "$work/ey.npy" --epochs 3 --batch-size 10 --micro-batch 2
  --seed 2 --verbose 0)
"$work/emb1/embedding" "${efit[@]}" --x "$work/ex32.npy" --out "$work/e1.safetensors" >/dev/null 2>&1 ||
  ko "embedding: fit in one process"
"${mpirun[@]}" -np 3 "$work/embm/embedding" "${efit[@]}" --x "$work/ex32.npy" --out "$work/e3.safetensors" \
  >/dev/null 2>&1 || ko "embedding: mpirun -np 3 fit"
cmp -s "$work/e1.safetensors" "$work/e3.safetensors" && ok || ko "embedding: mpirun -np 3 differs from one process"
out=$("${mpirun[@]}" -np 2 "$work/embm/embedding" "${efit[@]}" --x "$work/exbad.npy" --out "$work/ebad.safetensors" 2>&1)
status=$?
if [ $status -ne 0 ] && [ "$(grep -c 'exbad.npy: sample 29, position (3): token 6 is not in \[0, 6)' <<<"$out")" = 1 ] &&
  [ ! -e "$work/ebad.safetensors" ]; then ok
else ko "embedding: a token out of range in rank 1's share: status $status, output: $out"; fi
# the noise layers and the LSTM's dropout: each rank draws the masks of its
# micro-batches from the counter-based generator (keyed by the sample's index
# in the global batch), so -np 3 trains with one process's masks, bit for bit
sed 's/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true },/SpatialDropout1D { 0.25, input_shape = { 3, 4 } }, LSTM { 3, return_sequences = true, dropout = 0.1, recurrent_dropout = 0.2 }, Dropout { 0.5 }, GaussianNoise { 0.2 },/' \
  examples/lstm_tagger.lua >"$work/drop_tagger.lua"
$rnnc build "$work/drop_tagger.lua" -o "$work/drop1" --batch 8 >/dev/null 2>&1 || ko "build drop_tagger"
$rnnc build "$work/drop_tagger.lua" -o "$work/dropm" --batch 8 --mpi >/dev/null 2>&1 || ko "build drop_tagger --mpi"
run drop1 "" "$work/drop1/drop_tagger"
run dropnp3 "" "${mpirun[@]}" -np 3 "$work/dropm/drop_tagger"
run dropnp2t2 "--threads 2" "${mpirun[@]}" -np 2 "$work/dropm/drop_tagger"
for f in safetensors csv ck; do
  cmp -s "$work/drop1.$f" "$work/dropnp3.$f" && ok || ko "noise layers: mpirun -np 3's .$f differs"
done
cmp -s "$work/drop1.safetensors" "$work/dropnp2t2.safetensors" && ok || ko "noise layers: mpirun -np 2 --threads 2 differs"
cmp -s "$work/one.safetensors" "$work/drop1.safetensors" && ko "the tagger with noise layers trained to the plain one's bytes" || ok

echo "mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
