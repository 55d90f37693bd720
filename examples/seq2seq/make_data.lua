-- The data of the sequence-to-sequence example: the "addition" task
-- ("123+45" -> "168"), vectorised as Keras's lstm_seq2seq.py vectorises its
-- sentence pairs (one-hot characters, "\t" starts and "\n" ends a target,
-- " " pads both sides).
--
--   lua5.4 examples/seq2seq/make_data.lua OUTDIR [--train N] [--heldout M] [--seed S] [--digits D]
--
-- Writes into OUTDIR, for the training set and the held-out set:
--   train_encoder_input.npy  (N, 7, 12)  encoder_input_data
--   train_decoder_input.npy  (N, 6, 13)  decoder_input_data (teacher forcing)
--   train_decoder_target.npy (N, 6, 13)  decoder_target_data (one step ahead)
--   heldout_*.npy            (M, ...)    the same for strings not in the training set
--   train.txt, heldout.txt   one "input<TAB>answer" line per sample
-- as uint8 .npy files. Each operand has 1 to D digits (D = 3 by default: Keras's
-- addition_rnn.py draws its numbers the same way), drawn with Lua's
-- math.random seeded by S: the same files for the same arguments. No sum
-- occurs twice in either order (a+b and b+a are one, as addition_rnn.py
-- has it), so no held-out sum is in the training set, not even reversed.
local script_dir = arg[0]:match("^(.*)/[^/]*$") or "."
local npy = dofile(script_dir .. "/../../tests/lib/npy.lua")

local outdir = arg[1]
local opts = { train = 20000, heldout = 1000, seed = 1, digits = 3 }
local i = 2
while i <= #arg do
  local key = arg[i]:match("^%-%-(%w+)$")
  local v = math.tointeger(tonumber(arg[i + 1] or ""))
  if not key or opts[key] == nil or not v or v < 1 then
    io.stderr:write("usage: lua5.4 make_data.lua OUTDIR [--train N] [--heldout M] [--seed S] [--digits D]\n")
    os.exit(2)
  end
  opts[key] = v
  i = i + 2
end
if not outdir then
  io.stderr:write("usage: lua5.4 make_data.lua OUTDIR [--train N] [--heldout M] [--seed S] [--digits D]\n")
  os.exit(2)
end
do
  local probe_path = outdir .. "/train.txt"
  local probe, err = io.open(probe_path, "w")
  if not probe then
    io.stderr:write("make_data.lua: cannot write into " .. outdir .. ": " .. tostring(err) .. "\n")
    os.exit(1)
  end
  probe:close()
end
if opts.digits > 3 then
  io.stderr:write("make_data.lua: --digits is at most 3 (the models take 7 input and 6 output characters)\n")
  os.exit(2)
end

-- The vocabularies, sorted as Keras's example sorts its character sets. The
-- models' sizes (encoder.lua, decoder.lua, train.lua) and decode.c's tables
-- are these.
local input_characters = { " ", "+", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }
local target_characters = { "\t", "\n", " ", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }
local num_encoder_tokens, num_decoder_tokens = #input_characters, #target_characters
local max_encoder_seq_length, max_decoder_seq_length = 7, 6
local input_token_index, target_token_index = {}, {}
for k, c in ipairs(input_characters) do
  input_token_index[c] = k - 1
end
for k, c in ipairs(target_characters) do
  target_token_index[c] = k - 1
end

math.randomseed(opts.seed)
local function number()
  local digits = math.random(1, opts.digits)
  local s = {}
  for d = 1, digits do
    s[d] = tostring(math.random(0, 9))
  end
  return math.tointeger(tonumber(table.concat(s)))
end

local total = opts.train + opts.heldout
-- a quarter of the distinct sums: drawing stays quick
local numbers = 10 ^ opts.digits
local limit = math.tointeger(numbers * (numbers + 1) // 2 // 4)
if total > limit then
  io.stderr:write(string.format("make_data.lua: %d samples of at most %d digits are too many (at most %d)\n",
    total, opts.digits, limit))
  os.exit(2)
end
local seen, pairs_list = {}, {}
while #pairs_list < total do
  local a, b = number(), number()
  local key = math.min(a, b) .. "+" .. math.max(a, b)
  if not seen[key] then
    seen[key] = true
    pairs_list[#pairs_list + 1] = { a, b }
  end
end

-- Keras's loop: for i, (input_text, target_text) in enumerate(zip(...))
local function vectorize(name, first, last)
  local n = last - first + 1
  local enc, dec_in, dec_out = {}, {}, {}
  for k = 1, n * max_encoder_seq_length * num_encoder_tokens do
    enc[k] = 0
  end
  for k = 1, n * max_decoder_seq_length * num_decoder_tokens do
    dec_in[k], dec_out[k] = 0, 0
  end
  local function set(t, sample, step, steps, tokens, index)
    t[(sample * steps + step) * tokens + index + 1] = 1
  end
  local lines = {}
  for s = 0, n - 1 do
    local a, b = table.unpack(pairs_list[first + s])
    local input_text = a .. "+" .. b
    local answer = tostring(a + b)
    local target_text = "\t" .. answer .. "\n"
    lines[#lines + 1] = input_text .. "\t" .. answer
    for t = 0, max_encoder_seq_length - 1 do
      local char = t < #input_text and input_text:sub(t + 1, t + 1) or " "
      set(enc, s, t, max_encoder_seq_length, num_encoder_tokens, input_token_index[char])
    end
    for t = 0, max_decoder_seq_length - 1 do
      local char = t < #target_text and target_text:sub(t + 1, t + 1) or " "
      set(dec_in, s, t, max_decoder_seq_length, num_decoder_tokens, target_token_index[char])
      -- decoder_target_data is ahead of decoder_input_data by one timestep
      local next_char = t + 1 < #target_text and target_text:sub(t + 2, t + 2) or " "
      set(dec_out, s, t, max_decoder_seq_length, num_decoder_tokens, target_token_index[next_char])
    end
  end
  local enc_shape = { n, max_encoder_seq_length, num_encoder_tokens }
  local dec_shape = { n, max_decoder_seq_length, num_decoder_tokens }
  npy.write(outdir .. "/" .. name .. "_encoder_input.npy", enc_shape, enc, "|u1")
  npy.write(outdir .. "/" .. name .. "_decoder_input.npy", dec_shape, dec_in, "|u1")
  npy.write(outdir .. "/" .. name .. "_decoder_target.npy", dec_shape, dec_out, "|u1")
  local f = assert(io.open(outdir .. "/" .. name .. ".txt", "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

vectorize("train", 1, opts.train)
vectorize("heldout", opts.train + 1, total)
print(string.format("wrote %s/{train,heldout}_*.npy: %d training and %d held-out sums of numbers of 1 to %d "
  .. "digits (seed %d)", outdir, opts.train, opts.heldout, opts.digits, opts.seed))
