-- Keras's forward pass, written directly from /work/shared/keras-semantics.md
-- for the tests: one sample, plain Lua, no IR. Weights are read by their
-- Keras names from `values` (0-based row-major arrays, as the interpreter
-- keeps them), so a wrong layout or gate order in the generator shows.
local R = {}
local util = require("util")

local function tanh(x)
  if x > 20 then return 1 elseif x < -20 then return -1 end
  local e = math.exp(2 * x)
  return (e - 1) / (e + 1)
end

local function sigmoid(x)
  return 1 / (1 + math.exp(-x))
end

-- erf by its Taylor series (enough terms for |x| < 6 in double precision)
local function erf(x)
  local sum, term, n = x, x, 0
  repeat
    n = n + 1
    term = -term * x * x / n
    local add = term / (2 * n + 1)
    sum = sum + add
  until math.abs(add) < 1e-17 * math.abs(sum) and n > 5
  return 2 / math.sqrt(math.pi) * sum
end

local function softplus(x)
  return math.log(1 + math.exp(x))
end

local function hard_sigmoid(x) -- Keras 3: relu6(x + 3) / 6
  return math.max(0, math.min(6, x + 3)) / 6
end

-- Keras 3's activations (keras/src/activations/activations.py), written
-- from their definitions.
local ACT = {
  linear = function(x)
    return x
  end,
  relu = function(x)
    return x > 0 and x or 0
  end,
  tanh = tanh,
  sigmoid = sigmoid,
  hard_sigmoid = hard_sigmoid,
  hard_sigmoid_keras2 = function(x) -- tf.keras 2.x
    return math.max(0, math.min(1, 0.2 * x + 0.5))
  end,
  elu = function(x)
    return x > 0 and x or math.exp(x) - 1
  end,
  selu = function(x)
    local alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * (x > 0 and x or alpha * (math.exp(x) - 1))
  end,
  gelu = function(x)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))
  end,
  gelu_approximate = function(x)
    return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ^ 3)))
  end,
  swish = function(x)
    return x * sigmoid(x)
  end,
  silu = function(x)
    return x * sigmoid(x)
  end,
  softplus = softplus,
  softsign = function(x)
    return x / (1 + math.abs(x))
  end,
  exponential = math.exp,
  leaky_relu = function(x)
    return x > 0 and x or 0.2 * x
  end,
  relu6 = function(x)
    return math.min(math.max(x, 0), 6)
  end,
  mish = function(x)
    return x * tanh(softplus(x))
  end,
  hard_silu = function(x)
    return x * hard_sigmoid(x)
  end,
  hard_swish = function(x)
    return x * hard_sigmoid(x)
  end,
}

-- Applies an activation to a vector (1-based list); softmax is over it.
local activate
function activate(name, v)
  if name == "softmax" then
    local mx = -math.huge
    for _, x in ipairs(v) do
      mx = math.max(mx, x)
    end
    local out, total = {}, 0
    for i, x in ipairs(v) do
      out[i] = math.exp(x - mx)
      total = total + out[i]
    end
    for i = 1, #out do
      out[i] = out[i] / total
    end
    return out
  end
  if name == "log_softmax" then
    local sm = activate("softmax", v)
    local out = {}
    for i = 1, #sm do
      out[i] = math.log(sm[i])
    end
    return out
  end
  local f = ACT[name]
  if not f then error("the reference has no activation " .. tostring(name)) end
  local out = {}
  for i, x in ipairs(v) do
    out[i] = f(x)
  end
  return out
end

-- A weight as a matrix accessor: w(r, c) with 0-based indices.
local function matrix(values, weight)
  local a = values[weight.name]
  if not a then error("no value for the weight " .. weight.name) end
  local cols = weight.shape[#weight.shape]
  return function(r, c)
    return a[r * cols + c]
  end, weight.shape
end

-- v (1-based, length k) @ w (k x n) + bias, over columns [c0, c0 + n).
local function affine(v, w, c0, n, bias, bias_row)
  local out = {}
  for j = 0, n - 1 do
    local s = bias and bias(bias_row or 0, c0 + j) or 0
    for i = 1, #v do
      s = s + v[i] * w(i - 1, c0 + j)
    end
    out[j + 1] = s
  end
  return out
end

local function zeros(n)
  local z = {}
  for i = 1, n do
    z[i] = 0
  end
  return z
end

local function map2(a, b, f)
  local out = {}
  for i = 1, #a do
    out[i] = f(a[i], b[i])
  end
  return out
end

local function add(a, b)
  return map2(a, b, function(x, y)
    return x + y
  end)
end

local function mul(a, b)
  return map2(a, b, function(x, y)
    return x * y
  end)
end

-- One recurrent layer over a sequence (list of rows). `weights` are the
-- layer's three (or two) weights in Keras order. Returns the sequence of
-- outputs in processing order and the last output.
local function recurrent(class, args, weights, seq, values)
  local U = args.units
  local K = matrix(values, weights[1])
  local Rk = matrix(values, weights[2])
  local B, bshape = nil, nil
  if args.use_bias then B, bshape = matrix(values, weights[3]) end
  local act, rec = args.activation, args.recurrent_activation
  local h, c = zeros(U), zeros(U)
  local out = {}
  local T = #seq
  for s = 0, T - 1 do
    local t = args.go_backwards and (T - 1 - s) or s
    local x = seq[t + 1]
    if class == "SimpleRNN" then
      h = activate(act, add(affine(x, K, 0, U, B), affine(h, Rk, 0, U)))
    elseif class == "LSTM" then
      local function gate(k)
        return add(affine(x, K, k * U, U, B), affine(h, Rk, k * U, U))
      end
      local i, f, g, o = activate(rec, gate(0)), activate(rec, gate(1)), activate(act, gate(2)), activate(rec, gate(3))
      c = add(mul(f, c), mul(i, g))
      h = mul(o, activate(act, c))
    elseif class == "GRU" then
      local z, r, cand
      if args.reset_after then
        assert(not B or #bshape == 2, "reset_after GRU bias is (2, 3U)")
        local function xpart(k)
          return affine(x, K, k * U, U, B, 0)
        end
        local function hpart(k)
          return affine(h, Rk, k * U, U, B, 1)
        end
        z = activate(rec, add(xpart(0), hpart(0)))
        r = activate(rec, add(xpart(1), hpart(1)))
        cand = activate(act, add(xpart(2), mul(r, hpart(2))))
      else
        local function xpart(k)
          return affine(x, K, k * U, U, B)
        end
        z = activate(rec, add(xpart(0), affine(h, Rk, 0, U)))
        r = activate(rec, add(xpart(1), affine(h, Rk, U, U)))
        cand = activate(act, add(xpart(2), affine(mul(r, h), Rk, 2 * U, U)))
      end
      local nh = {}
      for i = 1, U do
        nh[i] = z[i] * h[i] + (1 - z[i]) * cand[i]
      end
      h = nh
    else
      error("the reference has no recurrent layer " .. class)
    end
    out[s + 1] = h
  end
  return out, h
end

local function dense(args, weights, rows, values)
  local K = matrix(values, weights[1])
  local B = args.use_bias and matrix(values, weights[2]) or nil
  local out = {}
  for i, v in ipairs(rows) do
    out[i] = activate(args.activation, affine(v, K, 0, args.units, B))
  end
  return out
end

-- The front-end layers over one sample's rows (a list of rows; one row
-- for a vector), from their Keras definitions. Returns the new rows and
-- whether they are a sequence. BatchNormalization is the inference form
-- (the moving statistics).
local function front(layer, cur, is_seq, values)
  local class, a = layer.module.class, layer.args
  local T, C = #cur, #cur[1]
  local function w(name)
    for _, wt in ipairs(layer.weights) do
      if wt.name:match("/" .. name .. "$") then return values[wt.name] end
    end
    return nil
  end
  -- input step of output step t and tap i, or nil inside the padding
  local function tap_row(t, i, k, s, d, padding, T_out)
    local before = 0
    local size = d * (k - 1) + 1
    if padding == "causal" then
      before = size - 1
    elseif padding == "same" then
      local total = math.max((T_out - 1) * s + size - T, 0)
      before = total // 2
    end
    local r = t * s + i * d - before
    if r < 0 or r >= T then return nil end
    return r + 1
  end
  local function out_steps(k, s, d, padding)
    local size = d * (k - 1) + 1
    if padding == "valid" then return (T - size) // s + 1 end
    return (T + s - 1) // s
  end
  if class == "Conv1D" or class == "DepthwiseConv1D" or class == "SeparableConv1D" then
    local k, s, d = a.kernel_size, a.strides, a.dilation_rate
    local To = out_steps(k, s, d, a.padding)
    local m = a.depth_multiplier or 1
    local out = {}
    for t = 0, To - 1 do
      local z = {}
      if class == "Conv1D" then
        local K, F, G = w("kernel"), a.filters, a.groups
        local Cg, Fg = C // G, F // G
        for f = 0, F - 1 do
          local g = f // Fg
          local v = a.use_bias and w("bias")[f] or 0
          for i = 0, k - 1 do
            local r = tap_row(t, i, k, s, d, a.padding, To)
            if r then
              for c = 0, Cg - 1 do
                v = v + cur[r][g * Cg + c + 1] * K[(i * Cg + c) * F + f]
              end
            end
          end
          z[f + 1] = v
        end
      else
        local D = w("depthwise_kernel")
        local dz = {}
        for c = 0, C - 1 do
          for j = 0, m - 1 do
            local v = 0
            for i = 0, k - 1 do
              local r = tap_row(t, i, k, s, d, a.padding, To)
              if r then v = v + cur[r][c + 1] * D[(i * C + c) * m + j] end
            end
            dz[c * m + j + 1] = v
          end
        end
        if class == "SeparableConv1D" then
          local P, F = w("pointwise_kernel"), a.filters
          for f = 0, F - 1 do
            local v = 0
            for c = 1, #dz do
              v = v + dz[c] * P[(c - 1) * F + f]
            end
            z[f + 1] = v
          end
        else
          z = dz
        end
        if a.use_bias then
          local B = w("bias")
          for i = 1, #z do
            z[i] = z[i] + B[i - 1]
          end
        end
      end
      out[t + 1] = activate(a.activation, z)
    end
    return out, true
  elseif class == "MaxPooling1D" or class == "AveragePooling1D" then
    local p = a.pool_size
    local s = (a.strides == nil or a.strides == util.None) and p or a.strides
    local To = out_steps(p, s, 1, a.padding)
    local out = {}
    for t = 0, To - 1 do
      local row = {}
      for c = 1, C do
        local v, n = nil, 0
        for i = 0, p - 1 do
          local r = tap_row(t, i, p, s, 1, a.padding, To)
          if r then
            local e = cur[r][c]
            if class == "MaxPooling1D" then v = (v == nil or e > v) and e or v else v = (v or 0) + e end
            n = n + 1
          end
        end
        row[c] = class == "MaxPooling1D" and v or v / n
      end
      out[t + 1] = row
    end
    return out, true
  elseif class == "GlobalMaxPooling1D" or class == "GlobalAveragePooling1D" then
    local row = {}
    for c = 1, C do
      local v = cur[1][c]
      for t = 2, T do
        local e = cur[t][c]
        if class == "GlobalMaxPooling1D" then v = math.max(v, e) else v = v + e end
      end
      row[c] = class == "GlobalMaxPooling1D" and v or v / T
    end
    return { row }, a.keepdims
  elseif class == "ZeroPadding1D" or class == "Cropping1D" then
    local pr = class == "ZeroPadding1D" and a.padding or a.cropping
    if type(pr) == "number" then pr = { pr, pr } end
    local out = {}
    if class == "ZeroPadding1D" then
      for _ = 1, pr[1] do
        out[#out + 1] = zeros(C)
      end
      for t = 1, T do
        out[#out + 1] = cur[t]
      end
      for _ = 1, pr[2] do
        out[#out + 1] = zeros(C)
      end
    else
      for t = pr[1] + 1, T - pr[2] do
        out[#out + 1] = cur[t]
      end
    end
    return out, true
  elseif class == "UpSampling1D" then
    local out = {}
    for t = 1, T do
      for _ = 1, a.size do
        out[#out + 1] = cur[t]
      end
    end
    return out, true
  elseif class == "RepeatVector" then
    local out = {}
    for t = 1, a.n do
      out[t] = cur[1]
    end
    return out, true
  elseif class == "Flatten" or class == "Reshape" then
    local flat = {}
    for t = 1, T do
      for c = 1, C do
        flat[#flat + 1] = cur[t][c]
      end
    end
    local shape = class == "Flatten" and { #flat } or layer.output_shapes[1]
    local cols = shape[#shape]
    local out = {}
    for i = 1, #flat, cols do
      out[#out + 1] = { table.unpack(flat, i, i + cols - 1) }
    end
    return out, class == "Reshape" and #shape == 3
  elseif class == "Permute" then
    if a.dims[1] == 1 then return cur, is_seq end
    local out = {}
    for c = 1, C do
      out[c] = {}
      for t = 1, T do
        out[c][t] = cur[t][c]
      end
    end
    return out, true
  elseif class == "LayerNormalization" or class == "BatchNormalization" then
    local gamma, beta = w("gamma"), w("beta")
    local out = {}
    for t = 1, T do
      local x = cur[t]
      local mean, var = 0, 0
      if class == "LayerNormalization" then
        for c = 1, C do
          mean = mean + x[c] / C
        end
        for c = 1, C do
          var = var + (x[c] - mean) ^ 2 / C
        end
      end
      local row = {}
      for c = 1, C do
        local m, v = mean, var
        if class == "BatchNormalization" then m, v = w("moving_mean")[c - 1], w("moving_variance")[c - 1] end
        local u = (class == "LayerNormalization" and a.rms_scaling) and x[c] or x[c] - m
        local y = u / math.sqrt(v + a.epsilon)
        if gamma then y = y * gamma[c - 1] end
        if beta then y = y + beta[c - 1] end
        row[c] = y
      end
      out[t] = row
    end
    return out, is_seq
  end
  error("the reference has no layer " .. class)
end
R.front = front

-- The model's output for one sample: x is the flat input (0-based) of
-- `rows` x `cols`. Returns the flat output as a 1-based list.
function R.forward(model, values, x, rows, cols)
  local seq = {}
  for r = 0, rows - 1 do
    local row = {}
    for c = 0, cols - 1 do
      row[c + 1] = x[r * cols + c]
    end
    seq[r + 1] = row
  end
  local cur, is_seq = seq, #model.input_shape == 3
  for _, layer in ipairs(model.layers) do
    local class, a = layer.module.class, layer.args
    if layer.module.sequence_input or class == "Flatten" or class == "Reshape" or class == "Permute"
      or class == "RepeatVector" or class == "LayerNormalization" or class == "BatchNormalization" then
      cur, is_seq = front(layer, cur, is_seq, values)
    elseif class == "Dense" then
      cur = dense(a, layer.weights, cur, values)
    elseif class == "TimeDistributed" then
      cur = dense(a.layer.args, layer.weights, cur, values)
    elseif class == "Bidirectional" then
      local inner = a.layer
      local n = #layer.weights // 2
      local fw, bw = {}, {}
      for i = 1, n do
        fw[i], bw[i] = layer.weights[i], layer.weights[n + i]
      end
      local iargs = {}
      for k, v in pairs(inner.args) do
        iargs[k] = v
      end
      local fseq, flast = recurrent(inner.module.class, iargs, fw, cur, values)
      iargs.go_backwards = not iargs.go_backwards
      local bseq, blast = recurrent(inner.module.class, iargs, bw, cur, values)
      local left, right
      if iargs.return_sequences then
        left, right = fseq, {}
        for s = 1, #bseq do
          right[s] = bseq[#bseq + 1 - s] -- the backward copy, re-reversed
        end
      else
        left, right = { flast }, { blast }
      end
      local merged = {}
      for s = 1, #left do
        local l, r = left[s], right[s]
        local m = {}
        if a.merge_mode == "concat" then
          for i = 1, #l do
            m[i] = l[i]
          end
          for i = 1, #r do
            m[#l + i] = r[i]
          end
        else
          for i = 1, #l do
            local v = ({
              sum = l[i] + r[i], mul = l[i] * r[i], ave = (l[i] + r[i]) / 2,
            })[a.merge_mode]
            if not v then error("the reference has no merge mode " .. tostring(a.merge_mode)) end
            m[i] = v
          end
        end
        merged[s] = m
      end
      cur, is_seq = merged, iargs.return_sequences
    else
      if not is_seq then error("a recurrent layer needs a sequence") end
      local out, last = recurrent(class, a, layer.weights, cur, values)
      if a.return_sequences then
        cur = out
      else
        cur, is_seq = { last }, false
      end
    end
  end
  local flat = {}
  for _, row in ipairs(cur) do
    for _, v in ipairs(row) do
      flat[#flat + 1] = v
    end
  end
  return flat
end

return R
