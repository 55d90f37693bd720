-- The sequence-to-sequence example's pipeline (examples/seq2seq/), short:
-- its data, a few epochs of training through the driver, greedy decoding in
-- the C program that calls the encoder and decoder units, and what that
-- decoding means, checked against the training model:
--
--   lua5.4 tests/cli/seq2seq.lua WORKDIR [EPOCHS]
--
-- (CC and CFLAGS from the environment compile decode.c, RNNC_RUNTIME_LIB
-- names the librnnc.a it links, default build/librnnc.a.)
-- 1. The training model (examples/seq2seq/train.lua) is built with its
--    encoder's states as two more outputs (no loss: fit trains it as
--    train.lua); the encoder and decoder units (encoder.lua, decoder.lua)
--    are generated and linked into decode.c, which loads the training
--    model's weight file directly.
--    The training unit (two inputs of different lengths, 7 and 6 steps)
--    agrees with the reference runtime (`diff`: output, loss, gradients).
-- 2. decode --dump writes the encoder states it got, and for each step the
--    decoder's one-hot input and softmax output. The training model's
--    predict, teacher-forced with those inputs (the greedily decoded
--    prefix), gives the same softmax at every step, and its encoder the
--    same states, within 1e-5 (float32 units; measured: about 1e-7).
-- 3. The dump is greedy decoding: each step's input is the previous step's
--    argmax, the first is the start character "\t".
-- 4. The exact-match and per-character accuracies decode prints are those
--    recomputed here from the dump and the targets; after the default 30
--    epochs some characters are right (so that this check is not of zeros
--    only: 55 of 172 measured).
-- Prints "ok: ..." or what failed; exit status 0 or 1.
local work, epochs = arg[1], math.tointeger(tonumber(arg[2] or "30"))
local cc, cflags = os.getenv("CC") or "cc", os.getenv("CFLAGS") or ""
if not work or not epochs then
  io.stderr:write("usage: lua5.4 tests/cli/seq2seq.lua WORKDIR [EPOCHS]\n")
  os.exit(2)
end
local npy = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../lib/npy.lua")
local TOL = 1e-5

local function fail(fmt, ...)
  print("FAIL: " .. string.format(fmt, ...))
  os.exit(1)
end

local function run(command)
  local p = assert(io.popen(command .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  if not ok then fail("%s\n%s", command, out) end
  return out
end

-- 1. the units
local f = assert(io.open("examples/seq2seq/train.lua"))
local src = f:read("a")
f:close()
local variant, count = src:gsub("outputs = decoder_outputs }", "outputs = { decoder_outputs, state_h, state_c } }")
if count ~= 1 then fail("examples/seq2seq/train.lua: its Model{} line is not 'outputs = decoder_outputs }'") end
local train_path = work .. "/train_states.lua"
f = assert(io.open(train_path, "w"))
f:write(variant)
f:close()
run(string.format("lua5.4 bin/rnnc build %q -o %q", train_path, work))
run(string.format("lua5.4 bin/rnnc generate examples/seq2seq/encoder.lua -o %q --batch 1", work))
run(string.format("lua5.4 bin/rnnc generate examples/seq2seq/decoder.lua -o %q --batch 1", work))
local decode = work .. "/decode"
run(string.format("%s -std=c99 -O2 %s -Wall -Wextra -Werror -pedantic -DRNNC_INFERENCE_ONLY -Iruntime -I%q "
  .. "examples/seq2seq/decode.c %q %q %q -lm -o %q", cc, cflags, work, work .. "/encoder.c", work .. "/decoder.c",
  os.getenv("RNNC_RUNTIME_LIB") or "build/librnnc.a", decode))

-- a tiny data set and a few epochs: the checks hold for any weights
run(string.format("lua5.4 examples/seq2seq/make_data.lua %q --train 192 --heldout 48 --seed 5", work))
local train = work .. "/train_states"
local w0, w1 = work .. "/w0.safetensors", work .. "/w1.safetensors"
run(string.format("%q init --seed 2 --out %q", train, w0))
run(string.format("%q fit --weights %q --x encoder_inputs=%q --x decoder_inputs=%q --y %q --epochs %d "
  .. "--batch-size 32 --seed 1 --verbose 0 --out %q", train, w0, work .. "/train_encoder_input.npy",
  work .. "/train_decoder_input.npy", work .. "/train_decoder_target.npy", epochs, w1))

local enc_x, target = work .. "/heldout_encoder_input.npy", work .. "/heldout_decoder_target.npy"
run(string.format("%q diff --weights %q --x encoder_inputs=%q --x decoder_inputs=%q --y %q", train, w1, enc_x,
  work .. "/heldout_decoder_input.npy", target))

-- 2. decode, then the training model teacher-forced with the decoded prefix
local out = run(string.format("%q %q %q %q --show 0 --dump %q", decode, w1, enc_x, target, work))
run(string.format("%q predict --weights %q --x encoder_inputs=%q --x decoder_inputs=%q --out %q", train, w1,
  enc_x, work .. "/decoder_input.npy", work .. "/pred.npy"))
local _, dec_in = npy.read(work .. "/decoder_input.npy")
local dshape, dec_out = npy.read(work .. "/decoder_output.npy")
local sshape, states = npy.read(work .. "/encoder_states.npy")
local pshape, pred = npy.read(work .. "/pred.npy")
local _, h = npy.read(work .. "/pred_1.npy")
local _, c = npy.read(work .. "/pred_2.npy")
local n, steps, tokens, latent = dshape[1], dshape[2], dshape[3], sshape[3]
if n ~= 48 or steps ~= 6 or tokens ~= 13 or pshape[1] ~= n or pshape[2] ~= steps or pshape[3] ~= tokens then
  fail("shapes: dump (%d, %d, %d), predict (%s)", n, steps, tokens, table.concat(pshape, ", "))
end
-- the largest difference, NaN if any is (math.max can drop a NaN)
local function worse(worst, a, b)
  local d = math.abs(a - b)
  if d ~= d or d > worst then return d end
  return worst
end
local worst_y, worst_s = 0, 0
for k = 1, #pred do
  worst_y = worse(worst_y, pred[k], dec_out[k])
end
for i = 0, n - 1 do
  for j = 1, latent do
    worst_s = worse(worst_s, states[i * 2 * latent + j], h[i * latent + j])
    worst_s = worse(worst_s, states[(i * 2 + 1) * latent + j], c[i * latent + j])
  end
end
if worst_y ~= worst_y or worst_y > TOL then
  fail("decoder steps differ from the teacher-forced training model by %.3g", worst_y)
end
if worst_s ~= worst_s or worst_s > TOL then fail("encoder states differ from the training model's by %.3g", worst_s) end

-- 3. greedy: step t + 1's input is step t's argmax, step 0's is "\t"
local function argmax(t, base)
  local best = 0
  for k = 1, tokens - 1 do
    if t[base + k + 1] > t[base + best + 1] then best = k end
  end
  return best
end
local decoded = {}
for i = 0, n - 1 do
  decoded[i] = {}
  for t = 0, steps - 1 do
    local row = (i * steps + t) * tokens
    local want = t == 0 and 0 or decoded[i][t - 1]
    for k = 0, tokens - 1 do
      if dec_in[row + k + 1] ~= (k == want and 1 or 0) then
        fail("sample %d, step %d: the decoder's input is not the one-hot of %d", i, t, want)
      end
    end
    decoded[i][t] = argmax(dec_out, row)
  end
end

-- 4. the accuracies: whole answers (up to the end mark "\n", token 1) and
-- characters at their positions, the end mark counted
local _, y = npy.read(target)
local exact, right, total = 0, 0, 0
for i = 0, n - 1 do
  local match, ended, stopped = true, false, false
  for t = 0, steps - 1 do
    local want = argmax(y, (i * steps + t) * tokens)
    -- after the decoded end mark there are no decoded characters
    local got = not stopped and decoded[i][t]
    stopped = stopped or got == 1
    total = total + 1
    if got == want then right = right + 1 else match = false end
    if want == 1 then
      ended = true
      break
    end
  end
  if not ended then fail("held-out sample %d has no end mark", i) end
  if match then exact = exact + 1 end
end
if epochs >= 30 and right == 0 then fail("after %d epochs no character is right", epochs) end
local want_exact = string.format("exact match: %d/%d = ", exact, n)
local want_chars = string.format("per character: %d/%d = ", right, total)
if not out:find(want_exact, 1, true) or not out:find(want_chars, 1, true) then
  fail("decode printed\n%sexpected '%s...' and '%s...'", out, want_exact, want_chars)
end
print(string.format("ok: %d held-out strings decoded, steps and states = the training model's within %.3g and %.3g "
  .. "(tolerance %g); %d exact, %d/%d characters", n, worst_y, worst_s, TOL, exact, right, total))
