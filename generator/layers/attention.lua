-- Keras's attention layers (keras/src/layers/attention/):
--   Attention(use_scale=False, score_mode="dot", dropout=0.0)         Luong
--   AdditiveAttention(use_scale=True, dropout=0.0)                    Bahdanau
--   MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0,
--                      use_bias=True, output_shape=None, ...)
-- called as Keras calls them:
--   local ctx = Attention {} ({ query, value })          -- or { query, value, key }
--   local ctx, scores = Attention {} ({ q, v }, { return_attention_scores = true, use_causal_mask = true })
--   local y = MultiHeadAttention { num_heads = 2, key_dim = 4 } (q, v)   -- (q, v, k), { use_causal_mask = true }
-- Every input is a sequence of a fixed length (batch, T, features). The
-- computation, per sample (keras/src/layers/attention/attention.py
-- _calculate_scores and _apply_scores; multi_head_attention.py
-- _compute_attention):
--   scores  dot: q @ k^T (times `scale` with use_scale); concat:
--           concat_score_weight * sum_d tanh(scale * (q_i + k_j));
--           additive: sum_d scale_d * tanh(q_i + k_j)
--   masks   use_causal_mask (j > i) and the value's Keras mask (from
--           Masking or Embedding's mask_zero): scores -= 1e9 where masked
--           (_apply_scores); MultiHeadAttention also masks by the query's
--           and the key's masks and puts -1e9 in place of a masked score
--           (its Softmax's where(mask, scores, -1e9))
--   weights softmax of each row of the scores
--   output  weights @ v, its rows zeroed at masked query steps (Attention,
--           AdditiveAttention); the query's mask is the output's
-- MultiHeadAttention projects q, k and v with its query, key and value
-- kernels (dims, heads, key_dim), scales the projected query by
-- 1 / sqrt(key_dim) first, as Keras does, attends per head and projects the
-- heads' outputs side by side with its attention_output kernel.
local rules = require("layers.rules")
local noise = require("layers.noise")
local util = require("util")
local ir = require("ir")

local E = ir.E

local attention = {}

-- Keras's _apply_scores: scores -= 1e9 * (1 - mask), and Softmax's -1e9
-- (float32 and float64)
local MASK_PENALTY = 1e9

local function check_sequences(layer, shapes, names)
  for i, s in ipairs(shapes) do
    if #s ~= 3 then
      util.fail(layer.at, "%s's %s has shape %s: rnnc's attention layers take sequences (batch, timesteps, "
        .. "features)", layer.module.class, names[i], util.shape_str(s))
    end
    if s[2] == util.None or s[3] == util.None then
      util.fail(layer.at, "%s's %s has shape %s: its timesteps and features must be known (attention reads "
        .. "whole sequences; give the inputs a number of timesteps instead of None)", layer.module.class, names[i],
        util.shape_str(s))
    end
  end
  if shapes[3] and shapes[3][2] ~= shapes[2][2] then
    util.fail(layer.at, "%s: the key (%s) and the value (%s) must have one number of timesteps", layer.module.class,
      util.shape_str(shapes[3]), util.shape_str(shapes[2]))
  end
end

-- A weight of the layer, its regularizer and constraint those of `arg`
-- (kernel, bias or none).
local function weight(layer, prefix, name, shape, init, arg)
  return { name = prefix .. "/" .. name, shape = shape, init = init, layer = layer,
    rule = arg and rules.of(layer, arg, shape) or nil }
end

-- The call's options (a node's use_causal_mask, return_attention_scores).
local function call_options(node)
  local opts = node and node.opts or {}
  return opts.use_causal_mask == true, opts.return_attention_scores == true
end

-- A 1 x 1 weight (Keras's scalar) read as a rows x cols matrix of its value.
local function spread(v, rows, cols)
  return ir.view(v.buf, v.off, rows, cols, 0, 0, v.toff, v.loff)
end

-- The causal mask of a (rows x cols) block of scores, 1 where a query step
-- may see a value step (j <= i) and 0 after, as the view
-- keep[i][j] = m[j - i + rows - 1] of one row m: rows ones, then cols - 1
-- zeros.
local function causal_keep(g, prefix, rows, cols)
  local m = g:act(prefix .. "/causal", 1, rows + cols - 1, "the causal mask's diagonals: 1 up to the main one, 0 "
    .. "after")
  m.buf.no_gradient = true
  g:fill(ir.cols(m, 0, rows), 1, "1: a query step sees the value steps up to its own")
  if cols > 1 then g:fill(ir.cols(m, rows, cols - 1), 0, "0: not the later ones") end
  return ir.view(m.buf, rows - 1, rows, cols, -1, 1)
end

-- A step mask (steps x 1, 1 kept, 0 masked) read along the columns (value
-- and key masks) or the rows (query masks) of a rows x cols block.
local function along_cols(mask, rows, cols)
  return ir.view(mask.buf, mask.off, rows, cols, 0, mask.strides[1], mask.toff, mask.loff)
end
local function along_rows(mask, rows, cols)
  return ir.view(mask.buf, mask.off, rows, cols, mask.strides[1], 0, mask.toff, mask.loff)
end

-- What decides which scores a (rows x cols) block keeps (1) or masks (0):
-- views whose product is the keep matrix, and what they are. Keras's
-- masks: the causal mask, the value's mask (Attention's
-- _calculate_score_mask), and for MultiHeadAttention also the query's and
-- the key's (_compute_attention_mask), all joined by a logical and.
local function keep_factors(g, prefix, rows, cols, causal, masks, class)
  local views, what = {}, {}
  if causal then
    views[#views + 1], what[#what + 1] = causal_keep(g, prefix, rows, cols), "the causal mask"
  end
  masks = masks or {}
  if class == "MultiHeadAttention" and masks[1] then
    views[#views + 1], what[#what + 1] = along_rows(masks[1], rows, cols), "the query's mask"
  end
  if masks[2] then views[#views + 1], what[#what + 1] = along_cols(masks[2], rows, cols), "the value's mask" end
  if class == "MultiHeadAttention" and masks[3] then
    views[#views + 1], what[#what + 1] = along_cols(masks[3], rows, cols), "the key's mask"
  end
  return views, table.concat(what, ", ")
end

-- The scores with the masked ones lowered: Attention and AdditiveAttention
-- subtract 1e9 (attention.py _apply_scores: scores -= 1e9 * (1 - keep));
-- MultiHeadAttention's softmax puts -1e9 in their place (Softmax.call:
-- where(keep, scores, -1e9)). out = that of scores, with the keep
-- factors (keep_factors) as the map's further arguments.
local function lower_masked(g, out, scores, factors, replace, note)
  local args = { scores }
  local keep = E.arg(2)
  for i, f in ipairs(factors) do
    args[i + 1] = f
    if i > 1 then keep = E.mul(keep, E.arg(i + 1)) end
  end
  local lowered = E.mul(E.sub(keep, E.ONE), E.const(MASK_PENALTY))
  g:map(out, replace and E.add(E.mul(E.arg(1), keep), lowered) or E.add(E.arg(1), lowered), args, false, note)
end

-- A row of ones (1 x n): the weights of a plain sum over the features.
local function ones_row(g, prefix, n)
  local ones = g:act(prefix .. "/ones", 1, n, "ones: the plain sum over the features")
  ones.buf.no_gradient = true
  g:fill(ones, 1, "the sum's weights")
  return ones
end

-- weights = softmax(scores, masked) row by row; returns the weights.
local function softmax_rows(g, prefix, scores, causal, masks, class)
  local rows, cols = scores.dims[1], scores.dims[2]
  local s = scores
  local factors, what = keep_factors(g, prefix, rows, cols, causal, masks, class)
  if #factors > 0 then
    s = g:act(prefix .. "/masked_scores", rows, cols, "the scores, lowered by 1e9 where masked (" .. what .. ")")
    lower_masked(g, s, scores, factors, false, "the scores minus 1e9 where masked: " .. what)
  end
  local w = g:act(prefix .. "/weights", rows, cols, "per query step, the attention weights over the value steps")
  g:softmax(w, s, "the attention weights: softmax of each row of the scores")
  return w
end

-- The weights the output reads: in training, with dropout, the weights
-- times a dropout mask (rnnc's counter-based noise, as the Dropout layer's:
-- 0, or 1 / (1 - rate), keyed by the call's name, the step, the sample and
-- the element), as Keras's backend.random.dropout on the weights
-- (Attention._apply_scores, MultiHeadAttention's _dropout_layer); at
-- inference the weights. fn(weights) emits the ops that read them, once per
-- mode when there is dropout.
local function with_dropout(layer, g, prefix, w, fn)
  local rate = layer.args.dropout
  if rate == 0 then return fn(w) end
  g:in_mode("infer", function()
    fn(w)
  end)
  if g.streaming then return end
  g:in_mode("train", function()
    local rows, cols = w.dims[1], w.dims[2]
    local mask = g:act(prefix .. "/dropout_mask", rows, cols, "the dropout mask of the weights, drawn once per call")
    local seed = layer.args.seed ~= util.None and layer.args.seed or nil
    g:map(mask, E.noise(1, rate, noise.salt_of(prefix), seed, true), {}, false,
      "the dropout mask of this training step")
    local dropped = g:act(prefix .. "/dropped_weights", rows, cols, "the attention weights after dropout")
    g:map(dropped, E.mul(E.arg(1), E.arg(2)), { w, mask }, false, "the weights * the dropout mask")
    fn(dropped)
  end)
end

-- The spec's dropout keys (the reference runtime draws the same masks).
local function dropout_keys(layer, prefix, call)
  if layer.args.dropout == 0 then return "" end
  return string.format(" dropout=%.17g salt=%d seed=%s", layer.args.dropout, noise.call_salt(prefix, call),
    noise.seed_text(layer))
end

local function attention_spec(layer, prefix, call, class, keys)
  local causal, scores = call_options(call and call.node)
  return { string.format("layer %s %s %s causal=%d scores=%d%s", class, prefix, keys, causal and 1 or 0,
    scores and 1 or 0, dropout_keys(layer, prefix, call)) }
end

local function attention_outputs(shapes, opts)
  local q, v = shapes[1], shapes[2]
  local outs = { { q[1], q[2], v[3] } }
  if opts and opts.return_attention_scores then outs[2] = { q[1], q[2], v[2] } end
  return outs
end

local function stream_refusal(layer)
  return string.format("layer '%s' (%s) attends over whole sequences", layer.name, layer.module.class)
end

---------------------------------------------------------------- Attention, AdditiveAttention

-- sum_d w_d * tanh(s * (q_i + k_j)) for every (i, j): a loop over the query
-- steps, each writing its tanh values (Tv x dim, kept for the backward pass)
-- and one row of the scores (w (1 x dim) @ tanh^T).
local function tanh_scores(g, prefix, q, k, scale, wvec, scores)
  local Tq, Tv, d = q.dims[1], k.dims[1], q.dims[2]
  local th = g:act(prefix .. "/tanh", Tq * Tv, d, "per query step i and value step j, tanh(" ..
    (scale and "scale * " or "") .. "(q_i + k_j))")
  g:loop(0, Tq - 1, function(t)
    local block = ir.view(th.buf, 0, Tv, d, d, 1, Tv * d)
    local qi = ir.broadcast_rows(ir.row(q, t), Tv)
    if scale then
      g:map(block, E.fn("tanh", E.mul(E.arg(1), E.add(E.arg(2), E.arg(3)))), { spread(scale, Tv, d), qi, k },
        false, "tanh(scale * (q_i + k_j)) for every value step j")
    else
      g:map(block, E.fn("tanh", E.add(E.arg(1), E.arg(2))), { qi, k }, false, "tanh(q_i + k_j) for every value step j")
    end
    g:matmul(ir.row(scores, t), wvec, ir.transpose(block), false, "row i of the scores: the weighted sums over the "
      .. "features")
  end)
end

local function attention_emit(layer, g, xs, prefix, additive, node, masks)
  local q, v = xs[1], xs[2]
  local k = xs[3] or v
  local causal, want_scores = call_options(node)
  local Tq, Tv, d = q.dims[1], v.dims[1], q.dims[2]
  local scores = g:act(prefix .. "/scores", Tq, Tv, "per query step, the scores of the value steps")
  local use_scale = layer.args.use_scale
  local scale = use_scale and g:param(layer.weights[1]) or nil
  if not additive and layer.args.score_mode == "dot" then
    local raw = scores
    if use_scale then raw = g:act(prefix .. "/dots", Tq, Tv, "per query step, q_i . k_j for every value step") end
    g:matmul(raw, q, ir.transpose(k), false, "the dot products of the query and key steps")
    if use_scale then
      g:map(scores, E.mul(E.arg(1), E.arg(2)), { spread(scale, Tq, Tv), raw }, false, "scale * q . k")
    end
  elseif not additive then
    -- concat: concat_score_weight * sum_d tanh(scale * (q_i + k_j))
    local ones = ones_row(g, prefix, d)
    local sums = g:act(prefix .. "/tanh_sums", Tq, Tv, "per query step, sum_d tanh(...) for every value step")
    tanh_scores(g, prefix, q, k, scale, ones, sums)
    local csw = g:param(layer.weights[use_scale and 2 or 1])
    g:map(scores, E.mul(E.arg(1), E.arg(2)), { spread(csw, Tq, Tv), sums }, false,
      "concat_score_weight * the sums")
  else
    -- additive: sum_d scale_d * tanh(q_i + k_j), or the plain sum
    tanh_scores(g, prefix, q, k, nil, scale or ones_row(g, prefix, d), scores)
  end
  local w = softmax_rows(g, prefix, scores, causal, masks, layer.module.class)
  local qmask = masks and masks[1]
  local out = g:act(prefix .. "/" .. (qmask and "context" or "y"), Tq, v.dims[2],
    "per query step, the weighted sum of the value steps")
  with_dropout(layer, g, prefix, w, function(weights)
    g:matmul(out, weights, v, false, "the output: weights @ value")
  end)
  if not qmask then return { outputs = want_scores and { out, w } or { out } } end
  -- Keras: the rows of masked query steps zeroed, the query's mask the
  -- output's (Attention.call, compute_mask)
  local y = g:act(prefix .. "/y", Tq, v.dims[2], "per query step, the output, zero at a masked query step")
  g:map(y, E.mul(E.arg(1), E.arg(2)), { out, along_rows(qmask, Tq, v.dims[2]) }, false,
    "the rows of the masked query steps zeroed")
  return { outputs = want_scores and { y, w } or { y }, masks = { qmask } }
end

-- Keras returns the weights after dropout as the scores in training
-- (Attention) and before it (MultiHeadAttention): refused with dropout.
local function check_dropout(layer, opts)
  if layer.args.dropout ~= 0 and opts and opts.return_attention_scores then
    util.fail(layer.at, "return_attention_scores with dropout > 0 is not implemented in rnnc (in training Keras "
      .. "returns the weights after dropout); set dropout = 0 or do not return the scores")
  end
end

local function score_mode_arg(at, argname, v)
  if v ~= "dot" and v ~= "concat" then
    util.fail(at, "argument '%s' must be \"dot\" or \"concat\", got %s", argname, tostring(v))
  end
  return v
end

local CALL = { use_causal_mask = "boolean", return_attention_scores = "boolean" }

-- A module of the scores layers (Attention, AdditiveAttention): their
-- shared arguments, call form and checks; weights(layer, prefix, dim)
-- gives the layer's own weights, keys(layer) its spec keys.
local function score_layer(class, default_name, extra_args, additive, weights, keys)
  local args = { dropout = { "rate", 0.0 }, seed = { "any", util.None, check = noise.seed_arg } }
  for k, v in pairs(extra_args) do
    args[k] = v
  end
  local M = {
    class = class,
    default_name = default_name,
    positional = {},
    args = args,
    several_inputs = "attention",
    takes_input_masks = true,
    call_options = CALL,
    stream_refusal = stream_refusal,
  }
  function M.build(layer, shapes, prefix, opts)
    check_sequences(layer, shapes, { "query", "value", "key" })
    check_dropout(layer, opts)
    local key = shapes[3] or shapes[2]
    if key[3] ~= shapes[1][3] then
      util.fail(layer.at, "%s: the query (%s) and the key (%s) must have one feature size (the %s)", class,
        util.shape_str(shapes[1]), util.shape_str(key), shapes[3] and "key's last axis" or "value, used as the key")
    end
    layer.weights = weights(layer, prefix, shapes[1][3])
    return attention_outputs(shapes, opts)
  end
  function M.emit(layer, g, xs, prefix, _, masks, node)
    return attention_emit(layer, g, xs, prefix, additive, node, masks)
  end
  function M.spec(layer, prefix, call)
    return attention_spec(layer, prefix, call, class, keys(layer))
  end
  return M
end

-- keras/src/layers/attention/attention.py build: scale and
-- concat_score_weight, scalars initialised to ones
attention.Attention = score_layer("Attention", "attention", {
  use_scale = { "boolean", false },
  score_mode = { "string", "dot", check = score_mode_arg },
}, false, function(layer, prefix)
  local ws = {}
  if layer.args.use_scale then ws[#ws + 1] = weight(layer, prefix, "scale", {}, "ones") end
  if layer.args.score_mode == "concat" then ws[#ws + 1] = weight(layer, prefix, "concat_score_weight", {}, "ones") end
  return ws
end, function(layer)
  return string.format("use_scale=%d score_mode=%s", layer.args.use_scale and 1 or 0, layer.args.score_mode)
end)

-- keras/src/layers/attention/additive_attention.py build: scale of shape
-- (dim,), glorot_uniform
attention.AdditiveAttention = score_layer("AdditiveAttention", "additive_attention", {
  use_scale = { "boolean", true },
}, true, function(layer, prefix, dim)
  return layer.args.use_scale and { weight(layer, prefix, "scale", { dim }, "glorot_uniform") } or {}
end, function(layer)
  return string.format("use_scale=%d", layer.args.use_scale and 1 or 0)
end)

---------------------------------------------------------------- MultiHeadAttention

local function optional_posint(at, argname, v)
  if v == util.None or v == nil then return util.None end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) or v end
  if math.type(v) ~= "integer" or v <= 0 then
    util.fail(at, "argument '%s' must be None or a positive integer, got %s", argname, tostring(v))
  end
  return v
end

local function output_shape_arg(at, argname, v)
  if type(v) == "table" and util.unwrap(v) == nil then
    if #v ~= 1 then
      util.fail(at, "argument '%s': rnnc takes one output size (a list of one), got %d values", argname, #v)
    end
    v = v[1]
  end
  return optional_posint(at, argname, v)
end

local function attention_axes_arg(at, argname, v)
  if v == util.None or v == nil then return util.None end
  local a = type(v) == "table" and util.unwrap(v) == nil and #v == 1 and v[1] or v
  if a ~= 1 and a ~= -2 then
    util.fail(at, "argument '%s': rnnc attends over the time axis only (None, 1 or -2), got %s", argname,
      type(v) == "table" and "a list" or tostring(v))
  end
  return util.None
end

attention.MultiHeadAttention = {
  takes_input_masks = true,
  class = "MultiHeadAttention",
  default_name = "multi_head_attention",
  positional = { "num_heads", "key_dim" },
  args = rules.extras({
    num_heads = { "posint" },
    key_dim = { "posint" },
    value_dim = { "any", util.None, check = optional_posint },
    dropout = { "rate", 0.0 },
    use_bias = { "boolean", true },
    output_shape = { "any", util.None, check = output_shape_arg },
    attention_axes = { "any", util.None, check = attention_axes_arg },
    kernel_initializer = { "initializer", "glorot_uniform" },
    bias_initializer = { "initializer", "zeros" },
    seed = { "any", util.None, check = noise.seed_arg },
  }, { "kernel", "bias" }),
  several_inputs = "query_value_key",
  call_options = { use_causal_mask = "boolean", return_attention_scores = "boolean", query = "tensor",
    value = "tensor", key = "tensor" },
  stream_refusal = stream_refusal,
}

-- The sizes of a built MultiHeadAttention.
local function mha_sizes(layer)
  local a = layer.args
  return a.num_heads, a.key_dim, a.value_dim ~= util.None and a.value_dim or a.key_dim
end

function attention.MultiHeadAttention.build(layer, shapes, prefix, opts)
  check_sequences(layer, shapes, { "query", "value", "key" })
  check_dropout(layer, opts)
  if opts and opts.return_attention_scores then
    util.fail(layer.at, "return_attention_scores on MultiHeadAttention gives a tensor of rank 4 (batch, heads, "
      .. "query steps, value steps): rnnc's tensors have rank 3 at most")
  end
  local a = layer.args
  local N, H, Hv = mha_sizes(layer)
  local dq, dv = shapes[1][3], shapes[2][3]
  local dk = (shapes[3] or shapes[2])[3]
  local O = a.output_shape ~= util.None and a.output_shape or dq
  layer.out_dim = O
  -- keras/src/layers/attention/multi_head_attention.py build: the query,
  -- key and value EinsumDense kernels (dim, heads, key_dim) and biases
  -- (heads, key_dim), the output's (heads, value_dim, out) and (out,)
  local ki, bi = a.kernel_initializer, a.bias_initializer
  local ws = {}
  local function add(name, shape, init, arg)
    ws[#ws + 1] = weight(layer, prefix, name, shape, init, arg)
  end
  for _, part in ipairs({ { "query", dq, H }, { "key", dk, H }, { "value", dv, Hv } }) do
    add(part[1] .. "/kernel", { part[2], N, part[3] }, ki, "kernel")
    if a.use_bias then add(part[1] .. "/bias", { N, part[3] }, bi, "bias") end
  end
  add("attention_output/kernel", { N, Hv, O }, ki, "kernel")
  if a.use_bias then add("attention_output/bias", { O }, bi, "bias") end
  layer.weights = ws
  return { { shapes[1][1], shapes[1][2], O } }
end

-- x (rows x dim) @ kernel (dim, heads, size) + bias (heads, size): the
-- projection of one input, all heads side by side (rows x heads * size).
local function project(g, prefix, x, weights, i, use_bias, width)
  local kw = g:param(weights[i])
  local kernel = ir.view(kw.buf, 0, x.dims[2], width, width, 1)
  local bias
  if use_bias then
    local bw = g:param(weights[i + 1])
    bias = ir.view(bw.buf, 0, 1, width, width, 1)
  end
  return g:dense(prefix, x, kernel, bias, "linear", width)
end

function attention.MultiHeadAttention.emit(layer, g, xs, prefix, _, masks, node)
  local q, v = xs[1], xs[2]
  local k = xs[3] or v
  local causal = call_options(node)
  local N, H, Hv = mha_sizes(layer)
  local Tq, Tv = q.dims[1], v.dims[1]
  local ub = layer.args.use_bias
  local step = ub and 2 or 1
  local w = layer.weights
  local Q = project(g, prefix .. "/query", q, w, 1, ub, N * H)
  local K = project(g, prefix .. "/key", k, w, 1 + step, ub, N * H)
  local V = project(g, prefix .. "/value", v, w, 1 + 2 * step, ub, N * Hv)
  local Qs = g:act(prefix .. "/query_scaled", Tq, N * H, "per query step, the projected query / sqrt(key_dim)")
  g:map(Qs, E.mul(E.arg(1), E.const(1 / math.sqrt(H))), { Q }, false,
    "the query scaled by 1 / sqrt(key_dim), as Keras scales it before the dot products")
  -- the scores of head n are rows n * Tq .. of one (heads * Tq) x Tv matrix,
  -- so one softmax takes every head's rows
  local scores = g:act(prefix .. "/scores", N * Tq, Tv, "per head and query step, the scores of the value steps")
  for n = 0, N - 1 do
    g:matmul(ir.rows(scores, n * Tq, Tq), ir.cols(Qs, n * H, H), ir.transpose(ir.cols(K, n * H, H)), false,
      string.format("head %d: the scaled query . key for every pair of steps", n))
  end
  local weights = g:act(prefix .. "/weights", N * Tq, Tv, "per head and query step, the attention weights")
  local factors, what = keep_factors(g, prefix, Tq, Tv, causal, masks, "MultiHeadAttention")
  if #factors > 0 then
    local masked = g:act(prefix .. "/masked_scores", N * Tq, Tv, "the scores, -1e9 where masked (" .. what .. ")")
    for n = 0, N - 1 do
      lower_masked(g, ir.rows(masked, n * Tq, Tq), ir.rows(scores, n * Tq, Tq), factors, true,
        string.format("head %d: -1e9 in place of the masked scores (%s)", n, what))
    end
    g:softmax(weights, masked, "the attention weights: softmax of each row of the scores")
  else
    g:softmax(weights, scores, "the attention weights: softmax of each row of the scores")
  end
  local heads = g:act(prefix .. "/heads", Tq, N * Hv, "per query step, every head's output side by side")
  with_dropout(layer, g, prefix, weights, function(ws)
    for n = 0, N - 1 do
      g:matmul(ir.cols(heads, n * Hv, Hv), ir.rows(ws, n * Tq, Tq), ir.cols(V, n * Hv, Hv), false,
        string.format("head %d: its weights @ its projected value", n))
    end
  end)
  local ow = g:param(w[1 + 3 * step])
  local ob = ub and g:param(w[2 + 3 * step]) or nil
  local y = g:dense(prefix .. "/attention_output", heads, ow, ob, "linear", layer.out_dim)
  -- the query's mask is the output's (MultiHeadAttention.call)
  local qmask = masks and masks[1]
  return { outputs = { y }, masks = qmask and { qmask } or nil }
end

function attention.MultiHeadAttention.spec(layer, prefix, call)
  local N, H, Hv = mha_sizes(layer)
  return attention_spec(layer, prefix, call, "MultiHeadAttention", string.format(
    "num_heads=%d key_dim=%d value_dim=%d output_dim=%d use_bias=%d", N, H, Hv, layer.out_dim,
    layer.args.use_bias and 1 or 0))
end

attention.modules = { attention.Attention, attention.AdditiveAttention, attention.MultiHeadAttention }

return attention
