#!/usr/bin/env bash
# rnnc import, as a user runs it. Prints "N passed, M failed".
#
# - tests/import/real/: three real model files written by Keras users
#   (licences beside them). The tf.keras 2.14 Conv1D -> LSTM forecaster is
#   imported, built for 12 steps and must predict what Keras's equations
#   (keras_torch.py, from the file's own arrays) predict:
#   real/sunspot_conv1d_lstm.pred.npy, to 1e-10. The Keras 3 LSTM -> Dropout
#   file is imported with its Dropout layers: built, it predicts what the
#   same model without them predicts from the file's weights, and its
#   training computation agrees with the reference runtime. The Embedding ->
#   SimpleRNN file (dropout and recurrent_dropout) is imported too, and its
#   training computation agrees with the reference runtime.
# - tests/import/fixtures/: SYNTHETIC files, one per writer and layout
#   (tests/import/make_fixtures.py wrote them with h5py following
#   ../shared/keras-formats.md; its comments say which writer each stands
#   for). Each is imported, built (float64) and run: its predictions must
#   equal, to 1e-10, those computed from the file's own arrays by
#   tests/conformance/keras_torch.py (Keras's equations on PyTorch, no rnnc
#   code) and committed as NAME.pred.npy; the generated code must agree with
#   the reference runtime (the driver's diff); and `fit --resume` for 3
#   full-batch steps must give the weights of 3 more Keras-rule updates from
#   the optimizer state written into the file (NAME.resumed.safetensors).
# - broken and hostile inputs: refused with a message naming the file and
#   the dataset or config key, exit status 1, nothing written.
#
# Environment: BUILD (build), CC, RNNC_KERAS_READ (the reader; built by
# make importer), RNNC_RUNTIME_LIB (a prebuilt runtime for rnnc build).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
work="$BUILD/import-tests"
rm -rf "$work" && mkdir -p "$work"
rnnc="lua5.4 bin/rnnc"
fx=tests/import/fixtures
real=tests/import/real
compare="lua5.4 tests/import/compare.lua"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }
# expect NAME STATUS PATTERN -- command...: exit status and a pattern in stdout+stderr
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -ne "$want" ]; then
    ko "$name: exit status $status, expected $want; output: $(echo "$out" | tail -4)"
    return
  fi
  if ! grep -qE -- "$pattern" <<<"$out"; then
    ko "$name: output lacks /$pattern/: $(echo "$out" | tail -4)"
    return
  fi
  ok
}
# refused NAME PATTERN -- command...: exit 1, the message, and no output directory
refused() {
  local name=$1 pattern=$2
  shift 3
  local out="$work/refused-$name"
  expect "$name" 1 "$pattern" -- "$@" -o "$out"
  [ ! -e "$out" ] && ok || ko "$name: a refused import wrote $out"
}

# --- real files from Keras users: refused, every unsupported thing listed -----
expect_list() { # FILE then the exact lines of the list
  local file=$1
  shift
  local out status
  out=$($rnnc import "$real/$file" -o "$work/real-$file" 2>&1)
  status=$?
  [ "$status" -eq 1 ] || { ko "$file: exit status $status, expected 1"; return; }
  [ ! -e "$work/real-$file" ] && ok || ko "$file: a refused import wrote $work/real-$file"
  local want n
  want=$(printf '%s\n' "$@")
  n=$(grep -c '^  layer ' <<<"$out")
  if [ "$(grep '^  layer ' <<<"$out")" = "$want" ] && [ "$n" -eq $# ]; then ok; else
    ko "$file: the list differs:"$'\n'"$out"$'\n'"expected:"$'\n'"$want"
  fi
  grep -q "cannot import: rnnc does not support $# thing" <<<"$out" && ok || ko "$file: no count in: $out"
}
# the Keras 3 LSTM -> Dropout -> LSTM -> Dropout file: imported, Dropout kept
if $rnnc import "$real/lstm_dropout.keras" -o "$work/lstm_dropout" >"$work/lstm_dropout.log" 2>&1; then
  ok
  d="$work/lstm_dropout/lstm_dropout.lua"
  grep -q 'Dropout { 0.2, name = "dropout" }' "$d" && grep -q 'Dropout { 0.2, name = "dropout_1" }' "$d" && ok ||
    ko "lstm_dropout.keras: the Dropout layers are not written: $(cat "$d")"
  grep -v '^  Dropout {' "$d" >"$work/lstm_dropout/no_dropout.lua"
  if CFLAGS="-O1" $rnnc build "$d" -o "$work/lstm_dropout/bin" --dtype float64 --batch 4 >/dev/null 2>&1 &&
    CFLAGS="-O1" $rnnc build "$work/lstm_dropout/no_dropout.lua" -o "$work/lstm_dropout/bin0" --dtype float64 \
      --batch 4 >/dev/null 2>&1; then
    b="$work/lstm_dropout/bin/lstm_dropout"
    w="$work/lstm_dropout/lstm_dropout.safetensors"
    "$b" sample --x "$work/lstm_dropout/x.npy" --y "$work/lstm_dropout/y.npy" --n 6 --seed 3 >/dev/null
    "$b" predict --weights "$w" --x "$work/lstm_dropout/x.npy" --out "$work/lstm_dropout/p.npy" >/dev/null
    "$work/lstm_dropout/bin0/no_dropout" predict --weights "$w" --x "$work/lstm_dropout/x.npy" \
      --out "$work/lstm_dropout/p0.npy" >/dev/null
    cmp -s "$work/lstm_dropout/p.npy" "$work/lstm_dropout/p0.npy" && ok ||
      ko "lstm_dropout.keras: predict with Dropout differs from the model without it"
    expect "lstm_dropout.keras: training with masks against the reference" 0 "^OK" -- \
      "$b" diff --weights "$w" --x "$work/lstm_dropout/x.npy" --y "$work/lstm_dropout/y.npy"
  else
    ko "lstm_dropout.keras: build failed"
  fi
else
  ko "lstm_dropout.keras: import failed: $(tail -3 "$work/lstm_dropout.log")"
fi
# the Embedding -> SimpleRNN file: its SimpleRNN's dropout and
# recurrent_dropout are imported since issue 13 (the file has no compile:
# nothing trains, so its masks are not drawn); built, it predicts what the
# reference runtime predicts from the file's weights
es="$work/embedding_simple_rnn"
if $rnnc import "$real/embedding_simple_rnn.keras" -o "$es" >"$work/embedding_simple_rnn.log" 2>&1 &&
  grep -q "dropout = 0.2, recurrent_dropout = 0.2" "$es/embedding_simple_rnn.lua" &&
  CFLAGS="-O1" $rnnc build "$es/embedding_simple_rnn.lua" -o "$es/bin" --dtype float64 --batch 2 \
    >/dev/null 2>&1; then
  ok
  "$es/bin/embedding_simple_rnn" sample --x "$es/x.npy" --y "$es/y.npy" --n 2 --seed 3 >/dev/null
  expect "embedding_simple_rnn.keras: generated code vs the reference runtime" 0 "^OK" -- \
    "$es/bin/embedding_simple_rnn" diff --weights "$es/embedding_simple_rnn.safetensors" --x "$es/x.npy"
else
  ko "embedding_simple_rnn.keras: import or build failed: $(tail -3 "$work/embedding_simple_rnn.log")"
fi
expect "--check on a real file" 0 "verdict: supported \(183775 parameters\)" -- \
  $rnnc import --check "$real/sunspot_conv1d_lstm.h5"
expect "--check names the writer" 0 "HDF5 whole model written by tf.keras 2.14.0" -- \
  $rnnc import --check "$real/sunspot_conv1d_lstm.h5"
expect "--check names the Keras 3 writer" 0 "\.keras archive written by Keras 3.3.3" -- \
  $rnnc import --check "$real/lstm_dropout.keras"

# --- synthetic files of every writer: import, build, predict, resume ---------
run_fixture() { # NAME SOURCE [--weights W]
  local name=$1
  shift
  local out="$work/$name" steps bin
  steps=$(cat "$fx/$name.steps")
  if ! $rnnc import "$@" -o "$out" >"$work/$name.import.log" 2>&1; then
    ko "$name: import failed: $(tail -3 "$work/$name.import.log")"
    return
  fi
  ok
  # an ordinary description: the summary's total is the file's parameter count
  local total params
  total=$($rnnc summary "$out/$name.lua" | sed -n 's/^Total params: //p' | tr -d ,)
  params=$($compare params "$out/$name.safetensors")
  [ -n "$total" ] && [ "$total" = "$params" ] && ok || ko "$name: summary total '$total', file holds $params"
  if ! CFLAGS="-O1" $rnnc build "$out/$name.lua" -o "$out/bin" --dtype float64 --timesteps "$steps" \
    >"$work/$name.build.log" 2>&1; then
    ko "$name: build failed: $(tail -3 "$work/$name.build.log")"
    return
  fi
  bin="$out/bin/$name"
  if "$bin" predict --weights "$out/$name.safetensors" --x "$fx/$name.x.npy" --out "$out/pred.npy" >/dev/null 2>&1 &&
    $compare npy "$out/pred.npy" "$fx/$name.pred.npy" 1e-10 >/dev/null; then ok; else
    ko "$name: predictions differ from Keras's equations on the file's arrays"
  fi
  local y=()
  [ -f "$fx/$name.resumed.safetensors" ] && y=(--y "$fx/$name.y.npy")
  expect "$name: generated code vs the reference runtime" 0 "^OK" -- \
    "$bin" diff --weights "$out/$name.safetensors" --x "$fx/$name.x.npy" "${y[@]}"
  if [ -f "$fx/$name.resumed.safetensors" ]; then
    local n
    n=$(lua5.4 -e "local f=io.open('$fx/$name.x.npy','rb'):read('a'); print(f:match(\"'shape': %((%d+)\"))")
    expect "$name: fit --resume reads the file's optimizer state" 0 "resuming from .*: 7 optimizer updates done" -- \
      "$bin" fit --weights "$out/$name.safetensors" --x "$fx/$name.x.npy" --y "$fx/$name.y.npy" --epochs 3 \
      --batch-size "$n" --no-shuffle --verbose 0 --resume --out "$out/resumed.safetensors"
    if $compare safetensors "$out/resumed.safetensors" "$fx/$name.resumed.safetensors" 1e-10 >/dev/null; then ok; else
      ko "$name: 3 resumed steps differ from Keras's: $($compare safetensors "$out/resumed.safetensors" \
        "$fx/$name.resumed.safetensors" 1e-10 2>&1 | tail -1)"
    fi
  fi
}
run_fixture keras224_lstm_gru "$fx/keras224_lstm_gru.h5"
run_fixture tfkeras29_bidir "$fx/tfkeras29_bidir.h5"
run_fixture tfkeras214_functional "$fx/tfkeras214_functional.h5"
run_fixture keras3_lstm "$fx/keras3_lstm.h5"
run_fixture keras3_bidir_gru "$fx/keras3_bidir_gru.keras"
run_fixture tfkeras215_windows "$fx/tfkeras215_windows.keras"
run_fixture tfkeras212_json "$fx/tfkeras212_json.json" --weights "$fx/tfkeras212_json.weights.h5"
run_fixture keras122_lstm "$fx/keras122_lstm.h5"
# the convolutional front ends, pooling, shape and normalisation layers
run_fixture keras122_conv "$fx/keras122_conv.h5"
run_fixture keras122_conv_theano "$fx/keras122_conv_theano.h5"
run_fixture keras224_conv_bn "$fx/keras224_conv_bn.h5"
run_fixture tfkeras214_front "$fx/tfkeras214_front.h5"
run_fixture keras3_front "$fx/keras3_front.keras"
# Masking before a Bidirectional LSTM (zero_output_for_mask in its layers),
# padded and masked steps in the data, the masked loss in the resumed steps
run_fixture keras3_masking "$fx/keras3_masking.keras"
grep -q 'Masking { name = "masking", input_shape = { 5, 2 } }' "$work/keras3_masking/keras3_masking.lua" &&
  ok || ko "Masking is not written as Keras code: $(grep Masking "$work/keras3_masking/keras3_masking.lua")"
# integer tokens in (Embedding): tf.keras 2.9 .h5 with input_length, Keras 3
# .keras of any length (built for NAME.steps); x.npy holds int64 tokens
# the noise layers and an LSTM's dropouts from a tf.keras 2.9 .h5: imported
# with their arguments, predicting Keras's equations (the identity of noise)
run_fixture tfkeras29_dropout "$fx/tfkeras29_dropout.h5"
grep -q 'LSTM { 4, .*dropout = 0.2, recurrent_dropout = 0.3 }' "$work/tfkeras29_dropout/tfkeras29_dropout.lua" &&
  grep -q 'Dropout { 0.5, name = "dropout" }' "$work/tfkeras29_dropout/tfkeras29_dropout.lua" &&
  grep -q 'GaussianNoise { 0.1, name = "gaussian_noise" }' "$work/tfkeras29_dropout/tfkeras29_dropout.lua" && ok ||
  ko "tfkeras29_dropout.h5: the noise arguments are not written as Keras wrote them"
run_fixture tfkeras29_embedding "$fx/tfkeras29_embedding.h5"
run_fixture keras3_embedding "$fx/keras3_embedding.keras"
grep -q 'Embedding { 8, 3, name = "embedding", input_shape = { 5 }, input_length = 5 }' \
  "$work/tfkeras29_embedding/tfkeras29_embedding.lua" &&
  grep -q 'Embedding { 6, 2, name = "embedding", input_shape = { None } }' \
    "$work/keras3_embedding/keras3_embedding.lua" && ok ||
  ko "Embedding is not written as Keras code: $(grep -h Embedding "$work"/*embedding/*embedding.lua)"
# Keras 3's to_json() + save_weights(.weights.h5) of the Embedding model
mkdir -p "$work/k3embjson" && cp "$fx/keras3_embedding.config.json" "$work/k3embjson/keras3_embedding.json"
for e in x.npy pred.npy steps; do cp "$fx/keras3_embedding.$e" "$work/k3embjson/keras3_embedding.$e"; done
fx_saved=$fx
fx=$work/k3embjson
run_fixture keras3_embedding "$fx/keras3_embedding.json" --weights "$fx_saved/keras3_embedding.weights.h5"
fx=$fx_saved
# the real tf.keras 2.14 Conv1D -> LSTM file: None steps, built for 12
fx_saved=$fx
fx=$real
run_fixture sunspot_conv1d_lstm "$real/sunspot_conv1d_lstm.h5"
fx=$fx_saved
d="$work/sunspot_conv1d_lstm/sunspot_conv1d_lstm.lua"
grep -q 'Conv1D { 64, 3, name = "conv1d_3", input_shape = { None, 1 }, activation = "relu", padding = "causal" }' \
  "$d" && ok || ko "the real file's Conv1D is not written as Keras code: $(grep Conv1D "$d")"
grep -q "No streaming API" "$work/sunspot_conv1d_lstm/bin/sunspot_conv1d_lstm.h" &&
  ko "the causal Conv1D -> LSTM model does not stream" || ok
grep -q "keras122_conv_theano" "$work/keras122_conv_theano/keras122_conv_theano.lua" &&
  grep -q "convolution1d_1: Keras 1's Convolution1D" "$work/keras122_conv/keras122_conv.lua" && ok ||
  ko "Keras 1's Convolution1D is not noted"
# Keras 3's to_json() + save_weights(.weights.h5): the positional layout without a zip
mkdir -p "$work/k3json" && cp "$fx/keras3_bidir_gru.config.json" "$work/k3json/keras3_bidir_gru.json"
for e in x.npy pred.npy steps; do cp "$fx/keras3_bidir_gru.$e" "$work/k3json/keras3_bidir_gru.$e"; done
fx_saved=$fx
fx=$work/k3json
run_fixture keras3_bidir_gru "$fx/keras3_bidir_gru.json" --weights "$fx_saved/keras3_bidir_gru.weights.h5"
fx=$fx_saved
# the same with the Bidirectional frozen ("trainable": false in its config,
# as Keras writes it after layer.trainable = False): imported as
# trainable = false, its 126 weights non-trainable, the same predictions
mkdir -p "$work/k3frozen"
lua5.4 - "$fx/keras3_bidir_gru.config.json" "$work/k3frozen/k3_frozen.json" <<'LUA'
local s = io.open(arg[1], "rb"):read("a")
local n
s, n = s:gsub([["class_name": "Bidirectional", "config": {"name": "bidirectional", "trainable": true]],
  [["class_name": "Bidirectional", "config": {"name": "bidirectional", "trainable": false]])
assert(n == 1, "the fixture has no trainable Bidirectional")
local f = io.open(arg[2], "wb")
f:write(s)
f:close()
LUA
for e in x.npy pred.npy steps; do cp "$fx/keras3_bidir_gru.$e" "$work/k3frozen/k3_frozen.$e"; done
fx_saved=$fx
fx=$work/k3frozen
run_fixture k3_frozen "$fx/k3_frozen.json" --weights "$fx_saved/keras3_bidir_gru.weights.h5"
fx=$fx_saved
grep -q 'merge_mode = "sum", trainable = false }' "$work/k3_frozen/k3_frozen.lua" && ok ||
  ko "a frozen layer is not written as trainable = false: $(grep Bidirectional "$work/k3_frozen/k3_frozen.lua")"
$rnnc summary "$work/k3_frozen/k3_frozen.lua" | grep -q '^Non-trainable params: 126$' && ok ||
  ko "the frozen Bidirectional's weights are not counted as non-trainable"

# --- functional graphs (issue 15): several inputs, initial states, merges, -------
# fan-out and shared layers, from Keras 2 node lists and Keras 3 keras_history
# objects. Imported, built, predicting Keras's equations (keras_torch.py's
# GraphModel on the file's arrays) to 1e-10, the generated code agreeing with
# the reference runtime, and the seq2seq files' optimizer state resumed.
run_graph_fixture() { # NAME SOURCE [--weights W]: the inputs by the names in NAME.inputs
  local name=$1 gfx=${GFX:-$fx}
  shift
  local out="$work/$name" bin xs=() i=0 input f n
  if ! $rnnc import "$@" -o "$out" >"$work/$name.import.log" 2>&1; then
    ko "$name: import failed: $(tail -3 "$work/$name.import.log")"
    return
  fi
  ok
  while read -r input; do
    f="$gfx/$name.x.npy"
    [ "$i" -gt 0 ] && f="$gfx/$name.x$i.npy"
    xs+=(--x "$input=$f")
    i=$((i + 1))
  done <"$gfx/$name.inputs"
  local total params
  total=$($rnnc summary "$out/$name.lua" | sed -n 's/^Total params: //p' | tr -d ,)
  params=$($compare params "$out/$name.safetensors")
  [ -n "$total" ] && [ "$total" = "$params" ] && ok || ko "$name: summary total '$total', file holds $params"
  if ! CFLAGS="-O1" $rnnc build "$out/$name.lua" -o "$out/bin" --dtype float64 --timesteps "$(cat "$gfx/$name.steps")" \
    >"$work/$name.build.log" 2>&1; then
    ko "$name: build failed: $(tail -3 "$work/$name.build.log")"
    return
  fi
  bin="$out/bin/$name"
  if "$bin" predict --weights "$out/$name.safetensors" "${xs[@]}" --out "$out/pred.npy" >/dev/null 2>&1 &&
    $compare npy "$out/pred.npy" "$gfx/$name.pred.npy" 1e-10 >/dev/null; then ok; else
    ko "$name: predictions differ from Keras's equations on the file's arrays"
  fi
  if [ -f "$gfx/$name.pred1.npy" ]; then # a second output
    $compare npy "$out/pred_1.npy" "$gfx/$name.pred1.npy" 1e-10 >/dev/null && ok ||
      ko "$name: the second output differs from Keras's equations"
  fi
  expect "$name: generated code vs the reference runtime" 0 "^OK" -- \
    "$bin" diff --weights "$out/$name.safetensors" "${xs[@]}" --y "$gfx/$name.y.npy"
  if [ -f "$gfx/$name.resumed.safetensors" ]; then
    n=$(lua5.4 -e "local f=io.open('$gfx/$name.x.npy','rb'):read('a'); print(f:match(\"'shape': %((%d+)\"))")
    expect "$name: fit --resume reads the file's optimizer state" 0 "resuming from .*: 7 optimizer updates done" -- \
      "$bin" fit --weights "$out/$name.safetensors" "${xs[@]}" --y "$gfx/$name.y.npy" --epochs 3 \
      --batch-size "$n" --no-shuffle --verbose 0 --resume --out "$out/resumed.safetensors"
    if $compare safetensors "$out/resumed.safetensors" "$gfx/$name.resumed.safetensors" 1e-10 >/dev/null; then ok; else
      ko "$name: 3 resumed steps differ from Keras's: $($compare safetensors "$out/resumed.safetensors" \
        "$gfx/$name.resumed.safetensors" 1e-10 2>&1 | tail -1)"
    fi
  fi
}
# the seq2seq training model (two inputs, the encoder's h and c as the
# decoder's initial_state): tf.keras 2.14 .h5 (the states listed in the
# decoder's node) and Keras 3 .keras (kwargs initial_state)
run_graph_fixture tfkeras214_seq2seq "$fx/tfkeras214_seq2seq.h5"
run_graph_fixture keras3_seq2seq "$fx/keras3_seq2seq.keras"
d="$work/tfkeras214_seq2seq/tfkeras214_seq2seq.lua"
grep -q '^local lstm_out, lstm_h, lstm_c = lstm(input_1)$' "$d" &&
  grep -q '^local lstm_1_out, lstm_1_h, lstm_1_c = lstm_1(input_2, { initial_state = { lstm_h, lstm_c } })$' "$d" &&
  grep -q '^local model = Model { inputs = { input_1, input_2 }, outputs = dense_out, name = "model" }$' "$d" && ok ||
  ko "the seq2seq graph is not written as Keras code: $(grep -v '^--' "$d")"
# the encoder and decoder INFERENCE models of Keras's example, written in the
# description language (tests/import/graphs/, as README shows them) with the
# imported layers' names, on the imported weights: the encoder's states, then
# the decoder one step at a time, give the training model's every step
inf="$work/seq2seq_inference"
mkdir -p "$inf"
s2s="$work/tfkeras214_seq2seq/tfkeras214_seq2seq.safetensors"
if CFLAGS="-O1" $rnnc build tests/import/graphs/seq2seq_encoder.lua -o "$inf/enc" --dtype float64 --timesteps 4 \
  >"$inf/build.log" 2>&1 && CFLAGS="-O1" $rnnc build tests/import/graphs/seq2seq_decoder.lua -o "$inf/dec" \
  --dtype float64 --timesteps 1 >>"$inf/build.log" 2>&1 &&
  "$inf/enc/seq2seq_encoder" predict --weights "$s2s" --x "$fx/tfkeras214_seq2seq.x.npy" --out "$inf/states.npy" \
    >/dev/null 2>&1; then
  ok
  expect "seq2seq: the decoder inference model step by step on the imported weights" 0 "e-1[0-9]$" -- \
    lua5.4 tests/import/seq2seq_steps.lua "$inf/dec/seq2seq_decoder" "$s2s" "$fx/tfkeras214_seq2seq.x1.npy" \
    "$inf/states.npy" "$inf/states_1.npy" "$fx/tfkeras214_seq2seq.pred.npy" "$inf" 1e-10
else
  ko "seq2seq inference models: build or encoder failed: $(tail -3 "$inf/build.log")"
fi
# the same architecture as JSON, initial_state in the node's kwargs as
# [name, node, tensor] lists, with the .h5's weights: the same graph and
# the same weights as the .h5's import
mkdir -p "$work/s2skw"
if $rnnc import "$fx/tfkeras214_seq2seq_kwargs.json" --weights "$fx/tfkeras214_seq2seq.h5" -o "$work/s2skw" \
  --name tfkeras214_seq2seq >"$work/s2skw.log" 2>&1; then
  ok
  cmp -s <(grep '^local ' "$work/s2skw/tfkeras214_seq2seq.lua") \
    <(grep '^local ' "$work/tfkeras214_seq2seq/tfkeras214_seq2seq.lua") && ok ||
    ko "kwargs initial_state: a graph other than the .h5's: $(grep '^local ' "$work/s2skw/tfkeras214_seq2seq.lua")"
  $compare safetensors "$work/tfkeras214_seq2seq/tfkeras214_seq2seq.safetensors" \
    "$work/s2skw/tfkeras214_seq2seq.safetensors" 0 >/dev/null && ok || ko "kwargs initial_state: other weights"
else
  ko "kwargs initial_state: import failed: $(tail -3 "$work/s2skw.log")"
fi
# the .h5 listing its layers in another order than rnnc builds them (dense,
# lstm_1, lstm): weights and optimizer slots are put in rnnc's order
mkdir -p "$work/s2sre"
cp "$fx/tfkeras214_seq2seq.inputs" "$work/s2sre/s2s_reordered.inputs"
for e in x.npy x1.npy y.npy pred.npy steps resumed.safetensors; do
  cp "$fx/tfkeras214_seq2seq.$e" "$work/s2sre/s2s_reordered.$e"
done
GFX="$work/s2sre" run_graph_fixture s2s_reordered "$fx/tfkeras214_seq2seq_reordered.h5" --name s2s_reordered
# a functional model used as a layer (its call is node 1; its outputs the
# LSTM's output and cell state): tf.keras 2.14 .h5 and Keras 3 .keras
run_graph_fixture tfkeras214_nested "$fx/tfkeras214_nested.h5"
run_graph_fixture keras3_nested "$fx/keras3_nested.keras"
grep -q '^local encoder = Model { inputs = enc_in, outputs = { lstm_out, lstm_c }, name = "encoder" }$' \
  "$work/tfkeras214_nested/tfkeras214_nested.lua" &&
  grep -q '^local encoder_out, encoder_out1 = encoder(input_1)$' "$work/tfkeras214_nested/tfkeras214_nested.lua" &&
  ok || ko "the nested model is not written as a Model called as a layer"
# a Sequential model used as a layer: node 1 in tf.keras 2.14 (built on an
# InputLayer), node 0 in Keras 3 (its Sequential is no Functional)
run_graph_fixture tfkeras214_nested_seq "$fx/tfkeras214_nested_seq.h5"
run_graph_fixture keras3_nested_seq "$fx/keras3_nested_seq.keras"
# branches (a sequence read by a GRU and a SimpleRNN), Add, Concatenate
run_graph_fixture tfkeras29_branch "$fx/tfkeras29_branch.h5"
# the attention layers: a causal Attention, an AdditiveAttention and a
# MultiHeadAttention (tf.keras's value given as a keyword; Keras 3's
# EinsumDense sublayers' weights)
run_graph_fixture tfkeras214_attention "$fx/tfkeras214_attention.h5"
run_graph_fixture keras3_attention "$fx/keras3_attention.keras"
grep -q '^local attention_out = attention({ lstm_out, input_2 }, { use_causal_mask = true })$' \
  "$work/tfkeras214_attention/tfkeras214_attention.lua" && ok ||
  ko "the causal Attention call is not written as Keras's: $(grep attention "$work/tfkeras214_attention/tfkeras214_attention.lua")"
# model.to_json() of it, with the .h5's weights: the same description
if $rnnc import "$fx/tfkeras214_attention.json" --weights "$fx/tfkeras214_attention.h5" -o "$work/attention_json" \
  >/dev/null 2>&1 && cmp -s "$work/attention_json/tfkeras214_attention.safetensors" \
  "$work/tfkeras214_attention/tfkeras214_attention.safetensors"; then ok; else
  ko "the attention model's JSON and weights do not import as its .h5"
fi
# a layer named Attention without Keras's use_scale: the user's own class
# (the Attention(Layer) of many tf.keras tutorials), refused by name
sed 's/"use_scale": true, "score_mode": "dot"/"score_mode": "dot"/' "$fx/tfkeras214_attention.json" \
  >"$work/own_attention.json"
refused "an Attention class of the user's own" \
  "layer 'attention' .Attention.: its configuration has no 'use_scale', which Keras.s Attention always writes" -- \
  $rnnc import "$work/own_attention.json" --weights "$fx/tfkeras214_attention.h5"
# a shared Dense (two nodes, one set of weights), Concatenate along time,
# a return_state output by tensor index (read by Multiply and the model's
# second output)
run_graph_fixture keras3_shared "$fx/keras3_shared.keras"
grep -q '^local dense_call2_out = dense(input_layer_1)$' "$work/keras3_shared/keras3_shared.lua" &&
  grep -q '^local concatenate = Concatenate { name = "concatenate", axis = 1 }$' \
    "$work/keras3_shared/keras3_shared.lua" &&
  ok || ko "the shared layer is not called twice: $(grep -v '^--' "$work/keras3_shared/keras3_shared.lua")"
# what stays refused in graphs, named: masks and other call arguments, a
# nested model, a node or tensor that does not exist
gr="$work/graph-refused"
mkdir -p "$gr"
lua5.4 - "$fx/keras3_shared.config.json" "$gr" <<'LUA'
local s = io.open(arg[1], "rb"):read("a")
local function put(name, from, to)
  local a, b = s:find(from, 1, true)
  assert(a, "no " .. from)
  io.open(arg[2] .. "/" .. name .. ".json", "wb"):write(s:sub(1, a - 1) .. to .. s:sub(b + 1))
end
local rnn_node = '"kwargs": {"training": false, "mask": null}'
local mask = '{"class_name": "__keras_tensor__", "config": {"shape": [null, 5], "dtype": "bool", '
  .. '"keras_history": ["input_layer", 0, 0]}}'
put("mask", rnn_node, '"kwargs": {"mask": ' .. mask .. '}')
put("constants", rnn_node, '"kwargs": {"constants": [' .. mask .. ']}')
put("op", '{"module": "keras.layers", "class_name": "Multiply"', '{"module": "keras.src.ops.numpy", "class_name": "Multiply"')
put("no_node", '"keras_history": ["dense", 1, 0]', '"keras_history": ["dense", 2, 0]')
put("no_tensor", '"keras_history": ["simple_rnn", 0, 1]', '"keras_history": ["simple_rnn", 0, 2]')
LUA
w3="$fx/keras3_shared.weights.h5"
refused "graph: a mask in a call" "layer 'simple_rnn' \(SimpleRNN\): is called with a mask" -- \
  $rnnc import "$gr/mask.json" --weights "$w3"
# tf.keras records training only when the call passed it: refused (Keras 3
# records the signature's default in every node: keras3_seq2seq has it)
sed 's/\[\["input_1", 0, 0, {}\]\]/[["input_1", 0, 0, {"training": true}]]/' "$fx/tfkeras214_seq2seq_kwargs.json" \
  >"$gr/training.json"
refused "graph: training in a call" "layer 'lstm' \\(LSTM\\): is called with training = true" -- \
  $rnnc import "$gr/training.json" --weights "$fx/tfkeras214_seq2seq.h5"
refused "graph: other call arguments" "layer 'simple_rnn' \(SimpleRNN\): is called with the argument 'constants'" -- \
  $rnnc import "$gr/constants.json" --weights "$w3"
# a model inside a Sequential model
sed 's/"class_name": "Bidirectional"/"class_name": "Functional"/' "$fx/keras3_bidir_gru.config.json" >"$gr/in_seq.json"
refused "graph: a model inside a Sequential" "layer 'bidirectional' \(Functional\): a model used as a layer of a Sequential" -- \
  $rnnc import "$gr/in_seq.json" --weights "$fx/keras3_bidir_gru.weights.h5"
# a model nested two deep; a layer name inside the nested model and outside
sed 's/"class_name": "LSTM"/"class_name": "Functional"/' "$fx/keras3_nested.config.json" >"$gr/deep.json"
refused "graph: models nested two deep" "layer 'lstm' \(Functional\): a model inside a model used as a layer" -- \
  $rnnc import "$gr/deep.json" --weights "$fx/keras3_nested.weights.h5"
sed 's/"dense"/"lstm"/g' "$fx/keras3_nested.config.json" >"$gr/same_name.json"
refused "graph: one name inside a nested model and outside" "layer name 'lstm' is used inside the nested model" -- \
  $rnnc import "$gr/same_name.json" --weights "$fx/keras3_nested.weights.h5"
refused "graph: a Keras operation" "layer 'multiply' \\(Multiply\\): a Keras operation \\(module 'keras.src.ops.numpy'\\)" -- \
  $rnnc import "$gr/op.json" --weights "$w3"
refused "graph: a node that does not exist" "layer 'dense' has 2 call\(s\); node 2 does not exist" -- \
  $rnnc import "$gr/no_node.json" --weights "$w3"
refused "graph: a tensor that does not exist" "layer 'simple_rnn' returns 2 tensor\(s\); tensor 2 does not exist" -- \
  $rnnc import "$gr/no_tensor.json" --weights "$w3"

# what the descriptions say
d="$work/keras224_lstm_gru/keras224_lstm_gru.lua"
grep -q 'recurrent_activation = "hard_sigmoid_keras2"' "$d" && grep -q 'reset_after = false' "$d" && ok ||
  ko "Keras 2.2.4's hard_sigmoid (rnnc's hard_sigmoid_keras2) and reset_after=False are not written out"
grep -q 'learning_rate = 0.0010000000474974513' "$d" && ok || ko "the float32 learning rate does not round-trip"
grep -qE '^--   sha256 [0-9a-f]{64}$' "$d" && grep -q 'written by Keras 2.2.4' "$d" && ok || ko "no provenance header"
grep -q 'input_shape = { None, 3 }' "$work/tfkeras29_bidir/tfkeras29_bidir.lua" && ok || ko "None timesteps lost"
grep -q 'legacy = true' "$work/tfkeras29_bidir/tfkeras29_bidir.lua" && ok ||
  ko "tf.keras 2.9's RMSprop is not marked legacy"
expect "--check on a supported file" 0 "verdict: supported \(178 parameters\)" -- \
  $rnnc import --check "$fx/keras224_lstm_gru.h5"
expect "--check names the optimizer state" 0 "optimizer state: Adam after 7 updates" -- \
  $rnnc import --check "$fx/keras224_lstm_gru.h5"
[ ! -e tests/import/fixtures/keras224_lstm_gru.lua ] && ok || ko "--check wrote a file"

# --- refused: unsupported things, broken and hostile files --------------------
k3=$fx/refused_keras3.keras
refused "every unsupported thing at once" "rnnc does not support 1 thing" -- $rnnc import "$k3"
# its Dense's Keras 3 L2 kernel_regularizer is no longer among them
if $rnnc import "$k3" -o "$work/k3" 2>&1 | grep -q "regularizer"; then
  ko "a Keras 3 L2 kernel_regularizer is refused"
else
  ok
fi
# Embedding's sparse gradients: refused by name (its mask_zero is imported)
refused "Embedding sparse" "rnnc does not support 1 thing" -- $rnnc import "$fx/refused_embedding.keras"
if $rnnc import --check "$fx/refused_embedding.keras" 2>&1 | grep -q mask_zero; then
  ko "Embedding mask_zero = true is still refused"
else
  ok
fi
# activity_regularizer comes through as Keras wrote it (Keras 3's
# keras.regularizers object) on the Dense; on the GRU that Bidirectional
# wraps it is refused, naming the wrapper
ar="$work/k3activity"
mkdir -p "$ar"
lua5.4 - "$fx/keras3_embedding.config.json" "$ar/k3act.json" "$fx/keras3_bidir_gru.config.json" "$ar/k3bidir_act.json" \
  "$ar/k3bidir_reg.json" "$ar/k3ar.json" <<'LUA'
local L2 = [["activity_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.03}, "registered_name": null}]]
-- the first activity_regularizer after `after`, or every one (after nil;
-- `what` another argument)
local function rewrite(from, to, after, what)
  local s = io.open(from, "rb"):read("a")
  if after == nil then
    local n
    local arg_name = what or "activity_regularizer"
    s, n = s:gsub('"' .. arg_name .. '": null', (L2:gsub("activity_regularizer", arg_name):gsub("%%", "%%%%")))
    assert(n > 0, "no " .. arg_name)
  else
    local at = assert(s:find(after, 1, true), after)
    local a, b = s:find([["activity_regularizer": null]], at, true)
    assert(a, "no activity_regularizer after " .. after)
    s = s:sub(1, a - 1) .. L2 .. s:sub(b + 1)
  end
  io.open(to, "wb"):write(s)
end
rewrite(arg[1], arg[2], [["class_name": "Dense"]])
rewrite(arg[3], arg[4], nil) -- the GRU and its backward copy
rewrite(arg[3], arg[5], nil, "kernel_regularizer")
-- an ActivityRegularization layer before the Dense (no weights: the file's fit)
local s = io.open(arg[1], "rb"):read("a")
local at = assert(s:find('{"module": "keras.layers", "class_name": "Dense"', 1, true))
io.open(arg[6], "wb"):write(s:sub(1, at - 1) .. [[{"module": "keras.layers", "class_name": "ActivityRegularization", ]]
  .. [["config": {"name": "activity_regularization", "trainable": true, "l1": 0.01, "l2": 0.0}, ]]
  .. [["registered_name": null}, ]] .. s:sub(at))
LUA
if $rnnc import "$ar/k3act.json" --weights "$fx/keras3_embedding.weights.h5" -o "$ar/out" >/dev/null 2>&1 &&
  grep -q 'Dense { 2, name = "dense", activity_regularizer = L2 { l2 = 0.029999999999999999 } }' \
    "$ar/out/k3act.lua"; then
  ok
else
  ko "activity_regularizer: not imported as written: $(grep -h Dense "$ar"/out/*.lua 2>/dev/null)"
fi
refused "activity_regularizer inside Bidirectional" "activity_regularizer on the layer Bidirectional wraps" -- \
  $rnnc import "$ar/k3bidir_act.json" --weights "$fx/keras3_bidir_gru.weights.h5"
# a regularizer on both copies of a Bidirectional's layer is the same
# configuration (it was refused as "configured differently" before)
expect "kernel_regularizer inside Bidirectional" 0 "wrote" -- \
  $rnnc import "$ar/k3bidir_reg.json" --weights "$fx/keras3_bidir_gru.weights.h5" -o "$ar/reg"
grep -q 'kernel_regularizer = L2 { l2 = 0.029999999999999999 }' "$ar/reg/k3bidir_reg.lua" && ok ||
  ko "kernel_regularizer inside Bidirectional: $(grep -h GRU "$ar"/reg/*.lua 2>/dev/null)"
expect "ActivityRegularization is imported" 0 "wrote" -- \
  $rnnc import "$ar/k3ar.json" --weights "$fx/keras3_embedding.weights.h5" -o "$ar/ar"
grep -q 'ActivityRegularization { name = "activity_regularization", l1 = 0.01, l2 = 0 },' "$ar/ar/k3ar.lua" && ok ||
  ko "ActivityRegularization: not imported as written: $(grep -h Activity "$ar"/ar/*.lua 2>/dev/null)"
# mask_zero = true comes through as Keras wrote it, and the masked model's
# generated code agrees with the reference runtime on tokens holding zeros
mz="$work/k3embmask"
mkdir -p "$mz"
sed 's/"mask_zero": false/"mask_zero": true/' "$fx/keras3_embedding.config.json" >"$mz/k3embmask.json"
if $rnnc import "$mz/k3embmask.json" --weights "$fx/keras3_embedding.weights.h5" -o "$mz/out" >/dev/null 2>&1 &&
  grep -q 'Embedding { 6, 2, name = "embedding", input_shape = { None }, mask_zero = true }' "$mz/out/k3embmask.lua" &&
  CFLAGS="-O1" $rnnc build "$mz/out/k3embmask.lua" -o "$mz/bin" --dtype float64 --timesteps 5 >/dev/null 2>&1; then
  ok
else
  ko "Embedding mask_zero = true: not imported as written: $(grep -h Embedding "$mz"/out/*.lua 2>/dev/null)"
fi
"$mz/bin/k3embmask" sample --seed 1 --n 6 --x "$mz/x.npy" --y "$mz/y.npy" >/dev/null 2>&1
expect "Embedding mask_zero: generated code vs the reference runtime" 0 "^OK" -- \
  "$mz/bin/k3embmask" diff --weights "$mz/out/k3embmask.safetensors" --x "$mz/x.npy" --y "$mz/y.npy"
expect "Embedding sparse is named" 1 "layer 'embedding' \(Embedding\): sparse = true: sparse gradients" -- \
  $rnnc import --check "$fx/refused_embedding.keras"
refused "a weight of the wrong shape" "bad_shape.h5: dataset 'model_weights/gru_1/gru_1/kernel:0' \(layer 'gru_1' \(GRU\)\) has shape \(3, 11\); the configuration needs \(3, 12\)" \
  -- $rnnc import "$fx/bad_shape.h5"
refused "a NaN weight" "nan_weight.h5: dataset 'model_weights/dense_1/dense_1/bias:0' \(dense_1/bias\), element 1 is not finite" \
  -- $rnnc import "$fx/nan_weight.h5"
head -c 3000 "$fx/keras224_lstm_gru.h5" >"$work/truncated.h5"
refused "a truncated HDF5 file" "truncated.h5: " -- $rnnc import "$work/truncated.h5"
head -c 2000 "$fx/keras3_bidir_gru.keras" >"$work/truncated.keras"
refused "a truncated zip" "truncated.keras: not a readable zip archive" -- $rnnc import "$work/truncated.keras"
printf 'GIF89a' >"$work/picture.h5"
refused "not a model file (named .h5)" "picture.h5: not a Keras model file" -- $rnnc import "$work/picture.h5"
refused "a directory" "not a regular file" -- $rnnc import "$work"
refused "a missing file" "nope.h5: cannot read" -- $rnnc import "$work/nope.h5"
refused "JSON without weights" "needs its weights" -- $rnnc import "$fx/tfkeras212_json.json"
refused "weights only" "weights only \(save_weights\)" -- $rnnc import "$fx/tfkeras212_json.weights.h5"
printf '{"class_name": "Sequential", "config": {"layers": [{"class_name": "LSTM", "config": {"units": "many"}}]}}' \
  >"$work/wrong_type.json"
refused "a config value of the wrong type" "config key model_config.config.layers\[0\].config.units: expected a whole number" \
  -- $rnnc import "$work/wrong_type.json" --weights "$fx/tfkeras212_json.weights.h5"
printf '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 1e12, "batch_input_shape": [null, 3]}}]}}' \
  >"$work/absurd.json"
refused "an absurd size" "units: expected a whole number from 1 to 65536" -- \
  $rnnc import "$work/absurd.json" --weights "$fx/tfkeras212_json.weights.h5"
lua5.4 -e 'io.write(string.rep("[", 5000) .. string.rep("]", 5000))' | sed 's/^/{"a": /; s/$/}/' >"$work/deep.json"
refused "deep nesting" "deep.json: the JSON architecture is not valid JSON \(.*nested" -- \
  $rnnc import "$work/deep.json" --weights "$fx/tfkeras212_json.weights.h5"
# weight regularizers and constraints in the serialized forms of tf.keras 2.x
# and Keras 3: imported as the DSL's constructors; an unknown one refused,
# naming the layer and the argument
sed 's/"kernel_regularizer": null, "recurrent_regularizer": null/"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}, "recurrent_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.02}, "registered_name": null}/; s/"bias_constraint": null, "dropout"/"bias_constraint": {"module": "keras.constraints", "class_name": "NonNeg", "config": {}, "registered_name": null}, "dropout"/; s/"kernel_constraint": null, "bias_constraint": null}}]/"kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 2, "axis": [0, 1]}}, "bias_constraint": null}}]/' \
  "$fx/tfkeras212_json.json" >"$work/rules.json"
if $rnnc import "$work/rules.json" --weights "$fx/tfkeras212_json.weights.h5" -o "$work/rules" >/dev/null 2>&1 &&
  grep -q 'kernel_regularizer = L1L2 { l1 = 0, l2 = 0.01 }, recurrent_regularizer = L2 { l2 = 0.02 }, bias_constraint = NonNeg {}' "$work/rules/rules.lua" &&
  grep -q 'kernel_constraint = MaxNorm { axis = { 0, 1 }, max_value = 2 }' "$work/rules/rules.lua" &&
  $rnnc summary "$work/rules/rules.lua" >/dev/null 2>&1; then
  ok
else
  ko "regularizers and constraints: not imported as L1L2, L2, NonNeg, MaxNorm"
fi
# dropout and recurrent_dropout (issue 13): imported; the identity at
# inference, so the file's arrays predict what they predict without them
sed 's/"dropout": 0.0, "recurrent_dropout": 0.0/"dropout": 0.3, "recurrent_dropout": 0.2/' \
  "$fx/tfkeras212_json.json" >"$work/gru_dropout.json"
if $rnnc import "$work/gru_dropout.json" --weights "$fx/tfkeras212_json.weights.h5" -o "$work/gru_dropout" \
  >/dev/null 2>&1 && grep -q 'dropout = 0.3, recurrent_dropout = 0.2' "$work/gru_dropout/gru_dropout.lua"; then
  ok
  if CFLAGS="-O1" $rnnc build "$work/gru_dropout/gru_dropout.lua" -o "$work/gru_dropout/bin" --dtype float64 \
    --timesteps "$(cat "$fx/tfkeras212_json.steps")" >/dev/null 2>&1 &&
    "$work/gru_dropout/bin/gru_dropout" predict --weights "$work/gru_dropout/gru_dropout.safetensors" \
      --x "$fx/tfkeras212_json.x.npy" --out "$work/gru_dropout/pred.npy" >/dev/null 2>&1 &&
    $compare npy "$work/gru_dropout/pred.npy" "$fx/tfkeras212_json.pred.npy" 1e-10 >/dev/null; then ok; else
    ko "a GRU with dropout: predictions differ from the file's without dropout"
  fi
else
  ko "a GRU with dropout and recurrent_dropout: not imported as such"
fi
sed 's/"kernel_regularizer": null, "recurrent_regularizer": null/"kernel_regularizer": {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.01, "mode": "rows"}}, "recurrent_regularizer": null/' \
  "$fx/tfkeras212_json.json" >"$work/orthogonal.json"
refused "an unknown regularizer" "gru.*kernel_regularizer: OrthogonalRegularizer is not a regularizer rnnc implements" -- \
  $rnnc import "$work/orthogonal.json" --weights "$fx/tfkeras212_json.weights.h5"
sed 's/"activity_regularizer": null/"activity_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}/' \
  "$fx/tfkeras212_json.json" >"$work/activity.json"
# tf.keras 2.x's activity_regularizer (on the GRU): imported as written, and
# the built model's training computation agrees with the reference runtime
if $rnnc import "$work/activity.json" --weights "$fx/tfkeras212_json.weights.h5" -o "$work/activity" >/dev/null 2>&1 &&
  grep -q 'activity_regularizer = L2 { l2 = 0.01 }' "$work/activity/activity.lua" &&
  CFLAGS="-O1" $rnnc build "$work/activity/activity.lua" -o "$work/activity/bin" --dtype float64 --timesteps 4 \
    >/dev/null 2>&1; then
  ok
  "$work/activity/bin/activity" sample --seed 1 --n 3 --x "$work/activity/x.npy" --y "$work/activity/y.npy" >/dev/null
  expect "an activity regularizer: generated code vs the reference runtime" 0 "^OK" -- \
    "$work/activity/bin/activity" diff --weights "$work/activity/activity.safetensors" --x "$work/activity/x.npy" \
    --y "$work/activity/y.npy"
else
  ko "an activity regularizer: not imported and built: $(grep -h GRU "$work"/activity/*.lua 2>/dev/null)"
fi
expect "usage: no output directory" 2 "needs -o OUTDIR" -- $rnnc import "$fx/keras3_lstm.h5"
expect "usage: unknown option" 2 "unknown option --fast" -- $rnnc import "$fx/keras3_lstm.h5" --fast -o "$work/x"

echo "import: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
