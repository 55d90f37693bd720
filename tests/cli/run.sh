#!/usr/bin/env bash
# Command-line tests: rnnc and a generated driver used as a user would, with
# good and bad input. Prints "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
work="$BUILD/cli"
rm -rf "$work" && mkdir -p "$work"
rnnc="lua5.4 bin/rnnc"
passed=0
failed=0
# make test-sanitize runs this suite again with CFLAGS asking for ASan and
# UBSan at -O0: the drivers check memory there, and run far slower.
sanitized=0
case "${CFLAGS:-}" in *-fsanitize*) sanitized=1 ;; esac
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }
# expect NAME STATUS PATTERN -- command...: exit status and a pattern in stdout+stderr
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$want" = nonzero ]; then
    [ "$status" -ne 0 ] || { ko "$name: exit status 0, expected failure"; return; }
  elif [ "$status" -ne "$want" ]; then
    ko "$name: exit status $status, expected $want; output: $(echo "$out" | tail -3)"
    return
  fi
  if ! grep -qE -- "$pattern" <<<"$out"; then
    ko "$name: output lacks /$pattern/: $(echo "$out" | tail -3)"
    return
  fi
  ok
}

# --- the generator ---------------------------------------------------------
for m in examples/seeds/seed*.lua; do
  expect "summary $m" 0 "Total params" -- $rnnc summary "$m"
done
expect "bad argument names file, line, layer" nonzero \
  "tests/cli/fixtures/bad_argument.lua:3: layer 'dense' \(Dense\): unknown argument 'activaton'" \
  -- $rnnc generate tests/cli/fixtures/bad_argument.lua -o "$work/bad"
[ ! -e "$work/bad" ] && ok || ko "a failed generate wrote $work/bad"
expect "an unknown sequence length needs --timesteps" nonzero "seed11.lua:4: layer 'gru' \(GRU\): .*pass --timesteps T" \
  -- $rnnc generate examples/seeds/seed11.lua -o "$work/seed11-none"
[ ! -e "$work/seed11-none" ] && ok || ko "a failed generate wrote $work/seed11-none"
expect "missing model file" nonzero "cannot read the model file" -- $rnnc summary "$work/nope.lua"
expect "unknown option" 2 "unknown option --fast" -- $rnnc generate examples/tagger.lua -o "$work/x" --fast
expect "bad dtype" 2 "float32 or float64" -- $rnnc generate examples/tagger.lua -o "$work/x" --dtype half

# Every seed model, fully looped (--unroll 0) and fully unrolled, compiles
# warning-free as C99. These compiles take no CFLAGS, so the sanitizer pass
# (make test-sanitize) would repeat them byte for byte: it skips them.
unroll_models="examples/seeds/seed0[1-9].lua examples/seeds/seed1[02-4].lua examples/functional/*.lua"
[ $sanitized = 1 ] && unroll_models=""
for m in $unroll_models; do
  name=$(basename "$m" .lua)
  unrolls="0 100000"
  # seeds 6 and 8 fully unrolled are 100k+ lines: generated, but not compiled here
  case "$name" in seed06 | seed08) unrolls=0 ;; esac
  for u in $unrolls; do
    if $rnnc generate "$m" -o "$work/unroll$u" --unroll $u 2>/dev/null &&
      ${CC:-cc} -O0 -std=c99 -Wall -Wextra -Werror -pedantic -Iruntime -c "$work/unroll$u/$name.c" \
        -o "$work/unroll$u/$name.o"; then
      ok
    else
      ko "$m with --unroll $u does not compile warning-free"
    fi
  done
done

# Deterministic output: two runs, same bytes.
$rnnc generate examples/tagger.lua -o "$work/det1" 2>/dev/null
$rnnc generate examples/tagger.lua -o "$work/det2" 2>/dev/null
diff -r "$work/det1" "$work/det2" >/dev/null && ok || ko "generate is not deterministic"

# --- a generated driver ----------------------------------------------------
$rnnc build examples/tagger.lua -o "$work/tagger" --dtype float64 >/dev/null 2>&1 || ko "build tagger"
t="$work/tagger/tagger"
x=examples/data/tagger_x.npy
y=examples/data/tagger_y.npy
expect "init" 0 "wrote" -- "$t" init --seed 7 --out "$work/w.safetensors"
expect "summary from the driver" 0 "time_distributed \(TimeDistr" -- "$t" summary
expect "diff against the reference" 0 "^OK: worst relative" -- "$t" diff --weights "$work/w.safetensors" --x $x --y $y
expect "gradcheck" 0 "^OK: 33 weights and 18 inputs" -- "$t" gradcheck --weights "$work/w.safetensors" --x $x --y $y
expect "grad" 0 "wrote .*g.safetensors" -- "$t" grad --weights "$work/w.safetensors" --x $x --y $y --out "$work/g.safetensors"

# Hostile weight and data files.
head -c 100 "$work/w.safetensors" >"$work/truncated.safetensors"
expect "truncated weights" 1 "truncated.safetensors" -- "$t" predict --weights "$work/truncated.safetensors" --x $x --out "$work/p.npy"
printf 'garbage' >"$work/garbage.safetensors"
expect "garbage weights" 1 "garbage.safetensors" -- "$t" predict --weights "$work/garbage.safetensors" --x $x --out "$work/p.npy"
expect "x of the wrong shape" 1 "sum_x.npy: the array has shape \(13, 3, 1\), the model takes \(n, 3, 3\)" \
  -- "$t" predict --weights "$work/w.safetensors" --x examples/data/sum_x.npy --out "$work/p.npy"
expect "labels of the wrong shape" 1 "sum_y.npy" -- "$t" fit --weights "$work/w.safetensors" --x $x --y examples/data/sum_y.npy --out "$work/w2.safetensors"
expect "missing option" 2 "needs --x" -- "$t" predict --weights "$work/w.safetensors" --out "$work/p.npy"

# trainable = false: fit leaves the frozen weights bit for bit as they were
# (AdamW's weight decay and Ftrl included) while the others move; the
# trainable BatchNormalization's moving statistics move, the frozen one's
# do not; the summary counts them as non-trainable; diff and gradcheck agree.
# tensors A B: "name same|moved" per tensor of two safetensors files.
tensors() {
  lua5.4 - "$@" <<'LUA'
local function load(path)
  local s = assert(io.open(path, "rb")):read("a")
  local n = string.unpack("<I8", s)
  local header, data, out = s:sub(9, 8 + n), 9 + n, {}
  for name, a, b in header:gmatch('"([^"]+)":%s*{[^}]-"data_offsets":%s*%[%s*(%d+),%s*(%d+)%s*%]') do
    out[name] = s:sub(data + tonumber(a), data + tonumber(b) - 1)
  end
  return out
end
local a, b = load(arg[1]), load(arg[2])
local names = {}
for k in pairs(a) do names[#names + 1] = k end
table.sort(names)
for _, k in ipairs(names) do print(k .. " " .. (a[k] == b[k] and "same" or "moved")) end
LUA
}
if $rnnc build tests/cli/fixtures/frozen.lua -o "$work/frozen" >/dev/null 2>&1; then
  f="$work/frozen/frozen"
  expect "summary: frozen weights are non-trainable" 0 \
    "Total params: 175"$'\n'"Trainable params: 59"$'\n'"Non-trainable params: 116" -- "$f" summary
  "$f" init --seed 3 --out "$work/frozen-w.safetensors" >/dev/null
  "$f" sample --x "$work/frozen-x.npy" --y "$work/frozen-y.npy" --n 24 --seed 5 >/dev/null
  expect "frozen: diff against the reference" 0 "^OK: worst relative" -- \
    "$f" diff --weights "$work/frozen-w.safetensors" --x "$work/frozen-x.npy" --y "$work/frozen-y.npy"
  for opt in adam adamw ftrl "sgd --momentum 0.9"; do
    # shellcheck disable=SC2086
    "$f" fit --weights "$work/frozen-w.safetensors" --x "$work/frozen-x.npy" --y "$work/frozen-y.npy" \
      --epochs 3 --batch-size 8 --verbose 0 --optimizer $opt --out "$work/frozen-fit.safetensors" >/dev/null 2>&1 ||
      ko "frozen: fit with $opt failed"
    moved=$(tensors "$work/frozen-w.safetensors" "$work/frozen-fit.safetensors" | sed -n 's/ moved$//p' | tr '\n' ' ')
    want="batch_normalization_1/beta batch_normalization_1/gamma batch_normalization_1/moving_mean "
    want+="batch_normalization_1/moving_variance dense/bias dense/kernel gru/bias gru/kernel gru/recurrent_kernel "
    [ "$moved" = "$want" ] && ok || ko "frozen: fit with $opt moved [$moved], expected [$want]"
  done
else
  ko "build tests/cli/fixtures/frozen.lua"
fi

# Run-time data checks: each bad file is refused by name with the sample and
# position, before any work. npy FILE SHAPE VALUES... writes a float64 .npy
# (SHAPE as Python prints it; values may be nan, inf, -inf).
npy() {
  lua5.4 - "$@" <<'LUA'
local path, shape = arg[1], arg[2]
local header = "{'descr': '<f8', 'fortran_order': False, 'shape': " .. shape .. ", }"
header = header .. string.rep(" ", (64 - (10 + #header + 1) % 64) % 64) .. "\n"
local out = { "\x93NUMPY\1\0", string.pack("<I2", #header), header }
for k = 3, #arg do
  local v = ({ nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge })[arg[k]] or tonumber(arg[k])
  out[#out + 1] = string.pack("<d", v)
end
local f = assert(io.open(path, "wb"))
f:write(table.concat(out))
f:close()
LUA
}
fitcmd=("$t" fit --weights "$work/w.safetensors" --epochs 1 --verbose 0 --out "$work/wd.safetensors")
npy "$work/label3.npy" "(2, 3)" 0 1 2 0 1 3
expect "label out of range" 1 "label3.npy: sample 1, position \(2\): label 3 is not a class in \[0, 3\)" \
  -- "${fitcmd[@]}" --x $x --y "$work/label3.npy"
expect "label out of range in evaluate" 1 "label3.npy: sample 1, position \(2\): label 3" \
  -- "$t" evaluate --weights "$work/w.safetensors" --x $x --y "$work/label3.npy"
expect "label out of range in grad" 1 "label3.npy: sample 1, position \(2\): label 3" \
  -- "$t" grad --weights "$work/w.safetensors" --x $x --y "$work/label3.npy" --out "$work/gd.safetensors"
npy "$work/label_half.npy" "(2, 3)" 0 1 2 0 0.5 2
expect "non-integer label" 1 "label_half.npy: sample 1, position \(1\): label 0.5 is not a class" \
  -- "${fitcmd[@]}" --x $x --y "$work/label_half.npy"
npy "$work/label_neg.npy" "(2, 3, 1)" -1 1 2 0 1 2
expect "negative label (labels with a trailing axis of 1)" 1 "label_neg.npy: sample 0, position \(0\): label -1" \
  -- "${fitcmd[@]}" --x $x --y "$work/label_neg.npy"
npy "$work/y_nan.npy" "(2, 3)" 0 1 2 nan 1 2
expect "NaN in the targets" 1 "y_nan.npy: sample 1, position \(0\): nan is not finite" \
  -- "${fitcmd[@]}" --x $x --y "$work/y_nan.npy"
npy "$work/x_inf.npy" "(2, 3, 3)" 1 0 0 0 1 0 0 0 1  0 0 1 0 1 0 1 0 -inf
expect "Inf in the inputs" 1 "x_inf.npy: sample 1, position \(2, 2\): -inf is not finite" \
  -- "$t" predict --weights "$work/w.safetensors" --x "$work/x_inf.npy" --out "$work/p.npy"
npy "$work/y_three.npy" "(3, 3)" 0 1 2 0 1 2 0 1 2
expect "x and y with different sample counts" 1 "y_three.npy has 3 samples, $x has 2" \
  -- "${fitcmd[@]}" --x $x --y "$work/y_three.npy"
npy "$work/y_onehot.npy" "(2, 3, 3)" 1 0 0 0 1 0 0 0 1 1 0 0 0 1 0 0 0 1
expect "one-hot targets for sparse labels" 1 \
  "y_onehot.npy: the array has shape \(2, 3, 3\); the targets of output 0 \(sparse class labels\) have shape \(2, 3\)" \
  -- "${fitcmd[@]}" --x $x --y "$work/y_onehot.npy"
npy "$work/y_t.npy" "(2, 1, 3)" 0 1 2 0 1 2
expect "targets of the right size and the wrong shape" 1 "y_t.npy: the array has shape \(2, 1, 3\)" \
  -- "${fitcmd[@]}" --x $x --y "$work/y_t.npy"
expect "validation labels out of range" 1 "label3.npy: sample 1, position \(2\): label 3" \
  -- "${fitcmd[@]}" --x $x --y $y --val-x $x --val-y "$work/label3.npy"
npy "$work/y_ok1.npy" "(2, 3, 1)" 0 1 2 2 1 0
expect "good labels with a trailing axis of 1" 0 "wrote" -- "${fitcmd[@]}" --x $x --y "$work/y_ok1.npy"
# A NaN weight: the first value of the data area (simple_rnn/kernel[0, 0]).
cp "$work/w.safetensors" "$work/w_nan.safetensors"
hlen=$(od -An -tu8 -N8 "$work/w.safetensors" | tr -d ' ')
printf '\000\000\000\000\000\000\370\177' | dd of="$work/w_nan.safetensors" bs=1 seek=$((8 + hlen)) conv=notrunc 2>/dev/null
expect "NaN in the weights" 1 "w_nan.safetensors: tensor 'simple_rnn/kernel', position \(0, 0\): nan is not finite" \
  -- "$t" predict --weights "$work/w_nan.safetensors" --x $x --out "$work/p.npy"

# Labels out of range and NaN inputs, written by the driver itself (predict
# writes .npy), then edited: a prediction array has the right dtype and header.
"$t" predict --weights "$work/w.safetensors" --x $x --out "$work/p.npy" >/dev/null
expect "predictions shape" 0 "sample 1:" -- "$t" predict --weights "$work/w.safetensors" --x $x --out "$work/p.npy"

# --- the demo's training reaches the tags --------------------------------
$rnnc build examples/tagger.lua -o "$work/tagger32" >/dev/null 2>&1 || ko "build tagger float32"
t32="$work/tagger32/tagger"
"$t32" init --seed 1 --out "$work/t0.safetensors" >/dev/null
expect "tagger trains" 0 "Epoch 2000/2000" -- "$t32" fit --weights "$work/t0.safetensors" --x $x --y $y --epochs 2000 --batch-size 32 --seed 1 --log-every 1000 --out "$work/t1.safetensors"
out=$("$t32" predict --weights "$work/t1.safetensors" --x $x --out "$work/tp.npy")
if [ "$(grep -c 'argmax \[0,1,2\]' <<<"$out")" = 2 ]; then ok; else ko "tagger did not learn [0,1,2]: $out"; fi

# --- divergence stops training and keeps the last good weights -------------
$rnnc build tests/cli/fixtures/diverge.lua -o "$work/diverge" >/dev/null 2>&1 || ko "build diverge"
d="$work/diverge/diverge"
"$d" init --seed 1 --out "$work/d0.safetensors" >/dev/null
# The tags 0, 1, 2 serve as regression targets of the (2, 3, 1) output.
expect "divergence is reported" 3 "epoch [0-9]+/50, batch 1/1: the loss or a gradient is not finite" \
  -- "$d" fit --weights "$work/d0.safetensors" --x $x --y $y --epochs 50 --batch-size 2 --out "$work/d1.safetensors"
expect "the kept weights are finite and usable" 0 "sample 0:" -- "$d" predict --weights "$work/d1.safetensors" --x $x --out "$work/dp.npy"
if grep -qiE "nan|inf" <<<"$("$d" predict --weights "$work/d1.safetensors" --x $x --out "$work/dp.npy")"; then
  ko "weights after divergence are not finite"
else ok; fi

expect "another model's weights" 1 "d0.safetensors: tensor 'simple_rnn/kernel' has shape" \
  -- "$t" predict --weights "$work/d0.safetensors" --x $x --out "$work/p.npy"

# --- the seed trainings --------------------------------------------------
# Seed model 13 and its GRU(reset_after=False) twin on the four-word tagger;
# 500 epochs of Adam from seed 1 (100 epochs, the tutorial's count, is not
# enough from every initialisation).
for m in lstm_tagger gru_tagger; do
  $rnnc build examples/$m.lua -o "$work/$m" >/dev/null 2>&1 || ko "build $m"
  "$work/$m/$m" init --seed 1 --out "$work/$m.w0.safetensors" >/dev/null
  "$work/$m/$m" fit --weights "$work/$m.w0.safetensors" --x examples/data/tagger4_x.npy \
    --y examples/data/tagger4_y.npy --epochs 500 --batch-size 32 --seed 1 --verbose 0 \
    --out "$work/$m.w1.safetensors" >/dev/null
  out=$("$work/$m/$m" predict --weights "$work/$m.w1.safetensors" --x examples/data/tagger4_x.npy --out "$work/$m.p.npy")
  if [ "$(grep -c 'argmax \[0,1,2\]' <<<"$out")" = 2 ]; then ok; else ko "$m did not reach SVO: $out"; fi
done
# Seed model 14: 1000 epochs, batch size 1 (early stopping is not implemented yet).
$rnnc build examples/sum_regression.lua -o "$work/sum" >/dev/null 2>&1 || ko "build sum_regression"
"$work/sum/sum_regression" init --seed 1 --out "$work/sum.w0.safetensors" >/dev/null
"$work/sum/sum_regression" fit --weights "$work/sum.w0.safetensors" --x examples/data/sum_x.npy \
  --y examples/data/sum_y.npy --epochs 1000 --batch-size 1 --seed 1 --verbose 0 --out "$work/sum.w1.safetensors" >/dev/null
value=$("$work/sum/sum_regression" predict --weights "$work/sum.w1.safetensors" --x examples/data/sum_query.npy \
  --out "$work/sum.p.npy" | sed -n 's/^sample 0: \[\(.*\)\]$/\1/p')
if awk -v v="$value" 'BEGIN { exit !(v >= 52 && v <= 58) }'; then ok; else ko "sum regression predicted '$value', not 55 +- 3"; fi

# --- every recurrent layer against the reference, float64 ----------------
for m in examples/seeds/seed05.lua examples/seeds/seed06.lua examples/seeds/seed07.lua examples/seeds/seed10.lua \
  examples/lstm_tagger.lua examples/gru_tagger.lua examples/sum_regression.lua examples/functional/rnn_state.lua \
  examples/functional/attention.lua; do
  name=$(basename "$m" .lua)
  $rnnc build "$m" -o "$work/$name" --dtype float64 --batch 4 >/dev/null 2>&1 || { ko "build $m"; continue; }
  "$work/$name/$name" init --seed 3 --out "$work/$name.w.safetensors" >/dev/null
  "$work/$name/$name" sample --seed 5 --n 6 --x "$work/$name.x.npy" --y "$work/$name.y.npy" >/dev/null
  expect "$name: generated = reference" 0 "^OK: worst relative" \
    -- "$work/$name/$name" diff --weights "$work/$name.w.safetensors" --x "$work/$name.x.npy" --y "$work/$name.y.npy"
done
$rnnc build examples/seeds/seed11.lua -o "$work/seed11" --timesteps 7 --dtype float64 >/dev/null 2>&1 || ko "seed 11 with --timesteps"
"$work/seed11/seed11" init --seed 3 --out "$work/seed11.w.safetensors" >/dev/null
"$work/seed11/seed11" sample --seed 5 --n 3 --x "$work/seed11.x.npy" >/dev/null
expect "seed11 (--timesteps 7): generated = reference" 0 "^OK: worst relative" \
  -- "$work/seed11/seed11" diff --weights "$work/seed11.w.safetensors" --x "$work/seed11.x.npy"
expect "gradcheck through Attention, AdditiveAttention and MultiHeadAttention" 0 "^OK: " \
  -- "$work/attention/attention" gradcheck --weights "$work/attention.w.safetensors" --x "$work/attention.x.npy" \
  --y "$work/attention.y.npy"
expect "gradcheck through an LSTM stack" 0 "^OK: " -- "$work/sum_regression/sum_regression" gradcheck \
  --weights "$work/sum_regression.w.safetensors" --x "$work/sum_regression.x.npy" --y "$work/sum_regression.y.npy"
expect "gradcheck through a GRU(reset_after=False)" 0 "^OK: " -- "$work/gru_tagger/gru_tagger" gradcheck \
  --weights "$work/gru_tagger.w.safetensors" --x "$work/gru_tagger.x.npy" --y "$work/gru_tagger.y.npy"

# Initial states given by the caller: inputs --x1, --x2 next to --x.
is="$work/initial_state/initial_state"
$rnnc build examples/functional/initial_state.lua -o "$work/initial_state" --dtype float64 --batch 4 >/dev/null 2>&1 \
  || ko "build initial_state"
"$is" init --seed 2 --out "$work/is.w.safetensors" >/dev/null
"$is" sample --seed 3 --n 5 --x "$work/is.x.npy" --y "$work/is.y.npy" >/dev/null
expect "initial states: generated = reference" 0 "^OK: worst relative" -- "$is" diff --weights "$work/is.w.safetensors" \
  --x "$work/is.x.npy" --x1 "$work/is.x_1.npy" --x2 "$work/is.x_2.npy" --y "$work/is.y.npy"
expect "initial states: gradcheck includes h0 and c0" 0 "^OK: 192 weights and 110 inputs" -- "$is" gradcheck \
  --weights "$work/is.w.safetensors" --x "$work/is.x.npy" --x1 "$work/is.x_1.npy" --x2 "$work/is.x_2.npy" --y "$work/is.y.npy"
expect "initial states: a missing input is named" 1 "give input 1 with --x1" -- "$is" predict \
  --weights "$work/is.w.safetensors" --x "$work/is.x.npy" --out "$work/is.p.npy"
expect "initial states: wrong state shape" 1 "is.x.npy: the array has shape \(5, 4, 3\), the model takes \(5, 5\)" \
  -- "$is" predict --weights "$work/is.w.safetensors" --x "$work/is.x.npy" --x1 "$work/is.x.npy" --x2 "$work/is.x_2.npy" --out "$work/is.p.npy"

# Sequences of any length up to --timesteps: every length against the
# reference (built for that length) and finite differences.
for m in examples/variable_tagger.lua tests/cli/fixtures/variable_bidirectional.lua tests/cli/fixtures/variable_state.lua \
  examples/seeds/seed11.lua; do
  name=$(basename "$m" .lua)
  v="$work/var_$name/$name"
  $rnnc build "$m" -o "$work/var_$name" --dtype float64 --batch 3 --timesteps 5 >/dev/null 2>&1 || { ko "build $m"; continue; }
  "$v" init --seed 1 --out "$work/var_$name.w" >/dev/null
  for L in 1 2 5; do
    "$v" sample --seed 2 --n 4 --steps $L --x "$work/var_$name.x$L.npy" --y "$work/var_$name.y$L.npy" >/dev/null
    extra=()
    [ -f "$work/var_$name.x${L}_1.npy" ] && extra=(--x1 "$work/var_$name.x${L}_1.npy")
    expect "$name at length $L: generated = reference" 0 "^OK: worst relative" -- "$v" diff --weights "$work/var_$name.w" \
      --x "$work/var_$name.x$L.npy" "${extra[@]}" --y "$work/var_$name.y$L.npy"
    expect "$name at length $L: gradcheck" 0 "^OK: " -- "$v" gradcheck --weights "$work/var_$name.w" \
      --x "$work/var_$name.x$L.npy" "${extra[@]}" --y "$work/var_$name.y$L.npy"
  done
done
vt="$work/var_variable_tagger/variable_tagger"
expect "variable length: training on length-2 data" 0 "Epoch 20/20" -- "$vt" fit --weights "$work/var_variable_tagger.w" \
  --x "$work/var_variable_tagger.x2.npy" --y "$work/var_variable_tagger.y2.npy" --epochs 20 --batch-size 3 \
  --out "$work/var_variable_tagger.w2"
expect "variable length: predictions keep the data's length" 0 "p.npy: 4 predictions" -- "$vt" predict \
  --weights "$work/var_variable_tagger.w" --x "$work/var_variable_tagger.x2.npy" --out "$work/var_p.npy"
expect "variable length: a wrong shape names the accepted lengths" 1 "the model takes \(n, 1\.\.5, 5\)" -- "$vt" predict \
  --weights "$work/var_variable_tagger.w" --x examples/data/sum_x.npy --out "$work/var_p.npy"

# A functional model writes one .npy per output; the state equals the last step.
expect "functional model: two outputs" 0 "rs.npy: 6 predictions of output 0" \
  -- "$work/rnn_state/rnn_state" predict --weights "$work/rnn_state.w.safetensors" --x "$work/rnn_state.x.npy" --out "$work/rs.npy"
[ -f "$work/rs_1.npy" ] && ok || ko "functional model: rs_1.npy missing"

# --- fit and evaluate: Keras's callbacks, validation, resume ---------------
s="$work/sum/sum_regression"
sx=examples/data/sum_x.npy
sy=examples/data/sum_y.npy
expect "early stopping prints the epoch it stopped at" 0 "^Epoch [0-9]+: early stopping" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 1000 --batch-size 1 --seed 1 --log-every 1000 \
  --early-stopping --monitor loss --patience 10 --out "$work/es.safetensors"
expect "early stopping: the summary line names the epochs" 0 "early stopping: stopped after epoch [0-9]+ of 1000; best loss" \
  -- "$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 1000 --batch-size 1 --seed 1 --verbose 0 \
  --early-stopping --monitor loss --patience 10 --restore-best-weights --plot "$work/es.svg" --csv "$work/es.csv" \
  --out "$work/es.safetensors"
if head -c 5 "$work/es.svg" | grep -q '^<svg' && [ "$(grep -c '<polyline' "$work/es.svg")" = 1 ] && grep -q '</svg>' "$work/es.svg"; then
  ok
else ko "--plot did not write an SVG with one polyline: $work/es.svg"; fi
if [ "$(head -1 "$work/es.csv" | tr -d '\r')" = "epoch,loss" ] && sed -n 2p "$work/es.csv" | grep -q '^0,[0-9]'; then
  ok
else ko "--csv header or first row: $(head -2 "$work/es.csv")"; fi
expect "evaluate prints the loss" 0 "^loss [0-9]+\.[0-9]+" -- "$s" evaluate --weights "$work/es.safetensors" --x $sx --y $sy
expect "evaluate with metrics" 0 "^mae [0-9]" -- "$s" evaluate --weights "$work/es.safetensors" --x $sx --y $sy \
  --batch-size 4 --metrics mae,mse
# issue 13: root_mean_squared_error is the root of the epoch's mean squared
# error (Keras's RootMeanSquaredError), not a mean of the batches' roots: with
# 13 samples in batches of 4 (the last of 1), rmse^2 = mse; mape is printed
ev=$("$s" evaluate --weights "$work/es.safetensors" --x $sx --y $sy --batch-size 4 --verbose 0 \
  --metrics mse,root_mean_squared_error,mape)
mse=$(sed -n 's/^mse //p' <<<"$ev")
rmse=$(sed -n 's/^root_mean_squared_error //p' <<<"$ev")
if [ -n "$rmse" ] && grep -qE '^mape [0-9]' <<<"$ev" &&
  awk -v a="$rmse" -v b="$mse" 'BEGIN { d = a * a - b; if (d < 0) d = -d; exit !(d <= 1e-12 * b) }'; then
  ok
else ko "evaluate: rmse '$rmse' is not the root of mse '$mse' (or no mape): $ev"; fi
# precision, recall and auc: in the progress bar and the CSV (the model's
# compile metrics), and the same at any batch size (confusion counts over
# the epoch, not a mean of the batches' values)
$rnnc build tests/cli/fixtures/binary_metrics.lua -o "$work/binm" --dtype float64 >/dev/null 2>&1 || ko "build binary_metrics"
bm="$work/binm/binary_metrics"
bx=tests/cli/fixtures/binary_x.npy
by=tests/cli/fixtures/binary_y.npy
"$bm" init --seed 1 --out "$work/binm.w" >/dev/null
expect "fit prints precision, recall and auc" 0 "loss: [0-9.]+ - precision: [0-9.]+ - recall: [0-9.]+ - auc: [0-9.]+" \
  -- "$bm" fit --weights "$work/binm.w" --x $bx --y $by --epochs 2 --batch-size 3 --csv "$work/binm.csv" \
  --out "$work/binm.w2"
if [ "$(head -1 "$work/binm.csv" | tr -d '\r')" = "epoch,auc,loss,precision,recall" ] &&
  [ "$(wc -l <"$work/binm.csv")" -ge 2 ]; then
  ok
else ko "--csv with precision, recall, auc: $(head -2 "$work/binm.csv")"; fi
e1=$("$bm" evaluate --weights "$work/binm.w" --x $bx --y $by --batch-size 1 --verbose 0)
e3=$("$bm" evaluate --weights "$work/binm.w" --x $bx --y $by --batch-size 3 --verbose 0)
e64=$("$bm" evaluate --weights "$work/binm.w" --x $bx --y $by --batch-size 64 --verbose 0)
# these weights (init --seed 1) predict 0.2138 0.5481 0.4749 0.4451 0.8365
# 0.5317 0.6881 0.6447 0.7198 0.783 for the labels 1 1 0 1 0 1 0 0 0 0: 7
# predicted positive of which 2 true, 2 of the 4 positives found: precision
# 2/7, recall 1/2; every prediction in its own bucket of 200, so Keras's AUC
# is the exact one, 1 of the 24 positive-negative pairs ordered: 1/12
# (computed apart with numpy from the driver's predict). The loss, a mean of
# the batches' means, may differ in its last digit with the batch size (it
# did at -O0 under the sanitizers); the counted metrics may not.
e1=$(grep -v '^loss ' <<<"$e1")
e3=$(grep -v '^loss ' <<<"$e3")
e64=$(grep -v '^loss ' <<<"$e64")
if [ "$e1" = "$e3" ] && [ "$e3" = "$e64" ] && grep -q '^precision 0.2857142857142857' <<<"$e3" &&
  grep -q '^recall 0.5$' <<<"$e3" && grep -qE '^auc 0.0833333' <<<"$e3"; then
  ok
else ko "precision/recall/auc depend on the batch size or differ: [$e1] [$e3] [$e64]"; fi
expect "precision needs dense targets" 1 "metric 'precision' needs dense targets" -- "$t" evaluate \
  --weights "$work/w.safetensors" --x $x --y $y --metrics precision
expect "top k with k >= classes" 0 "sparse_top_k_categorical_accuracy: 1.0000" -- "$t" fit \
  --weights "$work/w.safetensors" --x $x --y $y --epochs 1 --metrics sparse_top_k_categorical_accuracy \
  --out "$work/topk.safetensors"
# a batch larger than the unit's (32) is evaluated in chunks: the same loss as small batches
l64=$("$s" evaluate --weights "$work/es.safetensors" --x $sx --y $sy --batch-size 64 --verbose 0 | sed -n 's/^loss //p')
l4=$("$s" evaluate --weights "$work/es.safetensors" --x $sx --y $sy --batch-size 4 --verbose 0 | sed -n 's/^loss //p')
if [ -n "$l64" ] && awk -v a="$l64" -v b="$l4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6 * b) }'; then
  ok
else ko "evaluate: batch 64 (over the unit's 32) gives loss '$l64', batch 4 '$l4'"; fi
# with --restore-best-weights the summary names the best epoch's loss
best=$(sed -n 's/.*best loss \([0-9.e+-]*\) at epoch.*/\1/p' <<<"$("$s" fit --weights "$work/sum.w0.safetensors" --x $sx \
  --y $sy --epochs 1000 --batch-size 1 --seed 1 --verbose 0 --early-stopping --monitor loss --patience 10 \
  --restore-best-weights --out "$work/es.safetensors")")
[ -n "$best" ] && ok || ko "no best loss in the early-stopping summary"
expect "validation split and the default monitor val_loss" 0 "val_loss: [0-9]" -- "$s" fit --weights "$work/sum.w0.safetensors" \
  --x $sx --y $sy --epochs 30 --batch-size 4 --validation-split 0.25 --early-stopping --patience 2 --out "$work/vs.safetensors"
expect "explicit validation data" 0 "val_loss: [0-9]" -- "$s" fit --weights "$work/sum.w0.safetensors" \
  --x $sx --y $sy --epochs 2 --batch-size 4 --val-x $sx --val-y $sy --out "$work/vs.safetensors"
expect "val_loss without validation data" 1 "monitors 'val_loss', which is not available" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 2 --early-stopping --monitor val_loss --out "$work/vs.safetensors"
expect "validation needs both files" 1 "both --val-x and --val-y" -- "$s" fit --weights "$work/sum.w0.safetensors" \
  --x $sx --y $sy --val-x $sx --out "$work/vs.safetensors"
expect "a bad --mode" 2 "--mode: 'up' is not auto, min or max" -- "$s" fit --weights "$work/sum.w0.safetensors" \
  --x $sx --y $sy --mode up --out "$work/vs.safetensors"
expect "optimizer overrides" 0 "Epoch 3/3" -- "$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy \
  --epochs 3 --batch-size 4 --optimizer sgd --learning-rate 0.0001 --momentum 0.9 --nesterov --clipnorm 1 \
  --out "$work/opt.safetensors"

# issue 13: the other optimizers and schedules from the command line; Nadam's
# state is its slots and the step count, so a resumed run is one run
expect "Ftrl with CosineDecay's warmup" 0 "Epoch 3/3" -- "$s" fit --weights "$work/sum.w0.safetensors" --x $sx \
  --y $sy --epochs 3 --batch-size 4 --optimizer ftrl --l1-regularization-strength 0.01 --schedule 5 \
  --decay-steps 4 --warmup-target 0.01 --warmup-steps 2 --alpha 0.1 --out "$work/opt.safetensors"
expect "a schedule is a whole number" 2 "--schedule takes a whole number from 0 to 1000, not '2.5'" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy --schedule 2.5 --out "$work/opt.safetensors"
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 6 --batch-size 4 --seed 5 --verbose 0 \
  --optimizer nadam --schedule 6 --decay-steps 3 --t-mul 1.5 --m-mul 0.9 --out "$work/nwhole.safetensors" >/dev/null
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 3 --batch-size 4 --seed 5 --verbose 0 \
  --optimizer nadam --schedule 6 --decay-steps 3 --t-mul 1.5 --m-mul 0.9 --out "$work/nhalf.safetensors" >/dev/null
"$s" fit --weights "$work/nhalf.safetensors" --x $sx --y $sy --epochs 6 --initial-epoch 3 --batch-size 4 --seed 5 \
  --verbose 0 --optimizer nadam --schedule 6 --decay-steps 3 --t-mul 1.5 --m-mul 0.9 --resume \
  --out "$work/nresumed.safetensors" >/dev/null
cmp -s "$work/nwhole.safetensors" "$work/nresumed.safetensors" && ok || ko "resumed Nadam training differs from one run"

# A checkpoint every epoch, then --resume from it: the same bytes as one run.
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 20 --batch-size 4 --seed 5 --verbose 0 \
  --out "$work/whole.safetensors" >/dev/null
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 10 --batch-size 4 --seed 5 --verbose 0 \
  --checkpoint "$work/ck{epoch:02d}.safetensors" --out "$work/half.safetensors" >/dev/null
[ -f "$work/ck01.safetensors" ] && [ -f "$work/ck10.safetensors" ] && ok || ko "checkpoints ck01 .. ck10 missing"
expect "resume reads the optimizer state" 0 "resuming from .*ck10.safetensors: 40 optimizer updates done" \
  -- "$s" fit --weights "$work/ck10.safetensors" --x $sx --y $sy --epochs 20 --initial-epoch 10 --batch-size 4 --seed 5 \
  --verbose 0 --resume --out "$work/resumed.safetensors"
cmp -s "$work/whole.safetensors" "$work/resumed.safetensors" && ok || ko "resumed training differs from one run"
expect "the checkpoint loads as plain weights" 0 "sample 0:" -- "$s" predict --weights "$work/ck10.safetensors" \
  --x examples/data/sum_query.npy --out "$work/ckp.npy"
expect "resume from a file without optimizer state" 0 "holds no optimizer state" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 1 --batch-size 4 --resume --out "$work/r0.safetensors"
expect "resume with another optimizer" 1 "another optimizer" -- "$s" fit --weights "$work/ck10.safetensors" --x $sx --y $sy \
  --epochs 1 --batch-size 4 --resume --optimizer sgd --momentum 0.5 --out "$work/r0.safetensors"
# ReduceLROnPlateau (Keras 3's rules): min_delta 1e9 makes every epoch after
# the first a plateau, patience 1 cuts at each; the float32 unit holds its
# rate in float32, as Keras's variable (0.001f * 0.5 printed as Python does)
rlr=(--reduce-lr-on-plateau --reduce-lr-monitor loss --reduce-lr-patience 1 --reduce-lr-min-delta 1e9
  --reduce-lr-factor 0.5)
expect "ReduceLROnPlateau prints Keras's message" 0 \
  "^Epoch 2: ReduceLROnPlateau reducing learning rate to 0\.0005000000237487257\.$" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 3 --verbose 2 "${rlr[@]}" --reduce-lr-verbose 1 \
  --csv "$work/rlr.csv" --out "$work/rlr.safetensors"
if [ "$(head -1 "$work/rlr.csv" | tr -d '\r')" = "epoch,learning_rate,loss" ] &&
  [ "$(cut -d, -f2 "$work/rlr.csv" | tr -d '\r' | tail -n +2 | tr '\n' ' ')" = \
    "0.0010000000474974513 0.0010000000474974513 0.0005000000237487257 " ]; then
  ok
else ko "the CSV log's learning_rate column: $(cat "$work/rlr.csv")"; fi
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 3 --verbose 2 "${rlr[@]}" \
  --out "$work/rlr.safetensors" | grep -q "ReduceLROnPlateau reducing" && ko "--reduce-lr-verbose 0 printed" || ok
expect "ReduceLROnPlateau refuses a factor >= 1" 1 "does not support a factor >= 1.0" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy "${rlr[@]}" --reduce-lr-factor 1 --out "$work/r0.safetensors"
expect "ReduceLROnPlateau refuses a schedule" 1 "cannot set the learning rate of an optimizer with a learning-rate" \
  -- "$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy "${rlr[@]}" --schedule 3 --decay-steps 10 \
  --decay-rate 0.5 --out "$work/r0.safetensors"
# the reduced rate is in the checkpoint and --resume continues with it: cut
# once to min_lr at epoch 2, then none; 6 epochs = 3 + resume 3, bytewise
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 6 --batch-size 4 --seed 5 --verbose 0 \
  "${rlr[@]}" --reduce-lr-min-lr 0.0005 --out "$work/rlr_whole.safetensors" >/dev/null
"$s" fit --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 3 --batch-size 4 --seed 5 --verbose 0 \
  "${rlr[@]}" --reduce-lr-min-lr 0.0005 --checkpoint "$work/rlr_ck.safetensors" --out "$work/rlr_half.safetensors" \
  >/dev/null
expect "resume restores ReduceLROnPlateau's rate" 0 \
  "resuming from .*rlr_ck.safetensors: 12 optimizer updates done, learning rate 0.000500000024" -- "$s" fit \
  --weights "$work/rlr_ck.safetensors" --x $sx --y $sy --epochs 6 --initial-epoch 3 --batch-size 4 --seed 5 \
  --verbose 0 "${rlr[@]}" --reduce-lr-min-lr 0.0005 --resume --out "$work/rlr_resumed.safetensors"
cmp -s "$work/rlr_whole.safetensors" "$work/rlr_resumed.safetensors" && ok ||
  ko "a resumed ReduceLROnPlateau run differs from one run"
# ... and without --resume (Adam's 0.001 again) it differs
"$s" fit --weights "$work/rlr_ck.safetensors" --x $sx --y $sy --epochs 6 --initial-epoch 3 --batch-size 4 --seed 5 \
  --verbose 0 "${rlr[@]}" --reduce-lr-min-lr 0.0005 --out "$work/rlr_fresh.safetensors" >/dev/null
cmp -s "$work/rlr_whole.safetensors" "$work/rlr_fresh.safetensors" && ko "the rate made no difference" || ok
# in a description: fit{callbacks = {ReduceLROnPlateau{...}}}; TerminateOnNaN accepted
cat >"$work/rlrdesc.lua" <<'LUA'
local model = Sequential { SimpleRNN { 3, input_shape = { 3, 1 } }, Dense { 1 } }
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
model:fit { epochs = 2, verbose = 0, callbacks = { ReduceLROnPlateau { monitor = "loss", patience = 1,
  min_delta = 1e9, factor = 0.25, verbose = 1 } } }
return model
LUA
if $rnnc build "$work/rlrdesc.lua" -o "$work/rlrdesc" >/dev/null 2>&1; then
  "$work/rlrdesc/rlrdesc" init --seed 1 --out "$work/rlrd0.safetensors" >/dev/null
  expect "ReduceLROnPlateau from the description" 0 \
    "^Epoch 2: ReduceLROnPlateau reducing learning rate to 0\.0024999999441206455\.$" -- "$work/rlrdesc/rlrdesc" fit \
    --weights "$work/rlrd0.safetensors" --x $sx --y $sy --out "$work/rlrd1.safetensors"
else ko "build $work/rlrdesc.lua (ReduceLROnPlateau)"; fi
sed 's/ReduceLROnPlateau {.*/TerminateOnNaN {} } }/; /min_delta = 1e9/d' "$work/rlrdesc.lua" >"$work/tonan.lua"
expect "TerminateOnNaN is accepted by name (rnnc's own stop)" 0 "wrote" \
  -- $rnnc generate "$work/tonan.lua" -o "$work/tonan" --no-format
# divergence keeps the last good checkpoint
expect "divergence with a checkpoint" 3 "the loss or a gradient is not finite" -- "$d" fit --weights "$work/d0.safetensors" \
  --x $x --y $y --epochs 50 --batch-size 2 --checkpoint "$work/dck.safetensors" --out "$work/d2.safetensors"
if [ -f "$work/dck.safetensors" ] && ! grep -qiE "nan|inf" <<<"$("$d" predict --weights "$work/dck.safetensors" --x $x --out "$work/dp.npy")"; then
  ok
else ko "the checkpoint after divergence is missing or not finite"; fi

# The description's model:fit{...} gives the driver's defaults; the command line wins.
cat >"$work/fitdefaults.lua" <<'LUA'
local model = Sequential {
  LSTM { 20, activation = "relu", input_shape = { 3, 1 } },
  Dense { 5, activation = "relu" },
  Dense { 1 },
}
model:compile { optimizer = "adam", loss = "mse" }
model:fit { epochs = 1000, batch_size = 1, verbose = 0, callbacks = { EarlyStopping { monitor = "loss", patience = 10 } } }
return model
LUA
if $rnnc build "$work/fitdefaults.lua" -o "$work/fitdefaults" >/dev/null 2>&1; then
  fd="$work/fitdefaults/fitdefaults"
  "$fd" init --seed 1 --out "$work/fd0.safetensors" >/dev/null
  expect "fit defaults from the description" 0 "early stopping: stopped after epoch [0-9]+ of 1000" -- "$fd" fit \
    --weights "$work/fd0.safetensors" --x $sx --y $sy --seed 1 --out "$work/fd1.safetensors"
  expect "the command line overrides the fit defaults" 0 "Epoch 3/3" -- "$fd" fit --weights "$work/fd0.safetensors" \
    --x $sx --y $sy --epochs 3 --verbose 1 --early-stopping=0 --out "$work/fd1.safetensors"
else ko "build $work/fitdefaults.lua (model:fit{...})"; fi

# --- long sequences: 1,000 steps --------------------------------------------
if $rnnc build tests/cli/fixtures/long_sequence.lua -o "$work/long" --timesteps 1000 --dtype float64 --batch 2 \
  >/dev/null 2>&1; then
  ls="$work/long/long_sequence"
  "$ls" init --seed 1 --out "$work/long.w" >/dev/null
  "$ls" sample --seed 2 --n 2 --x "$work/long.x.npy" --y "$work/long.y.npy" >/dev/null
  "$ls" sample --seed 3 --n 2 --steps 637 --x "$work/long.x637.npy" --y "$work/long.y637.npy" >/dev/null
  "$ls" sample --seed 4 --n 1 --x "$work/long.x1.npy" --y "$work/long.y1.npy" >/dev/null
  expect "1,000 steps: generated = reference" 0 "^OK: worst relative" \
    -- "$ls" diff --weights "$work/long.w" --x "$work/long.x.npy" --y "$work/long.y.npy"
  expect "637 of 1,000 steps: generated = reference" 0 "^OK: worst relative" \
    -- "$ls" diff --weights "$work/long.w" --x "$work/long.x637.npy" --y "$work/long.y637.npy"
  expect "1,000 steps: gradients = finite differences, every entry" 0 \
    "^OK: [0-9]+ weights and 1000 inputs.* 1181 entries checked" -- "$ls" gradcheck --weights "$work/long.w" \
    --x "$work/long.x1.npy" --y "$work/long.y1.npy" --sample 0
  expect "1,000 steps: fit" 0 "Epoch 5/5" -- "$ls" fit --weights "$work/long.w" --x "$work/long.x.npy" \
    --y "$work/long.y.npy" --epochs 5 --batch-size 2 --out "$work/long.w2"
else ko "build tests/cli/fixtures/long_sequence.lua with --timesteps 1000"; fi

# --- what a newcomer tripped on ---------------------------------------------
# Without clang-format, generate says to install it or pass --no-format, and writes nothing.
nofmt="$work/nofmt-bin"
mkdir -p "$nofmt" && for tool in mkdir readlink; do ln -sf "$(command -v $tool)" "$nofmt/$tool"; done
lua=$(command -v lua5.4)
expect "no clang-format: the message names --no-format" 1 "clang-format is not installed.*--no-format" \
  -- env PATH="$nofmt" "$lua" bin/rnnc generate examples/tagger.lua -o "$work/nofmt"
[ ! -e "$work/nofmt" ] && ok || ko "generate without clang-format wrote $work/nofmt"
expect "no clang-format: --no-format writes the unit" 0 "wrote" \
  -- env PATH="$nofmt" "$lua" bin/rnnc generate examples/tagger.lua -o "$work/nofmt" --no-format

# fit that fails before training writes no --out file.
cat >"$work/nocompile.lua" <<'LUA'
return Sequential { SimpleRNN { 3, input_shape = { 3, 3 } } }
LUA
if $rnnc build "$work/nocompile.lua" -o "$work/nocompile" >/dev/null 2>&1; then
  nc="$work/nocompile/nocompile"
  "$nc" init --seed 1 --out "$work/nc0.safetensors" >/dev/null
  "$nc" sample --seed 1 --n 4 --x "$work/nc.x.npy" --y "$work/nc.y.npy" >/dev/null
  expect "fit without a loss fails" 1 "not compiled with a loss" -- "$nc" fit --weights "$work/nc0.safetensors" \
    --x "$work/nc.x.npy" --y "$work/nc.y.npy" --out "$work/nc1.safetensors"
  [ ! -e "$work/nc1.safetensors" ] && ok || ko "fit failed before training but wrote its --out file"
else ko "build $work/nocompile.lua"; fi
expect "fit with a bad option writes nothing" 1 "monitors 'val_loss', which is not available" -- "$s" fit \
  --weights "$work/sum.w0.safetensors" --x $sx --y $sy --epochs 2 --early-stopping --monitor val_loss \
  --out "$work/never.safetensors"
[ ! -e "$work/never.safetensors" ] && ok || ko "fit failed before training but wrote its --out file"

# --batch-size over the unit's batch: the gradients of sub-batches summed, the
# same training as a unit generated with the larger batch.
for b in 4 16; do
  $rnnc build examples/sum_regression.lua -o "$work/sum_b$b" --dtype float64 --batch $b >/dev/null 2>&1 || ko "build batch $b"
  "$work/sum_b$b/sum_regression" init --seed 2 --out "$work/sum_b$b.w0.safetensors" >/dev/null
  expect "fit --batch-size 13 on a unit of batch $b" 0 "Epoch 5/5" -- "$work/sum_b$b/sum_regression" fit \
    --weights "$work/sum_b$b.w0.safetensors" --x $sx --y $sy --epochs 5 --batch-size 13 --no-shuffle \
    --out "$work/sum_b$b.w1.safetensors"
done
# the two weight files (float64, same tensors in the same order) agree to rounding
rel=$(lua5.4 - "$work/sum_b4.w1.safetensors" "$work/sum_b16.w1.safetensors" <<'LUA'
local function values(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  local n = string.unpack("<I8", s)
  local out = {}
  for i = 9 + n, #s - 7, 8 do
    out[#out + 1] = string.unpack("<d", s, i)
  end
  return out
end
local a, b = values(arg[1]), values(arg[2])
assert(#a == #b and #a > 0, "different sizes")
local worst, scale = 0, 0
for i = 1, #a do
  worst = math.max(worst, math.abs(a[i] - b[i]))
  scale = math.max(scale, math.abs(b[i]))
end
print(string.format("%.3e", worst / scale))
LUA
)
if [ -n "$rel" ] && awk -v r="$rel" 'BEGIN { exit !(r <= 1e-12) }'; then ok
else ko "batch 13 on a unit of batch 4 differs from a unit of batch 16 by $rel (relative)"; fi

# gradcheck checks --sample N entries of each tensor, says how many and how
# long it will take before it starts, and --sample 0 checks all.
g="$work/sum_regression/sum_regression"
expect "gradcheck --sample: the entries and the time first" 0 "gradcheck: 15 of 1889 entries .* about [0-9]+ s" \
  -- "$g" gradcheck --weights "$work/sum_regression.w.safetensors" --x "$work/sum_regression.x.npy" \
  --y "$work/sum_regression.y.npy" --sample 2
expect "gradcheck --sample: the result says how many were checked" 0 "^OK: .*15 entries checked, --sample 0 checks all" \
  -- "$g" gradcheck --weights "$work/sum_regression.w.safetensors" --x "$work/sum_regression.x.npy" \
  --y "$work/sum_regression.y.npy" --sample 2
expect "gradcheck --sample 0 checks every entry" 0 "gradcheck: 1889 of 1889 entries \(all" \
  -- "$g" gradcheck --weights "$work/sum_regression.w.safetensors" --x "$work/sum_regression.x.npy" \
  --y "$work/sum_regression.y.npy" --sample 0

# diff's default tolerances: a correct unit trained to a near-perfect fit
# passes in float32 and float64 (their gradients' relative errors, 4e-4 and
# 1e-12, failed the old 1e-5 and 1e-12), and the same unit with its sigmoid
# gate changed by one float32 ulp (a factor 1 + 2^-23) fails in both.
cat >"$work/deep.lua" <<'LUA'
local model = Sequential {
  LSTM { 24, input_shape = { 40, 4 }, return_sequences = true },
  LSTM { 24 },
  Dense { 1 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
LUA
for dt in float32 float64; do
  $rnnc build "$work/deep.lua" -o "$work/deep_$dt" --dtype $dt --batch 16 >/dev/null 2>&1 || ko "build deep $dt"
done
dp="$work/deep_float32/deep"
"$dp" init --seed 3 --out "$work/deep.w0" >/dev/null
"$dp" sample --seed 4 --n 16 --x "$work/deep.x.npy" --y "$work/deep.y.npy" >/dev/null
"$dp" fit --weights "$work/deep.w0" --x "$work/deep.x.npy" --y "$work/deep.y.npy" --epochs 150 --batch-size 16 \
  --verbose 0 --out "$work/deep.w1" >/dev/null
for dt in float32 float64; do
  expect "diff: a correct $dt unit trained to a near-perfect fit" 0 "^OK: worst relative" -- "$work/deep_$dt/deep" \
    diff --weights "$work/deep.w1" --x "$work/deep.x.npy" --y "$work/deep.y.npy"
  bad="$work/deep_bad_$dt"
  rm -rf "$bad" && cp -r "$work/deep_$dt" "$bad"
  if [ $dt = float32 ]; then
    sed -i 's|  return 1.0f / (1.0f + rnnc_expf(-v));|  return 1.0f / (1.0f + rnnc_expf(-v)) * (1.0f + 0x1p-23f);|' "$bad/deep.c"
  else
    sed -i 's|  return 1.0 / (1.0 + exp(-v));|  return 1.0 / (1.0 + exp(-v)) * (1.0 + 0x1p-23);|' "$bad/deep.c"
  fi
  if grep -q "0x1p-23" "$bad/deep.c" && ${CC:-cc} -std=c99 -O2 $CFLAGS -Iruntime -Iruntime/reference -I"$bad" \
    "$bad/deep.c" "$bad/deep_main.c" "$BUILD/librnnc_ref.a" "$BUILD/librnnc.a" -lm -o "$bad/deep"; then
    expect "diff: a one-ulp change in a $dt gate formula fails" 1 "^FAIL: worst relative" -- "$bad/deep" diff \
      --weights "$work/deep.w1" --x "$work/deep.x.npy" --y "$work/deep.y.npy"
  else ko "the sigmoid of the $dt unit was not changed or does not compile"; fi
done

# Keras's accuracy under either name: a monitor of val_acc finds val_accuracy.
expect "EarlyStopping monitors val_acc" 0 "early stopping: .*best val_acc" -- "$t" fit --weights "$work/w.safetensors" \
  --x $x --y $y --val-x $x --val-y $y --epochs 3 --verbose 0 --early-stopping --monitor val_acc --patience 5 \
  --out "$work/acc.safetensors"

# --- the front-end examples, written from Keras code ----------------------
# The LSTM autoencoder (examples/lstm_autoencoder.lua): Keras's summary (the
# tutorial prints 40800, 0, 80400, 101), then 300 epochs of its own fit{}
# defaults rebuild the sequence 0.1 .. 0.9 to 0.02.
ae=examples/lstm_autoencoder.lua
expect "autoencoder summary: Keras's counts" 0 "repeat_vector \(RepeatVector.*Total params: 121,301" -- \
  bash -c "$rnnc summary $ae | tr '\n' ' '"
$rnnc build $ae -o "$work/ae" >/dev/null 2>&1 || ko "build the LSTM autoencoder"
"$work/ae/lstm_autoencoder" init --seed 1 --out "$work/ae.w0" >/dev/null
"$work/ae/lstm_autoencoder" fit --weights "$work/ae.w0" --x examples/data/autoencoder_x.npy \
  --y examples/data/autoencoder_x.npy --seed 1 --out "$work/ae.w1" >/dev/null
out=$("$work/ae/lstm_autoencoder" predict --weights "$work/ae.w1" --x examples/data/autoencoder_x.npy \
  --out "$work/ae.p.npy" | sed -n 's/^sample 0: //p' | tr -d '[]')
if awk -v v="$out" 'BEGIN { n = split(v, a, " "); if (n != 9) exit 1;
  for (i = 1; i <= 9; i++) if (a[i] < i / 10 - 0.02 || a[i] > i / 10 + 0.02) exit 1 }'; then ok; else
  ko "the autoencoder did not rebuild 0.1 .. 0.9: $out"
fi
# The CNN-LSTM forecaster (examples/cnn_lstm_forecaster.lua): causal Conv1D ->
# LSTM -> LSTM -> Dense over windows of 20 readings of a noisy seasonal
# series (its noise is 0.0125 on this scale): 100 epochs of its own fit{}
# bring the mean absolute error of the next-reading forecast under 0.025;
# the streaming API, one reading per call, forecasts what predict does; and
# the float64 unit, built for any length up to 20 and run at 14, matches the
# reference runtime.
fc=examples/cnn_lstm_forecaster.lua
$rnnc build $fc -o "$work/fc" --timesteps 20 >/dev/null 2>&1 || ko "build the CNN-LSTM forecaster"
f="$work/fc/cnn_lstm_forecaster"
grep -q "No streaming API" "$work/fc/cnn_lstm_forecaster.h" && ko "the causal forecaster does not stream" || ok
"$f" init --seed 1 --out "$work/fc.w0" >/dev/null
# (under the sanitizers 3 epochs: the description's 100 at -O0 with ASan took
# 4 minutes, and the memory checks need no converged model)
fc_epochs=()
[ $sanitized = 1 ] && fc_epochs=(--epochs 3)
"$f" fit --weights "$work/fc.w0" --x examples/data/forecast_x.npy --y examples/data/forecast_y.npy --seed 1 \
  "${fc_epochs[@]}" --verbose 0 --out "$work/fc.w1" >/dev/null
mae=$("$f" evaluate --weights "$work/fc.w1" --x examples/data/forecast_x.npy --y examples/data/forecast_y.npy |
  sed -n 's/^mae //p')
if [ $sanitized = 1 ]; then
  awk -v v="$mae" 'BEGIN { exit !(v > 0) }' && ok || ko "the forecaster's mae is '$mae'"
elif awk -v v="$mae" 'BEGIN { exit !(v > 0 && v < 0.025) }'; then ok; else ko "the forecaster's mae is '$mae'"; fi
"$f" predict --weights "$work/fc.w1" --x examples/data/forecast_x.npy --out "$work/fc.p.npy" >/dev/null
expect "the forecaster streams" 0 "80 samples x 20 steps of 1 outputs" -- \
  "$f" stream --weights "$work/fc.w1" --x examples/data/forecast_x.npy --out "$work/fc.s.npy"
expect "stream_step forecasts what predict does" 0 "^" -- \
  lua5.4 tests/import/compare.lua npy "$work/fc.s.npy" "$work/fc.p.npy" 1e-6
$rnnc build $fc -o "$work/fc64" --timesteps 20 --dtype float64 --batch 8 >/dev/null 2>&1 || ko "build fc float64"
"$work/fc64/cnn_lstm_forecaster" sample --seed 2 --n 5 --steps 14 --x "$work/fc.x14.npy" --y "$work/fc.y14.npy" \
  >/dev/null
expect "forecaster (float64, 14 of 20 steps): generated = reference" 0 "^OK: worst relative" -- \
  "$work/fc64/cnn_lstm_forecaster" diff --weights "$work/fc.w1" --x "$work/fc.x14.npy" --y "$work/fc.y14.npy"
expect "stream refused with the header's reason" 1 "cannot stream" -- \
  "$work/ae/lstm_autoencoder" stream --weights "$work/ae.w1" --x examples/data/autoencoder_x.npy --out "$work/x.npy"
grep -q "No streaming API (lstm_autoencoder_stream_step): layer 'repeat_vector' (RepeatVector) starts a" \
  "$work/ae/lstm_autoencoder.h" && grep -q "sequence from a vector that depends on the whole input" \
  "$work/ae/lstm_autoencoder.h" && ok || ko "the autoencoder's header does not say why it cannot stream"

# --- every core: --threads, --micro-batch --------------------------------------
# float32 weights after 4 epochs in batches of 20 cut into micro-batches of 4
# (a unit of batch 8) are the same bytes on 1, 2, 3 and 5 threads and without
# --threads; another micro-batch gives other bytes (the comparison can tell).
$rnnc build examples/lstm_tagger.lua -o "$work/par" --batch 8 >/dev/null 2>&1 || ko "build lstm_tagger --batch 8"
lt="$work/par/lstm_tagger"
"$lt" init --seed 1 --out "$work/par.w0.safetensors" >/dev/null
"$lt" sample --seed 8 --n 50 --x "$work/par.x.npy" --y "$work/par.y.npy" >/dev/null
for th in 0 1 2 3 5; do
  thr=(--threads "$th")
  [ "$th" = 0 ] && thr=()
  expect "fit --threads $th" 0 "Epoch 4/4" -- "$lt" fit --weights "$work/par.w0.safetensors" \
    --x "$work/par.x.npy" --y "$work/par.y.npy" --epochs 4 --batch-size 20 --micro-batch 4 "${thr[@]}" \
    --seed 2 --log-every 4 --csv "$work/par.t$th.csv" --out "$work/par.t$th.safetensors"
done
for th in 1 2 3 5; do
  cmp -s "$work/par.t0.safetensors" "$work/par.t$th.safetensors" && cmp -s "$work/par.t0.csv" "$work/par.t$th.csv" &&
    ok || ko "fit --threads $th: weights or logs differ from one thread's"
done
"$lt" fit --weights "$work/par.w0.safetensors" --x "$work/par.x.npy" --y "$work/par.y.npy" --epochs 4 \
  --batch-size 20 --micro-batch 2 --threads 2 --seed 2 --verbose 0 --out "$work/par.m5.safetensors" >/dev/null
cmp -s "$work/par.t0.safetensors" "$work/par.m5.safetensors" && ko "--micro-batch 2 gave the bytes of 4" || ok
expect "fit --micro-batch over the unit's batch" 1 "micro_batch 9 is outside 1..8" -- "$lt" fit \
  --weights "$work/par.w0.safetensors" --x "$work/par.x.npy" --y "$work/par.y.npy" --micro-batch 9 \
  --out "$work/par.bad.safetensors"
for th in 1 3; do
  expect "predict --threads $th" 0 "50 predictions" -- "$lt" predict --weights "$work/par.t0.safetensors" \
    --x "$work/par.x.npy" --threads $th --out "$work/par.p$th.npy"
done
cmp -s "$work/par.p1.npy" "$work/par.p3.npy" && ok || ko "predict --threads 3 differs from one thread"


# issue 13: fit(sample_weight=...) and class_weight (Keras's
# class_weight_to_sample_weights): a classifier of sparse labels
$rnnc build tests/units/fit.lua -o "$work/cw" --dtype float64 --batch 8 >/dev/null 2>&1 || ko "build fit.lua"
c="$work/cw/fit"
"$c" init --seed 3 --out "$work/cw.w0.safetensors" >/dev/null
npy "$work/cw.x.npy" "(6, 3, 2)" .1 .2 .3 -.4 .5 .6 -.7 .8 .9 .1 -.2 .3 .4 .5 -.6 .7 .8 .9 \
  -.1 .2 .3 .4 .5 .6 .7 -.8 .9 .1 .2 .3 -.4 .5 .6 .7 .8 -.9
npy "$work/cw.y.npy" "(6,)" 0 1 2 0 2 1
npy "$work/cw.sw.npy" "(6,)" 2 1 5 2 5 1   # the class weights 0=2,1=1,2=5 per sample
cwfit=("$c" fit --weights "$work/cw.w0.safetensors" --x "$work/cw.x.npy" --y "$work/cw.y.npy" --epochs 3
  --batch-size 4 --seed 4 --verbose 0)
"${cwfit[@]}" --class-weight 0=2,2=5 --out "$work/cw.class.safetensors" >/dev/null
"${cwfit[@]}" --sample-weight "$work/cw.sw.npy" --out "$work/cw.sample.safetensors" >/dev/null
"${cwfit[@]}" --out "$work/cw.none.safetensors" >/dev/null
cmp -s "$work/cw.class.safetensors" "$work/cw.sample.safetensors" && ok ||
  ko "--class-weight 0=2,2=5 differs from the same weights per sample"
cmp -s "$work/cw.class.safetensors" "$work/cw.none.safetensors" && ko "--class-weight changed nothing" || ok
"${cwfit[@]}" --sample-weight "$work/cw.sw.npy" --threads 3 --micro-batch 1 --out "$work/cw.t3.safetensors" >/dev/null
"${cwfit[@]}" --sample-weight "$work/cw.sw.npy" --threads 1 --micro-batch 1 --out "$work/cw.t1.safetensors" >/dev/null
cmp -s "$work/cw.t1.safetensors" "$work/cw.t3.safetensors" && ok || ko "--sample-weight: --threads 3 differs from 1"
lw=$("$c" evaluate --weights "$work/cw.w0.safetensors" --x "$work/cw.x.npy" --y "$work/cw.y.npy" --verbose 0 \
  --sample-weight "$work/cw.sw.npy" | sed -n 's/^loss //p')
lu=$("$c" evaluate --weights "$work/cw.w0.safetensors" --x "$work/cw.x.npy" --y "$work/cw.y.npy" --verbose 0 |
  sed -n 's/^loss //p')
[ -n "$lw" ] && [ -n "$lu" ] && [ "$lw" != "$lu" ] && ok || ko "evaluate --sample-weight: loss '$lw', unweighted '$lu'"
npy "$work/cw.sw5.npy" "(5,)" 1 1 1 1 1
expect "sample weights of the wrong count" 1 "cw.sw5.npy has 5 samples, .*cw.x.npy has 6" -- "${cwfit[@]}" \
  --sample-weight "$work/cw.sw5.npy" --out "$work/cw.bad.safetensors"
npy "$work/cw.swt.npy" "(6, 3)" 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
expect "per-timestep sample weights refused" 1 "per-timestep sample weights .* are not supported" -- "${cwfit[@]}" \
  --sample-weight "$work/cw.swt.npy" --out "$work/cw.bad.safetensors"
npy "$work/cw.swn.npy" "(6,)" 1 1 1 nan 1 1
expect "a NaN sample weight" 1 "cw.swn.npy: sample 3 has weight nan" -- "${cwfit[@]}" \
  --sample-weight "$work/cw.swn.npy" --out "$work/cw.bad.safetensors"
npy "$work/cw.swneg.npy" "(6,)" 1 1 -2 1 1 1
expect "a negative sample weight" 1 "cw.swneg.npy: sample 2 has weight -2: .*finite and >= 0" -- "${cwfit[@]}" \
  --sample-weight "$work/cw.swneg.npy" --out "$work/cw.bad.safetensors"
expect "a negative sample weight in evaluate" 1 "sample 2 has weight -2" -- "$c" evaluate \
  --weights "$work/cw.w0.safetensors" --x "$work/cw.x.npy" --y "$work/cw.y.npy" --sample-weight "$work/cw.swneg.npy"
expect "class and sample weights together" 1 "cannot be used together" -- "${cwfit[@]}" --class-weight 0=2 \
  --sample-weight "$work/cw.sw.npy" --out "$work/cw.bad.safetensors"
expect "a bad --class-weight" 1 "expected CLASS=WEIGHT" -- "${cwfit[@]}" --class-weight 0:2 \
  --out "$work/cw.bad.safetensors"
expect "a negative class weight" 1 "the weight of class 1 is -1" -- "${cwfit[@]}" --class-weight 0=1,1=-1 \
  --out "$work/cw.bad.safetensors"
expect "a class given twice" 1 "class 1 is given twice" -- "${cwfit[@]}" --class-weight 1=1,1=2 \
  --out "$work/cw.bad.safetensors"
expect "class_weight with per-timestep targets" 1 "class_weight is not supported for targets of one row per timestep" \
  -- "$t" fit --weights "$work/w.safetensors" --x $x --y $y --epochs 1 --class-weight 0=1 --out "$work/cw.bad.safetensors"

# fit{class_weight = {[0] = 2, [2] = 5}} in the description is the driver's default
$rnnc build tests/cli/fixtures/class_weight.lua -o "$work/cwd" --dtype float64 --batch 8 >/dev/null 2>&1 ||
  ko "build class_weight.lua"
cd_="$work/cwd/class_weight"
cwdfit=("$cd_" fit --weights "$work/cw.w0.safetensors" --x "$work/cw.x.npy" --y "$work/cw.y.npy" --epochs 3
  --batch-size 4 --seed 4 --verbose 0)
"${cwdfit[@]}" --out "$work/cwd.default.safetensors" >/dev/null
"${cwdfit[@]}" --class-weight "" --sample-weight "$work/cw.sw.npy" --out "$work/cwd.sample.safetensors" >/dev/null
"${cwdfit[@]}" --class-weight "" --out "$work/cwd.none.safetensors" >/dev/null
cmp -s "$work/cwd.default.safetensors" "$work/cwd.sample.safetensors" && ok ||
  ko "fit{class_weight} as the default differs from the same weights per sample"
cmp -s "$work/cwd.default.safetensors" "$work/cwd.none.safetensors" && ko "--class-weight \"\" did not turn it off" || ok
expect "the description's class_weight and --sample-weight" 1 "cannot be used together" -- "${cwdfit[@]}" \
  --sample-weight "$work/cw.sw.npy" --out "$work/cw.bad.safetensors"
# every refusal above names --out cw.bad.safetensors: a failed fit writes nothing
[ ! -e "$work/cw.bad.safetensors" ] && ok || ko "a refused --sample-weight/--class-weight fit wrote its --out file"
# --- weight regularizers and constraints through the driver --------------------
# The same tagger with an L2 penalty: evaluate's loss at the same weights is
# the plain one plus 0.05 sum(kernel^2) (summed by Lua from the weights
# file, to 1e-12); fit with constraints is the same bytes on 1 and 3
# threads, and its bias stays non-negative.
sed 's/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true }/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true, kernel_regularizer = L2 { 0.05 }, kernel_constraint = MaxNorm { 0.4 }, bias_constraint = "non_neg" }/' \
  examples/lstm_tagger.lua >"$work/reg_tagger.lua"
grep -q "kernel_regularizer" "$work/reg_tagger.lua" || ko "the regularized tagger was not written"
$rnnc build "$work/reg_tagger.lua" -o "$work/reg" --dtype float64 --batch 8 >/dev/null 2>&1 || ko "build reg_tagger"
$rnnc build examples/lstm_tagger.lua -o "$work/plain64" --dtype float64 --batch 8 >/dev/null 2>&1 ||
  ko "build lstm_tagger float64"
"$work/plain64/lstm_tagger" init --seed 1 --out "$work/reg.w0.safetensors" >/dev/null
# tensor.lua FILE NAME: the F64 tensor's values, one a line
cat >"$work/tensor.lua" <<'LUA'
local f = assert(io.open(arg[1], "rb"))
local b = f:read("a")
f:close()
local n = string.unpack("<I8", b)
local s, e = b:sub(9, 8 + n):match('"' .. arg[2] .. '":{[^}]*"data_offsets":%[(%d+),(%d+)%]')
for i = tonumber(s), tonumber(e) - 8, 8 do
  print(string.format("%.17g", string.unpack("<d", b, 9 + n + i)))
end
LUA
reg_loss=$("$work/reg/reg_tagger" evaluate --weights "$work/reg.w0.safetensors" --x "$work/par.x.npy" \
  --y "$work/par.y.npy" --verbose 0 | awk '/^loss/ {print $2}')
plain_loss=$("$work/plain64/lstm_tagger" evaluate --weights "$work/reg.w0.safetensors" --x "$work/par.x.npy" \
  --y "$work/par.y.npy" --verbose 0 | awk '/^loss/ {print $2}')
lua5.4 "$work/tensor.lua" "$work/reg.w0.safetensors" lstm/kernel | awk -v r="$reg_loss" -v p="$plain_loss" \
  '{ s += $1 * $1; n++ } END { d = r - (p + 0.05 * s); if (d < 0) d = -d; exit !(n == 48 && d <= 1e-12 * r) }' &&
  ok || ko "evaluate with kernel_regularizer: $reg_loss is not $plain_loss + 0.05 sum(kernel^2)"
for th in 1 3; do
  "$work/reg/reg_tagger" fit --weights "$work/reg.w0.safetensors" --x "$work/par.x.npy" --y "$work/par.y.npy" \
    --epochs 3 --batch-size 20 --micro-batch 4 --threads $th --seed 2 --verbose 0 --csv "$work/reg.t$th.csv" \
    --out "$work/reg.t$th.safetensors" >/dev/null || ko "fit reg_tagger --threads $th"
done
cmp -s "$work/reg.t1.safetensors" "$work/reg.t3.safetensors" && cmp -s "$work/reg.t1.csv" "$work/reg.t3.csv" &&
  ok || ko "fit with regularizers and constraints: --threads 3 differs from one thread"
lua5.4 "$work/tensor.lua" "$work/reg.t1.safetensors" lstm/bias | awk '$1 < 0 { bad = 1 } { n++ } END { exit !(n == 12 && !bad) }' &&
  ok || ko "bias_constraint = \"non_neg\" left a negative bias"

# --- activity regularizers (Keras's penalty on a layer's output, over the
# batch size): the generated loss and gradients equal the reference
# runtime's and finite differences; a batch cut into micro-batches of 4
# trains to the weights of one call of 20 (to 1e-10: the penalty of each
# micro-batch is divided by its samples and weighted by its share, so the
# sum is the batch's; a penalty summed over the samples, Keras 3's before
# keras PR 22021, would differ by the factor 5)
sed 's/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true }/LSTM { 3, input_shape = { 3, 4 }, return_sequences = true, activity_regularizer = L2 { 0.5 } }/; s/Dense { 3, activation = "softmax" }/Dense { 3, activation = "softmax", activity_regularizer = L1L2 { 0.2, 0.1 } }/' \
  examples/lstm_tagger.lua >"$work/act_tagger.lua"
if grep -q "activity_regularizer = L1L2" "$work/act_tagger.lua" &&
  $rnnc build "$work/act_tagger.lua" -o "$work/act" --dtype float64 --batch 20 >/dev/null 2>&1; then
  expect "activity regularizers: generated = reference" 0 "^OK" -- "$work/act/act_tagger" diff \
    --weights "$work/reg.w0.safetensors" --x "$work/par.x.npy" --y "$work/par.y.npy"
  expect "activity regularizers: gradients = finite differences" 0 "^OK" -- "$work/act/act_tagger" gradcheck \
    --weights "$work/reg.w0.safetensors" --x "$work/par.x.npy" --y "$work/par.y.npy" --sample 0
  for mb in 20 4; do
    "$work/act/act_tagger" fit --weights "$work/reg.w0.safetensors" --x "$work/par.x.npy" --y "$work/par.y.npy" \
      --epochs 3 --batch-size 20 --micro-batch $mb --no-shuffle --verbose 0 --out "$work/act.mb$mb.safetensors" \
      >/dev/null || ko "fit act_tagger --micro-batch $mb"
  done
  paste <(lua5.4 "$work/tensor.lua" "$work/act.mb20.safetensors" lstm/kernel) \
    <(lua5.4 "$work/tensor.lua" "$work/act.mb4.safetensors" lstm/kernel) |
    awk '{ d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1; if (d > 1e-10 * (a > 1e-3 ? a : 1e-3)) bad = 1; n++ }
      END { exit !(n == 48 && !bad) }' &&
    ok || ko "activity regularizers: micro-batches of 4 train to other weights than one call of 20"
else
  ko "build act_tagger"
fi

# --- Masking (issue 13): padded sentences behind Masking train as the same
# sentences one at a time, unpadded (tests/cli/masking_padded.lua); what a
# masked loss refuses
if $rnnc build tests/cli/fixtures/masked_tagger.lua -o "$work/masked" --dtype float64 --timesteps 5 --batch 1 \
  >/dev/null 2>&1; then
  mkdir -p "$work/masked-run"
  mt="$work/masked/masked_tagger"
  expect "a padded batch behind Masking trains as the sentences one at a time" 0 "^ok: " \
    -- lua5.4 tests/cli/masking_padded.lua "$mt" "$work/masked-run"
  expect "a masked loss over a batch split in calls is refused" 1 "loss is masked \(Masking\)" \
    -- "$mt" fit --weights "$work/masked-run/w0.safetensors" --x "$work/masked-run/x.npy" \
    --y "$work/masked-run/y.npy" --batch-size 2 --epochs 1 --out "$work/masked-run/no.safetensors"
  expect "metrics of a masked output (Keras 3's: every step)" 0 "^accuracy 0" \
    -- "$mt" evaluate --weights "$work/masked-run/w0.safetensors" --x "$work/masked-run/x.npy" \
    --y "$work/masked-run/y.npy" --batch-size 1 --metrics accuracy
  expect "gradcheck skips the inputs at the mask value" 0 "OK: .*entries checked" \
    -- "$mt" gradcheck --weights "$work/masked-run/padded.safetensors" --x "$work/masked-run/x.npy" \
    --y "$work/masked-run/y.npy" --sample 0
  expect "diff of a masked model" 0 "^OK" -- "$mt" diff --weights "$work/masked-run/padded.safetensors" \
    --x "$work/masked-run/x.npy" --y "$work/masked-run/y.npy"
else
  ko "build tests/cli/fixtures/masked_tagger.lua"
fi

# Integer tokens (Embedding): .npy int32, int64 and whole floats accepted,
# a token out of range or not whole refused by file, sample and position
# before anything is written; no input gradient; the same bytes for any
# --threads; a unit of variable length.
# npyi FILE DESCR SHAPE VALUES...: an integer .npy (DESCR <i4 or <i8)
npyi() {
  lua5.4 - "$@" <<'LUA'
local path, descr, shape = arg[1], arg[2], arg[3]
local header = "{'descr': '" .. descr .. "', 'fortran_order': False, 'shape': " .. shape .. ", }"
header = header .. string.rep(" ", (64 - (10 + #header + 1) % 64) % 64) .. "\n"
local out = { "\x93NUMPY\1\0", string.pack("<I2", #header), header }
for k = 4, #arg do
  out[#out + 1] = string.pack(descr == "<i4" and "<i4" or "<i8", math.tointeger(tonumber(arg[k])))
end
local f = assert(io.open(path, "wb"))
f:write(table.concat(out))
f:close()
LUA
}
if $rnnc build tests/cli/fixtures/embedding.lua -o "$work/emb" --dtype float64 >/dev/null 2>&1; then
  e="$work/emb/embedding"
  expect "embedding: summary" 0 "embedding \(Embedding\) +\(None, 4, 3\) +18" -- "$e" summary
  "$e" init --seed 1 --out "$work/emb-w.safetensors" >/dev/null
  expect "embedding: sample draws tokens" 0 "wrote" -- "$e" sample --seed 2 --n 5 --x "$work/emb-x.npy" --y "$work/emb-y.npy"
  expect "embedding: diff against the reference" 0 "^OK: worst relative" -- \
    "$e" diff --weights "$work/emb-w.safetensors" --x "$work/emb-x.npy" --y "$work/emb-y.npy"
  expect "embedding: gradcheck of the table, no input gradient" 0 \
    "input is integer tokens: no input gradient"$'\n'"OK: " -- \
    "$e" gradcheck --weights "$work/emb-w.safetensors" --x "$work/emb-x.npy" --y "$work/emb-y.npy" --sample 0
  tok="1 5 0 2  3 3 4 0"
  npy "$work/emb-xf.npy" "(2, 4)" $tok
  npyi "$work/emb-x4.npy" "<i4" "(2, 4)" $tok
  npyi "$work/emb-x8.npy" "<i8" "(2, 4)" $tok
  for f in xf x4 x8; do
    expect "embedding: predict from $f" 0 "wrote" -- "$e" predict --weights "$work/emb-w.safetensors" \
      --x "$work/emb-$f.npy" --out "$work/emb-p-$f.npy"
  done
  cmp -s "$work/emb-p-xf.npy" "$work/emb-p-x4.npy" && cmp -s "$work/emb-p-xf.npy" "$work/emb-p-x8.npy" &&
    ok || ko "embedding: int32, int64 and float tokens predict differently"
  expect "embedding: stream, a token per step" 0 "2 samples x 4 steps of 3 outputs" -- \
    "$e" stream --weights "$work/emb-w.safetensors" --x "$work/emb-x4.npy" --out "$work/emb-s.npy"
  npyi "$work/emb-big.npy" "<i4" "(2, 4)" 1 5 0 2 3 3 6 0
  npy "$work/emb-half.npy" "(2, 4)" 1 5 0 2.5 3 3 4 0
  npyi "$work/emb-neg.npy" "<i8" "(2, 4)" 1 5 0 2 3 -1 4 0
  npyi "$work/emb-y2.npy" "<i4" "(2, 4)" 0 1 2 0 1 2 0 1
  for cmd in predict fit grad evaluate; do
    rm -f "$work/emb-out"
    case $cmd in
    predict) args=(--out "$work/emb-out") ;;
    fit) args=(--y "$work/emb-y2.npy" --epochs 1 --out "$work/emb-out") ;;
    grad) args=(--y "$work/emb-y2.npy" --out "$work/emb-out") ;;
    evaluate) args=(--y "$work/emb-y2.npy") ;;
    esac
    expect "embedding: $cmd refuses a token out of range" 1 \
      "emb-big.npy: sample 1, position \(2\): token 6 is not in \[0, 6\) \(the Embedding's input_dim\)" \
      -- "$e" $cmd --weights "$work/emb-w.safetensors" --x "$work/emb-big.npy" "${args[@]}"
    [ ! -e "$work/emb-out" ] && ok || ko "embedding: a refused $cmd wrote its output"
  done
  expect "embedding: a token that is not a whole number" 1 \
    "emb-half.npy: sample 0, position \(3\): 2.5 is not a whole number" -- \
    "$e" predict --weights "$work/emb-w.safetensors" --x "$work/emb-half.npy" --out "$work/emb-out"
  expect "embedding: a negative token" 1 "emb-neg.npy: sample 1, position \(1\): token -1 is not in \[0, 6\)" -- \
    "$e" fit --weights "$work/emb-w.safetensors" --x "$work/emb-neg.npy" --y "$work/emb-y2.npy" --out "$work/emb-out"
  expect "embedding: validation tokens checked too" 1 "emb-big.npy: sample 1, position \(2\): token 6" -- \
    "$e" fit --weights "$work/emb-w.safetensors" --x "$work/emb-x4.npy" --y "$work/emb-y2.npy" \
    --val-x "$work/emb-big.npy" --val-y "$work/emb-y2.npy" --out "$work/emb-out"
  "$e" grad --weights "$work/emb-w.safetensors" --x "$work/emb-x4.npy" --y "$work/emb-y2.npy" \
    --out "$work/emb-g.safetensors" >/dev/null || ko "embedding: grad"
  names=$(tensors "$work/emb-g.safetensors" "$work/emb-g.safetensors" | cut -d' ' -f1 | tr '\n' ' ')
  [ "$names" = "dense/bias dense/kernel embedding/embeddings lstm/bias lstm/kernel lstm/recurrent_kernel " ] &&
    ok || ko "embedding: grad wrote [$names] (a table's gradient, no input's)"
  for th in 1 2; do
    "$e" fit --weights "$work/emb-w.safetensors" --x "$work/emb-x.npy" --y "$work/emb-y.npy" --epochs 3 \
      --batch-size 4 --micro-batch 2 --threads $th --seed 3 --verbose 0 --out "$work/emb-t$th.safetensors" \
      >/dev/null || ko "embedding: fit --threads $th"
  done
  cmp -s "$work/emb-t1.safetensors" "$work/emb-t2.safetensors" && ok ||
    ko "embedding: fit --threads 2 differs from one thread"
  [ "$(tensors "$work/emb-w.safetensors" "$work/emb-t1.safetensors" | grep -c moved)" = 6 ] && ok ||
    ko "embedding: fit did not train every weight"
else
  ko "build tests/cli/fixtures/embedding.lua"
fi
if $rnnc build tests/cli/fixtures/embedding_variable.lua -o "$work/embv" --timesteps 6 --dtype float64 \
  >/dev/null 2>&1; then
  v="$work/embv/embedding_variable"
  "$v" init --seed 4 --out "$work/embv-w.safetensors" >/dev/null
  "$v" sample --seed 5 --n 7 --steps 3 --x "$work/embv-x.npy" --y "$work/embv-y.npy" >/dev/null
  expect "embedding, variable length: diff at 3 of 6 steps" 0 "^OK: worst relative" -- \
    "$v" diff --weights "$work/embv-w.safetensors" --x "$work/embv-x.npy" --y "$work/embv-y.npy"
  expect "embedding, variable length: fit" 0 "wrote" -- "$v" fit --weights "$work/embv-w.safetensors" \
    --x "$work/embv-x.npy" --y "$work/embv-y.npy" --epochs 2 --out "$work/embv-w2.safetensors"
else
  ko "build tests/cli/fixtures/embedding_variable.lua"
fi

# --- the noise layers: training with masks, the identity at inference --------
# fit is the same bytes for a seed and differs for another; the same with
# threads; micro-batches draw the same masks (the weights agree to rounding,
# the sums' order differs); --resume continues the masks' stream; predict and
# evaluate equal the model without the noise layers; diff and gradcheck
# agree with the reference in training (fixed masks).
if $rnnc build tests/cli/fixtures/dropout.lua -o "$work/dropout" --dtype float64 --batch 8 >/dev/null 2>&1 &&
  $rnnc build tests/cli/fixtures/dropout_free.lua -o "$work/dropout_free" --dtype float64 --batch 8 >/dev/null 2>&1 &&
  $rnnc build tests/cli/fixtures/dropout.lua -o "$work/dropout4" --dtype float64 --batch 4 --name dropout \
    >/dev/null 2>&1; then
  d="$work/dropout/dropout"
  df="$work/dropout_free/dropout_free"
  d4="$work/dropout4/dropout"
  dw="$work/dropout-w.safetensors"
  dx="$work/dropout-x.npy"
  dy="$work/dropout-y.npy"
  "$d" init --seed 4 --out "$dw" >/dev/null
  "$d" sample --x "$dx" --y "$dy" --n 20 --seed 6 >/dev/null
  expect "noise layers: the summary" 0 "spatial_dropout1d \(SpatialD.*gaussian_noise \(GaussianNoi" -- \
    bash -c "'$d' summary | tr '\n' ' '"
  expect "noise layers: diff in training against the reference" 0 "^OK: worst relative" -- \
    "$d" diff --weights "$dw" --x "$dx" --y "$dy"
  expect "noise layers: gradcheck through fixed masks" 0 "^OK: " -- \
    "$d" gradcheck --weights "$dw" --x "$dx" --y "$dy" --sample 0
  dfit() { # OUT ARGS...: 3 epochs of batches of 8
    local out=$1
    shift
    "$@" --weights "$dw" --x "$dx" --y "$dy" --epochs 3 --batch-size 8 --verbose 0 --out "$work/$out" >/dev/null ||
      ko "noise layers: fit $out"
  }
  dfit drop-a.safetensors "$d" fit --seed 1
  dfit drop-b.safetensors "$d" fit --seed 1
  dfit drop-c.safetensors "$d" fit --seed 2
  dfit drop-t.safetensors "$d" fit --seed 1 --micro-batch 3 --threads 3
  dfit drop-u.safetensors "$d" fit --seed 1 --micro-batch 3
  dfit drop-m.safetensors "$d4" fit --seed 1 --micro-batch 4
  cmp -s "$work/drop-a.safetensors" "$work/drop-b.safetensors" && ok || ko "noise layers: fit is not deterministic"
  cmp -s "$work/drop-a.safetensors" "$work/drop-c.safetensors" && ko "noise layers: fit --seed 2 gave seed 1's bytes" ||
    ok
  cmp -s "$work/drop-t.safetensors" "$work/drop-u.safetensors" && ok || ko "noise layers: --threads 3 changed fit"
  # micro-batches of 4 (a unit of batch 4) against one call of 8: the same
  # masks, so the weights agree to rounding (without the same masks they
  # differ in the second digit)
  for t in lstm/kernel lstm/recurrent_kernel dense/kernel; do
    paste <(lua5.4 "$work/tensor.lua" "$work/drop-a.safetensors" $t) \
      <(lua5.4 "$work/tensor.lua" "$work/drop-m.safetensors" $t) |
      awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-12) bad = 1; n++ } END { exit !(n > 0 && !bad) }' &&
      ok || ko "noise layers: $t after micro-batches of 4 differs from one batch of 8"
  done
  # --resume: two epochs, then one more from the checkpoint = three epochs
  "$d" fit --weights "$dw" --x "$dx" --y "$dy" --epochs 2 --batch-size 8 --seed 1 --verbose 0 \
    --checkpoint "$work/dck.safetensors" --out "$work/drop-h.safetensors" >/dev/null
  "$d" fit --weights "$work/dck.safetensors" --x "$dx" --y "$dy" --epochs 3 --initial-epoch 2 --batch-size 8 \
    --seed 1 --verbose 0 --resume --out "$work/drop-r.safetensors" >/dev/null
  cmp -s "$work/drop-a.safetensors" "$work/drop-r.safetensors" && ok || ko "noise layers: resumed fit differs"
  # inference: the identity of the noise layers
  "$d" predict --weights "$work/drop-a.safetensors" --x "$dx" --out "$work/drop-p.npy" >/dev/null
  "$df" predict --weights "$work/drop-a.safetensors" --x "$dx" --out "$work/drop-pf.npy" >/dev/null
  cmp -s "$work/drop-p.npy" "$work/drop-pf.npy" && ok || ko "noise layers: predict is not the model without them"
  e1=$("$d" evaluate --weights "$work/drop-a.safetensors" --x "$dx" --y "$dy" --verbose 0 | awk '/^loss/ {print $2}')
  e2=$("$df" evaluate --weights "$work/drop-a.safetensors" --x "$dx" --y "$dy" --verbose 0 | awk '/^loss/ {print $2}')
  [ -n "$e1" ] && [ "$e1" = "$e2" ] && ok || ko "noise layers: evaluate $e1, without them $e2"
  "$d" stream --weights "$work/drop-a.safetensors" --x "$dx" --out "$work/drop-s.npy" >/dev/null 2>&1 &&
    "$df" stream --weights "$work/drop-a.safetensors" --x "$dx" --out "$work/drop-sf.npy" >/dev/null 2>&1 &&
    cmp -s "$work/drop-s.npy" "$work/drop-sf.npy" && ok || ko "noise layers: the stream is not the model without them"
else
  ko "build tests/cli/fixtures/dropout.lua"
fi

# --- the padded tagger (examples/padded_tagger.lua, issue 13): the Keras
# tagger Embedding(mask_zero) -> Bidirectional(LSTM(dropout,
# recurrent_dropout)) -> TimeDistributed(Dense(softmax)) on padded sentences
# trains with its description's fit{} and tags the three demo sentences, the
# nouns and verbs that share a word ("saw") by their context. Under the
# sanitizers 2 epochs (memory, not quality).
if $rnnc build examples/padded_tagger.lua -o "$work/pt" >/dev/null 2>&1; then
  pt="$work/pt/padded_tagger"
  "$pt" init --seed 1 --out "$work/pt.w0" >/dev/null
  pt_epochs=()
  [ $sanitized = 1 ] && pt_epochs=(--epochs 2)
  expect "padded tagger: fit" 0 "wrote" -- "$pt" fit --weights "$work/pt.w0" --x examples/data/padded_tagger_x.npy \
    --y examples/data/padded_tagger_y.npy --seed 1 "${pt_epochs[@]}" --verbose 0 --out "$work/pt.w1"
  out=$("$pt" predict --weights "$work/pt.w1" --x examples/data/padded_tagger_demo_x.npy --out "$work/pt.p.npy")
  if [ $sanitized = 1 ]; then
    [ "$(grep -c 'argmax' <<<"$out")" = 3 ] && ok || ko "padded tagger: predict printed $out"
  else
    # "the man saw a dog", "the saw runs", "a small dog walks in the park"
    tags=$(sed -n 's/.*argmax \[\(.*\)\]/\1/p' <<<"$out" | tr '\n' ' ')
    if [[ $tags == "1,3,4,1,3,"*" 1,3,4,"*" 1,2,3,4,5,1,3,"* ]]; then ok; else
      ko "padded tagger: tags '$tags', expected 1,3,4,1,3 / 1,3,4 / 1,2,3,4,5,1,3 before the padding"
    fi
  fi
  # compile's metrics count every step, weighted_metrics with sample
  # weights the words only; evaluate of a unit with noise layers takes the
  # weights (eval_loss_weighted)
  expect "padded tagger: metrics and weighted_metrics of the masked output" 0 "^ok: " -- \
    lua5.4 tests/cli/masked_metrics.lua "$pt" "$work/pt.w1" examples/data/padded_tagger_x.npy \
    examples/data/padded_tagger_y.npy "$work"
  expect "padded tagger: generated = reference (dropout masks, the mask of token 0)" 0 "^OK" -- \
    "$pt" diff --weights "$work/pt.w1" --x examples/data/padded_tagger_demo_x.npy \
    --y examples/data/padded_tagger_demo_y.npy
else
  ko "build examples/padded_tagger.lua"
fi

# --- the sequence-to-sequence example (examples/seq2seq/, issue 15), short:
# greedy decoding in C with the encoder and decoder units loading the
# training model's weights gives, step by step, the training model's output
# teacher-forced with the decoded prefix, and the encoder's states; decode's
# accuracies are those of its steps (tests/cli/seq2seq.lua). Under the
# sanitizers 2 epochs (memory, not quality).
mkdir -p "$work/seq2seq"
s2s_epochs=30
[ $sanitized = 1 ] && s2s_epochs=2
expect "seq2seq: C greedy decoding = the training model teacher-forced" 0 "^ok: " \
  -- lua5.4 tests/cli/seq2seq.lua "$work/seq2seq" $s2s_epochs

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
