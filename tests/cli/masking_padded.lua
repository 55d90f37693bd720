-- The test issue 13 asks of masking: a padded batch of sentences of
-- different lengths, Masking in front of an LSTM tagger, trains to exactly
-- what the same sentences trained one at a time without padding give.
--
--   lua5.4 tests/cli/masking_padded.lua DRIVER WORKDIR
--
-- DRIVER: the driver of tests/cli/fixtures/masked_tagger.lua built with
-- --dtype float64 --timesteps 5 --batch 1. Four sentences: one padded at the
-- end, one at the start (Keras's pad_sequences default, "pre"), one with a
-- masked step in the middle (the same sentence without that step), one of
-- the full length. The padded run is `fit --batch-size 1 --no-shuffle` over
-- the four padded sentences for EPOCHS epochs; the unpadded run is one `fit`
-- per sentence and epoch, each on that sentence alone at its own length,
-- the optimizer state carried by --resume. Keras's masked loss divides by
-- the unmasked steps (keras/src/losses/loss.py apply_mask), and a masked
-- step keeps the LSTM's states (keras/src/backend/*/rnn.py), so the two
-- runs make the same Adam updates: every weight and optimizer slot must
-- agree to float64 round-off (1e-12 relative). Prints "ok" or what differs;
-- exit status 0 or 1.
local driver, work = arg[1], arg[2]
if not driver or not work then
  io.stderr:write("usage: lua5.4 tests/cli/masking_padded.lua DRIVER WORKDIR\n")
  os.exit(2)
end
local EPOCHS, T, F = 3, 5, 3

local npy = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../lib/npy.lua")
local write_npy = npy.write

-- Every tensor of a safetensors file: name -> list of doubles (F64 only).
local function read_safetensors(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  local n = string.unpack("<I8", data)
  local header = data:sub(9, 8 + n)
  local tensors = {}
  for name, dtype, a, b in header:gmatch('"([^"]+)":{"dtype":"(%w+)","shape":%[[%d,]*%],"data_offsets":%[(%d+),(%d+)%]}') do
    if dtype == "F64" then
      local t = {}
      for off = 9 + n + tonumber(a), 8 + n + tonumber(b), 8 do
        t[#t + 1] = string.unpack("<d", data, off)
      end
      tensors[name] = t
    end
  end
  return tensors
end

local function run(cmd)
  local ok = os.execute(cmd .. " >" .. work .. "/last.log 2>&1")
  if not ok then
    io.stderr:write("masking_padded: failed: " .. cmd .. "\n")
    os.exit(1)
  end
end

-- Word vectors (never all zero: 0 is the mask value) and tags.
local words = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 }, { 0.5, -1, 0 }, { -0.5, 0.25, 1 } }
local sentences = {
  { w = { 1, 2, 3 }, tags = { 0, 1, 2 } },
  { w = { 4, 2 }, tags = { 0, 1 } },
  { w = { 5, 1, 2, 3 }, tags = { 2, 0, 1, 2 } },
  { w = { 3, 3, 1, 4, 5 }, tags = { 1, 2, 0, 0, 1 } },
}
-- Where each sentence lies in the padded rows: "post", "pre", or a hole
-- after its second word; the padded rows and the hole are zeros.
local layout = { "post", "pre", "hole", "post" }

local px, py = {}, {}
for i, s in ipairs(sentences) do
  local L = #s.w
  local rows = {}
  if layout[i] == "post" then
    for t = 1, T do
      rows[t] = t <= L and t or nil
    end
  elseif layout[i] == "pre" then
    for t = 1, T do
      rows[t] = t > T - L and t - (T - L) or nil
    end
  else -- a masked step after the second word
    for t = 1, T do
      rows[t] = t <= 2 and t or (t >= 4 and t - 1 <= L and t - 1 or nil)
    end
  end
  for t = 1, T do
    local k = rows[t]
    for c = 1, F do
      px[#px + 1] = k and words[s.w[k]][c] or 0
    end
    py[#py + 1] = k and s.tags[k] or 0
  end
  -- the sentence alone, unpadded
  local x, y = {}, {}
  for k = 1, L do
    for c = 1, F do
      x[#x + 1] = words[s.w[k]][c]
    end
    y[k] = s.tags[k]
  end
  write_npy(string.format("%s/x%d.npy", work, i), { 1, L, F }, x)
  write_npy(string.format("%s/y%d.npy", work, i), { 1, L }, y)
end
write_npy(work .. "/x.npy", { #sentences, T, F }, px)
write_npy(work .. "/y.npy", { #sentences, T }, py)

run(string.format("%s init --seed 7 --out %s/w0.safetensors", driver, work))
run(string.format("%s fit --weights %s/w0.safetensors --x %s/x.npy --y %s/y.npy --epochs %d --batch-size 1 "
  .. "--no-shuffle --verbose 0 --out %s/padded.safetensors", driver, work, work, work, EPOCHS, work))
local w = work .. "/w0.safetensors"
for e = 1, EPOCHS do
  for i = 1, #sentences do
    local out = string.format("%s/one_%d_%d.safetensors", work, e, i)
    run(string.format("%s fit --weights %s %s--x %s/x%d.npy --y %s/y%d.npy --epochs 1 --batch-size 1 "
      .. "--verbose 0 --out %s", driver, w, (e > 1 or i > 1) and "--resume " or "", work, i, work, i, out))
    w = out
  end
end

local a, b = read_safetensors(work .. "/padded.safetensors"), read_safetensors(w)
local worst, names, moved = 0, 0, 0
local w0 = read_safetensors(work .. "/w0.safetensors")
for name, ta in pairs(a) do
  local tb = b[name]
  if not tb or #tb ~= #ta then
    print("masking_padded: tensor " .. name .. " differs in presence or size")
    os.exit(1)
  end
  names = names + 1
  local scale = 0
  for k = 1, #ta do
    scale = math.max(scale, math.abs(tb[k]))
  end
  for k = 1, #ta do
    worst = math.max(worst, math.abs(ta[k] - tb[k]) / math.max(scale, 1e-300))
    if w0[name] then moved = math.max(moved, math.abs(ta[k] - w0[name][k])) end
  end
end
for name in pairs(b) do
  if not a[name] then
    print("masking_padded: tensor " .. name .. " only in the unpadded run")
    os.exit(1)
  end
end
if moved < 1e-3 then
  print(string.format("masking_padded: the weights hardly moved (%.3g): the test would prove nothing", moved))
  os.exit(1)
end
if not (worst <= 1e-12) then
  print(string.format("masking_padded: padded and one-at-a-time training differ: worst relative %.3g over %d "
    .. "tensors", worst, names))
  os.exit(1)
end
print(string.format("ok: %d tensors (weights and Adam's slots) agree to %.3g relative; weights moved up to %.3g",
  names, worst, moved))
