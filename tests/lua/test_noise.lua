-- The noise layers (Dropout, SpatialDropout1D, GaussianNoise,
-- GaussianDropout) and the recurrent layers' dropout: their arguments, the
-- summary, the salts of their masks, which program draws masks (training
-- only), the spec lines the reference runtime reads, and the C a unit gets.
local T = require("testlib")
local pipeline = require("pipeline")
local generate = require("generate")
local summary = require("summary")
local noise = require("layers.noise")

local tests = {}

local load_error = T.load_refused

-- Counts the ops (loop bodies included) whose expression draws noise.
local function noise_ops(list)
  local n = 0
  for _, op in ipairs(list or {}) do
    if op.op == "loop" then
      n = n + noise_ops(op.body)
    elseif op.op == "map" and op.expr[1] == "noise" then
      n = n + 1
    end
  end
  return n
end

local MODEL = [[
local model = Sequential {
  SpatialDropout1D { 0.2, input_shape = { 4, 3 } },
  LSTM { 3, return_sequences = true, dropout = 0.3, recurrent_dropout = 0.4 },
  Dropout { 0.5, noise_shape = { None, 1, None } },
  GaussianNoise { 0.1 },
  Bidirectional { GRU { 2, dropout = 0.2, return_sequences = true } },
  GaussianDropout { 0.25, seed = 9 },
  Dense { 1 },
}
model:compile { loss = "mse", optimizer = "adam" }
return model
]]

tests["the salt is FNV-1a (64-bit) of the layer's name, its top bit cleared"] = function()
  -- FNV-1a's offset basis, and the published hash of "a" (0xaf63dc4c8601ec8c)
  T.eq(noise.salt_of(""), 0x4bf29ce484222325)
  T.eq(noise.salt_of("a"), 0x2f63dc4c8601ec8c)
  T.truthy(noise.salt_of("dropout") ~= noise.salt_of("dropout_1"), "each layer its own masks")
end

tests["masks are drawn in training only: forward, the stream and rate 0 draw none"] = function()
  local model = T.load_text(MODEL)
  local unit = pipeline.run(model, {})
  -- SpatialDropout1D, the LSTM's input and state masks, Dropout,
  -- GaussianNoise, the two GRU copies' input masks, GaussianDropout
  T.eq(noise_ops(unit.forward_train), 8, "every mask, in the training forward")
  T.eq(noise_ops(unit.forward), 0, "none at inference")
  T.eq(unit.stat_updates == nil or #unit.stat_updates == 0, true, "no moving statistics to update")
  local streaming = pipeline.run(T.load_text([[
local model = Sequential {
  SpatialDropout1D { 0.2, input_shape = { 4, 3 } },
  LSTM { 3, return_sequences = true, dropout = 0.3, recurrent_dropout = 0.4 },
  Dropout { 0.5 },
  Dense { 1 },
}
return model
]]), {})
  T.eq(noise_ops(streaming.forward_train), 4, "the training forward draws the masks")
  T.truthy(streaming.stream, "the model streams")
  T.eq(noise_ops(streaming.stream.forward), 0, "the stream draws none")
  local zero = pipeline.run(T.load_text([[
local model = Sequential {
  Dropout { 0, input_shape = { 2, 3 } }, GaussianNoise { 0 }, LSTM { 2, dropout = 0 },
}
return model
]]), {})
  T.eq(zero.forward_train, nil, "a rate of 0 is the identity in training too")
end

tests["the spec: rates, axes, salts (a Bidirectional copy's its own), seeds"] = function()
  local files = generate.unit(T.tmpfile(MODEL), { dtype = "float64", unroll = 0, root = T.root, format = false,
    name = "unit" })
  local c
  for name, text in pairs(files) do
    if name:match("%.c$") and not name:match("_main%.c$") then c = text end
  end
  local spec = table.concat({ c:match("_spec%[%] =\n(.-);\n") }):gsub('"%s*"', ""):gsub('\\n', "\n")
  T.contains(spec, "layer Dropout spatial_dropout1d rate=0.20000000000000001 salt="
    .. noise.salt_of("spatial_dropout1d") .. " seed=none per_sample=1 per_step=0 per_feature=1")
  T.contains(spec, "per_sample=1 per_step=0 per_feature=1", "noise_shape { None, 1, None }")
  T.contains(spec, "layer GaussianDropout gaussian_dropout rate=0.25 salt=" .. noise.salt_of("gaussian_dropout")
    .. " seed=9")
  T.contains(spec, "dropout=0.29999999999999999 recurrent_dropout=0.40000000000000002 per_gate=1 seed=none salts="
    .. noise.salt_of("lstm/dropout") .. "," .. noise.salt_of("lstm/recurrent_dropout"),
    "an LSTM with recurrent_dropout: a mask per gate (Keras 3's implementation 1)")
  T.contains(spec, "per_gate=0 seed=none salts=" .. noise.salt_of("bidirectional/forward_gru/dropout") .. ","
    .. noise.salt_of("bidirectional/forward_gru/recurrent_dropout") .. ","
    .. noise.salt_of("bidirectional/backward_gru/dropout") .. ","
    .. noise.salt_of("bidirectional/backward_gru/recurrent_dropout"),
    "a GRU without recurrent_dropout: one input mask; each copy its salts")
  -- the C: set_noise in the descriptor, no moving statistics, train_step keys its step
  T.contains(c, "void unit_set_noise(unit_scratch *s, uint64_t seed, long step, long first_sample)")
  T.contains(c, "unit_TRAINING_(unit_eval_loss_any), NULL,", "eval_loss, and no update_stats")
  T.contains(c, "unit_TRAINING_(unit_set_noise_any),", "set_noise, the descriptor's last field")
  T.contains(c, "s->noise_step = opt->step;", "train_step's masks: keyed by the updates before it")
  T.contains(c, "rnnc_noise_value(3, 0.25, UINT64_C(9), ", "GaussianDropout's own seed")
  T.contains(c, "rnnc_noise_value(1, 0.5, s->noise_seed, ", "Dropout: fit's seed")
  local plain = generate.unit(T.path("examples/tagger.lua"), { dtype = "float32", unroll = 0, root = T.root,
    format = false })
  for name, text in pairs(plain) do
    if name:match("%.c$") and not name:match("_main%.c$") then
      T.not_contains(text, "set_noise", "a unit without noise has no set_noise")
      T.contains(text, "NULL,\n};", "its descriptor's set_noise is NULL")
    end
  end
end

tests["a shared layer's calls draw masks of their own, in the C and in the spec"] = function()
  local files = generate.unit(T.tmpfile([[
local x = Input { shape = { 3, 2 } }
local d = Dropout { 0.5 }
local y = Dense { 1 }(d(d(x)))
local model = Model { inputs = x, outputs = y }
model:compile { loss = "mse", optimizer = "sgd" }
return model
]]), { dtype = "float64", unroll = 0, root = T.root, format = false, name = "unit" })
  local c = files["unit.c"]
  local first, second = noise.salt_of("dropout"), noise.salt_of("dropout_call2")
  T.contains(c, "UINT64_C(" .. first .. ")", "the first call's salt in the C")
  T.contains(c, "UINT64_C(" .. second .. ")", "the second call's in the C")
  T.contains(c, "layer Dropout dropout rate=0.5 salt=" .. first, "the first call's in the spec")
  T.contains(c, "layer Dropout dropout rate=0.5 salt=" .. second, "the second call's in the spec")
end

tests["the summary counts no parameters for them"] = function()
  local text = summary.text(T.load_text(MODEL))
  T.contains(text, " spatial_dropout1d (SpatialD  (None, 4, 3)             0")
  T.contains(text, " dropout (Dropout)           (None, 4, 3)              0")
  T.contains(text, " gaussian_noise (GaussianNoi  (None, 4, 3)             0")
end

tests["bad arguments are refused with Keras's rules"] = function()
  local function seq(layer)
    return "return Sequential {\n  LSTM { 2, input_shape = { 3, 2 }, return_sequences = true },\n  " .. layer
      .. ",\n}\n"
  end
  load_error(seq("Dropout { 1 }"), 3, "argument 'rate' must be a number in [0, 1)")
  load_error(seq("Dropout { 0.5, noise_shape = { None, 2, None } }"), 3,
    "noise_shape entry 2 is 2: it must be None, 1 or the input's 3")
  load_error(seq("Dropout { 0.5, noise_shape = { None, 1 } }"), 3, "noise_shape has 2 entries")
  load_error(seq("Dropout { 0.5, noise_shape = { None, 0, None } }"), 3,
    "entry 2 must be None or a positive integer")
  load_error(seq("GaussianNoise { -0.1 }"), 3, "argument 'stddev' must be a non-negative number")
  load_error(seq("GaussianDropout { 0.5, seed = 1.5 }"), 3, "argument 'seed' must be None or a non-negative integer")
  load_error("return Sequential {\n  Dense { 2, input_shape = { 3 } },\n  SpatialDropout1D { 0.5 },\n}\n", 3,
    "expected an input of ndim=3")
  load_error(seq("GRU { 2, recurrent_dropout = 1 }"), 3, "argument 'recurrent_dropout' must be a number in [0, 1)")
end

return tests
