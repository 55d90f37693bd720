-- Decodes the seq2seq fixture step by step with the decoder INFERENCE model
-- (tests/import/graphs/seq2seq_decoder.lua, built with --timesteps 1) on the
-- weights `rnnc import` wrote for the training model, teacher-forced: step
-- t reads the decoder input's step t and the states step t - 1 returned
-- (the encoder model's h and c at step 0). Its output at every step must be
-- the training model's output at that step (Keras's equations on the
-- file's arrays, NAME.pred.npy), as Keras's decode_sequence relies on.
--   lua5.4 seq2seq_steps.lua DECODER WEIGHTS X1.npy H.npy C.npy PRED.npy WORKDIR TOL
-- Prints the worst relative difference; exit 1 above TOL.
local npy = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../lib/npy.lua")
local bin, weights, x1, h, c, pred, dir, tol = table.unpack(arg, 1, 8)
tol = tonumber(tol)
local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
local xs, xv = npy.read(x1)
local ps, pv = npy.read(pred)
local n, steps, feats, outs = xs[1], xs[2], xs[3], ps[3]
assert(ps[1] == n and ps[2] == steps, "the predictions' shape differs from the decoder input's")
local worst = 0
for t = 0, steps - 1 do
  local step = {}
  for s = 0, n - 1 do
    for f = 0, feats - 1 do
      step[#step + 1] = xv[(s * steps + t) * feats + f + 1]
    end
  end
  local xt = string.format("%s/x_%d.npy", dir, t)
  npy.write(xt, { n, 1, feats }, step)
  local y = string.format("%s/y_%d.npy", dir, t)
  local cmd = string.format("%s predict --weights %s --x decoder_inputs=%s --x state_h=%s --x state_c=%s --out %s "
    .. ">/dev/null", q(bin), q(weights), q(xt), q(h), q(c), q(y))
  if not os.execute(cmd) then
    io.stderr:write("seq2seq_steps: the decoder failed at step ", t, "\n")
    os.exit(1)
  end
  local _, yv = npy.read(y)
  local d, m = 0, 1e-300
  for s = 0, n - 1 do
    for k = 0, outs - 1 do
      local want = pv[(s * steps + t) * outs + k + 1]
      d = math.max(d, math.abs(yv[s * outs + k + 1] - want))
      m = math.max(m, math.abs(want))
    end
  end
  worst = math.max(worst, d / m)
  -- the next step starts from the states this one returned
  h, c = y:gsub("%.npy$", "_1.npy"), y:gsub("%.npy$", "_2.npy")
end
print(string.format("%.3e", worst))
if worst ~= worst or worst > tol then
  io.stderr:write(string.format("seq2seq_steps: step outputs differ from the training model's by %.3e\n", worst))
  os.exit(1)
end
