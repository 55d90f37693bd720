-- Keras's attention layers in the generator (issue 15): their weights and
-- summary, the spec lines the reference runtime reads, the C they lower to
-- and what is refused. Their numbers are checked against PyTorch by the
-- conformance cases attention_*, additive_attention and multi_head_attention
-- and against the reference runtime by `make test-cli` (diff, gradcheck).
local T = require("testlib")
local generate = require("generate")

local tests = {}

local MODEL = [[
local q = Input { shape = { 4, 3 }, name = "q" }
local v = Input { shape = { 5, 2 }, name = "v" }
local k = Input { shape = { 5, 3 }, name = "k" }
local ctx, w = Attention { use_scale = true } ({ q, v, k }, { return_attention_scores = true, use_causal_mask = true })
local add = AdditiveAttention {} ({ q, v, k })
local cat = Attention { score_mode = "concat" } ({ q, q })
local mha = MultiHeadAttention { num_heads = 2, key_dim = 3, value_dim = 2, output_shape = 4 }
  (q, v, { use_causal_mask = true })
local y = Dense { 2 }(Concatenate {} ({ ctx, w, add, cat, mha }))
local model = Model { inputs = { q, v, k }, outputs = y }
model:compile { optimizer = "adam", loss = "mse" }
return model
]]

local function unit(src)
  local files = generate.unit(T.tmpfile(src), { dtype = "float64", unroll = 0, root = T.root, format = false,
    name = "m" })
  return files["m.c"], files["m.h"]
end

tests["weights with Keras's names and shapes"] = function()
  local c, h = unit(MODEL)
  -- Attention: scale, a scalar; AdditiveAttention: scale (dim,);
  -- MultiHeadAttention: EinsumDense kernels (dim, heads, size), biases
  -- (heads, size), the output's (heads, value_dim, out) and (out,)
  T.contains(h, "double attention_scale;")
  T.contains(h, "double additive_attention_scale[3];")
  T.contains(h, "double attention_1_concat_score_weight;")
  T.contains(h, "double multi_head_attention_query_kernel[3][2][3];")
  T.contains(h, "double multi_head_attention_query_bias[2][3];")
  T.contains(h, "double multi_head_attention_key_kernel[2][2][3];")
  T.contains(h, "double multi_head_attention_value_kernel[2][2][2];")
  T.contains(h, "double multi_head_attention_attention_output_kernel[2][2][4];")
  T.contains(h, "double multi_head_attention_attention_output_bias[4];")
  T.contains(c, "RNNC_INIT_ONES", "Attention's scale starts at one")
end

tests["the spec lines the reference runtime reads"] = function()
  local c = unit(MODEL)
  T.contains(c, "layer Attention attention use_scale=1 score_mode=dot causal=1 scores=1 in=x0,x1,x2")
  T.contains(c, "layer AdditiveAttention additive_attention use_scale=1 causal=0 scores=0 in=x0,x1,x2")
  T.contains(c, "layer Attention attention_1 use_scale=0 score_mode=concat causal=0 scores=0 in=x0,x0")
  T.contains(c, "layer MultiHeadAttention multi_head_attention num_heads=2 key_dim=3 value_dim=2 output_dim=4 "
    .. "use_bias=1 causal=1 scores=0 in=x0,x1")
end

tests["the C: products, one softmax per layer, the causal mask as a view"] = function()
  local c = unit(MODEL)
  T.contains(c, "attention: dots = x[0:12] @ x[22:37]", "q @ key^T as one product")
  T.contains(c, "* 1000000000.0", "Keras's 1e9 above the diagonal")
  T.contains(c, "the scores minus 1e9 where masked: the causal mask")
  -- every head's scores in one matrix: one softmax for both heads
  local _, softmaxes = c:gsub("multi_head_attention: weights = softmax%(masked_scores%)", "")
  T.eq(softmaxes, 1, "one softmax over both heads' rows")
  T.contains(c, "head 1: its weights @ its projected value")
  T.contains(c, "the query scaled by 1 / sqrt(key_dim)")
  -- the tanh scores loop once over the query steps, not unrolled
  T.contains(c, "for (int t = 0; t <= 3; ++t)")
end

tests["Keras masks flow in: value, query and key masks, the query's out"] = function()
  local c = unit([[
local q = Input { shape = { 4, 3 } }
local v = Input { shape = { 5, 3 } }
local mq, mv = Masking {} (q), Masking {} (v)
local a = Attention {} ({ mq, mv }, { use_causal_mask = true })
local m = MultiHeadAttention { num_heads = 2, key_dim = 2 } (a, mv, mv)
local model = Model { inputs = { q, v }, outputs = Dense { 2 }(m) }
model:compile { optimizer = "adam", loss = "mse" }
return model
]])
  -- Attention: the causal mask and the value's, subtracted; the query's
  -- rows zeroed
  T.contains(c, "the scores minus 1e9 where masked: the causal mask, the value's mask")
  T.contains(c, "the rows of the masked query steps zeroed")
  -- MultiHeadAttention: the query's, the value's and the key's, in place
  T.contains(c, "-1e9 in place of the masked scores (the query's mask, the value's mask, the key's mask)")
  -- the output's mask reaches the loss (Dense passes it on): a masked mse
  T.contains(c, "mask")
end

tests["dropout on the weights: training draws a mask, inference reads the weights"] = function()
  local c = unit([[
local q = Input { shape = { 4, 3 } }
local a = Attention { dropout = 0.3 } ({ q, q })
local m = MultiHeadAttention { num_heads = 2, key_dim = 2, dropout = 0.25, seed = 9 } (a, q)
local model = Model { inputs = q, outputs = Dense { 2 }(m) }
model:compile { optimizer = "adam", loss = "mse" }
return model
]])
  T.contains(c, "attention: dropout_mask = noise1(0.3, salt ", "Attention's mask in training")
  T.contains(c, "multi_head_attention: dropout_mask = noise1(0.25, salt ", "MultiHeadAttention's")
  T.contains(c, "dropout=0.29999999999999999 salt=", "the spec's keys for the reference runtime")
  T.contains(c, ", seed 9)", "the layer's seed")
  T.contains(c, "seed=9")
  -- inference reads the weights themselves
  local infer = c:match("\nvoid m_forward%(.-\n}\n")
  T.truthy(infer, "the inference forward")
  T.not_contains(infer, "dropout_mask", "no dropout at inference")
end

local refused = T.generate_refused

tests["what rnnc refuses, naming the layer's line"] = function()
  local head = "local q = Input { shape = { 4, 3 } }\n"
  local tail = "return Model { inputs = q, outputs = y }\n"
  refused(head .. "local y, s = Attention { dropout = 0.1 } ({ q, q }, { return_attention_scores = true })\n"
    .. tail, 2, "return_attention_scores with dropout > 0 is not implemented in rnnc")
  refused(head .. "local y = Attention { dropout = 1 } ({ q, q })\n" .. tail, 2, "must be a number in [0, 1)")
  refused(head .. "local y, s = MultiHeadAttention { num_heads = 2, key_dim = 2 } (q, q, "
    .. "{ return_attention_scores = true })\n" .. tail, 2, "rnnc's tensors have rank 3 at most")
  refused(head .. "local k = Input { shape = { 4, 2 } }\nlocal y = Attention {} ({ q, k })\n"
    .. "return Model { inputs = { q, k }, outputs = y }\n", 3, "must have one feature size")
  refused(head .. "local k = Input { shape = { 5, 3 } }\nlocal y = Attention {} ({ q, q, k })\n"
    .. "return Model { inputs = { q, k }, outputs = y }\n", 3, "must have one number of timesteps")
  refused("local q = Input { shape = { None, 3 } }\nlocal y = Attention {} ({ q, q })\n" .. tail, 2,
    "its timesteps and features must be known")
  refused("local q = Input { shape = { 3 } }\nlocal y = AdditiveAttention {} ({ q, q })\n" .. tail, 2,
    "rnnc's attention layers take sequences")
  refused(head .. "local y = Attention { score_mode = \"general\" } ({ q, q })\n" .. tail, 2,
    "must be \"dot\" or \"concat\"")
  refused(head .. "local y = MultiHeadAttention { num_heads = 2, key_dim = 2, attention_axes = { 2 } } (q, q)\n"
    .. tail, 2, "rnnc attends over the time axis only")
  refused(head .. "local y = Attention {} (q)\n" .. tail, 2, "is called on a list { query, value }")
  -- masks given as call arguments (rnnc takes the inputs' Keras masks only)
  refused(head .. "local y = Attention {} ({ q, q }, { mask = { q, q } })\n" .. tail, 2,
    "call argument 'mask': masks are not implemented")
  -- a merge after an attention layer's masked output
  refused(head .. "local m = Masking {} (q)\nlocal a = Attention {} ({ m, m })\n"
    .. "local y = Dense { 2 }(Add {} ({ a, a }))\n" .. tail, 4, "Add after a mask")
end

return tests
