-- The metrics of a masked output, as Keras computes them: compile's
-- `metrics` take neither the sample weights nor the mask, `weighted_metrics`
-- take the sample weights and, with them, the mask (Keras 3:
-- keras/src/trainers/compile_utils.py CompileMetrics.update_state,
-- keras/src/metrics/reduction_metrics.py MeanMetricWrapper.update_state).
--
--   lua5.4 tests/cli/masked_metrics.lua DRIVER WEIGHTS X Y WORKDIR
--
-- DRIVER: a tagger whose input is tokens with Embedding(mask_zero) (the
-- mask: token != 0) and whose output is a softmax per step, labels Y. The
-- accuracies are computed here from `predict`'s output and compared with
-- what `evaluate` prints, to 1e-12 (sums of the same 0/1 hits in another
-- order). Prints "ok: ..." or what differs; exit status 0 or 1.
local driver, weights, xpath, ypath, work = arg[1], arg[2], arg[3], arg[4], arg[5]
if not work then
  io.stderr:write("usage: lua5.4 tests/cli/masked_metrics.lua DRIVER WEIGHTS X Y WORKDIR\n")
  os.exit(2)
end

local npy = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../lib/npy.lua")

local function run(command)
  local p = assert(io.popen(command .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  if not ok then
    print("failed: " .. command .. "\n" .. out)
    os.exit(1)
  end
  return out
end

-- evaluate's printed logs: name -> value
local function evaluate(extra)
  local out = run(string.format("%q evaluate --weights %q --x %q --y %q --metrics accuracy "
    .. "--weighted-metrics accuracy --verbose 0 %s", driver, weights, xpath, ypath, extra or ""))
  local logs = {}
  for name, value in out:gmatch("([%w_]+) (%S+)\n") do
    logs[name] = tonumber(value)
  end
  return logs
end

local xshape, x = npy.read(xpath)
local _, y = npy.read(ypath)
local n, T = xshape[1], xshape[2]
local pred_path = work .. "/masked_metrics_pred.npy"
run(string.format("%q predict --weights %q --x %q --out %q", driver, weights, xpath, pred_path))
local pshape, p = npy.read(pred_path)
local C = pshape[3]
assert(pshape[1] == n and pshape[2] == T, "predictions of another shape")

-- each row's hit: the first maximum (Keras's argmax) is the label
local hits, all_sum = {}, 0
for r = 0, n * T - 1 do
  local best = 0
  for c = 1, C - 1 do
    if p[r * C + c + 1] > p[r * C + best + 1] then best = c end
  end
  hits[r] = best == y[r + 1] and 1 or 0
  all_sum = all_sum + hits[r]
end
local all_mean = all_sum / (n * T)
-- the weighted mean of the hits under sample weights w and the mask
local function masked_mean(w)
  local num, den = 0, 0
  for i = 0, n - 1 do
    for t = 0, T - 1 do
      local m = x[i * T + t + 1] ~= 0 and 1 or 0
      num = num + w[i + 1] * m * hits[i * T + t]
      den = den + w[i + 1] * m
    end
  end
  return num / den
end

local failures = {}
local function near(what, got, want, tol)
  if got == nil or math.abs(got - want) > tol then
    failures[#failures + 1] = string.format("%s: %s, expected %.17g", what, tostring(got), want)
  end
end

local ones, twos, some = {}, {}, {}
for i = 1, n do
  ones[i], twos[i], some[i] = 1, 2, (i - 1) % 3
end
npy.write(work .. "/mm_ones.npy", { n }, ones)
npy.write(work .. "/mm_twos.npy", { n }, twos)
npy.write(work .. "/mm_some.npy", { n }, some)

-- no sample weights: neither is masked (Keras 3 masks only with weights)
local plain = evaluate()
near("accuracy without sample weights", plain.accuracy, all_mean, 1e-12)
near("weighted_accuracy without sample weights", plain.weighted_accuracy, all_mean, 1e-12)
-- weights of 1: the weighted metric counts the words only
local one = evaluate(string.format("--sample-weight %q", work .. "/mm_ones.npy"))
near("accuracy with sample weights", one.accuracy, all_mean, 1e-12)
near("weighted_accuracy with weights 1", one.weighted_accuracy, masked_mean(ones), 1e-12)
near("loss with weights 1", one.loss, plain.loss, 1e-12 * math.abs(plain.loss))
-- weights of 2: the loss doubles (the masked denominator counts rows, not weights)
local two = evaluate(string.format("--sample-weight %q", work .. "/mm_twos.npy"))
near("loss with weights 2", two.loss, 2 * plain.loss, 1e-12 * math.abs(plain.loss))
near("weighted_accuracy with weights 2", two.weighted_accuracy, masked_mean(twos), 1e-12)
-- weights 0, 1, 2, ...: sum(w m hit) / sum(w m)
local sw = evaluate(string.format("--sample-weight %q", work .. "/mm_some.npy"))
near("weighted_accuracy with weights 0,1,2,...", sw.weighted_accuracy, masked_mean(some), 1e-12)
near("accuracy with weights 0,1,2,...", sw.accuracy, all_mean, 1e-12)

if math.abs(masked_mean(ones) - all_mean) < 1e-3 then
  failures[#failures + 1] = "the data has no padding to tell masked from unmasked accuracy"
end
if #failures > 0 then
  print(table.concat(failures, "\n"))
  os.exit(1)
end
print(string.format("ok: accuracy %.6f over every step, weighted_accuracy %.6f over the words (weights 1), "
  .. "%.6f (weights 0,1,2,...)", all_mean, masked_mean(ones), masked_mean(some)))
