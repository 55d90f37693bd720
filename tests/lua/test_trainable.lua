-- trainable = false (Keras's Layer.trainable): which weights a description
-- freezes, the summary's counts, no gradient buffer for a frozen weight in
-- the generated program (gradients still flow through the layer), a frozen
-- BatchNormalization in inference mode in training, and the spec line the
-- reference runtime reads.
local T = require("testlib")
local summary = require("summary")
local pipeline = require("pipeline")
local spec = require("spec")

local tests = {}

local function frozen_names(model)
  local out = {}
  for _, layer in ipairs(model.layers) do
    for _, w in ipairs(layer.weights or {}) do
      if w.trainable == false then out[#out + 1] = w.name end
    end
  end
  return out
end

local function counts(model)
  local text = summary.text(model)
  return text:match("Total params: ([%d,]+)\nTrainable params: ([%d,]+)\nNon%-trainable params: ([%d,]+)\n")
end

tests["trainable = false on a layer, a wrapper, a wrapped layer"] = function()
  local model = T.load_text([[
return Sequential {
  LSTM { 4, input_shape = { 5, 3 }, return_sequences = true, trainable = false },
  Bidirectional { GRU { 2, return_sequences = true }, trainable = false },
  Bidirectional { SimpleRNN { 2, return_sequences = true, trainable = false } },
  TimeDistributed { Dense { 3, trainable = false } },
  TimeDistributed { Dense { 3 }, trainable = false },
  Dense { 1, trainable = true },
}
]])
  T.eq(frozen_names(model), {
    "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias",
    "bidirectional/forward_gru/kernel", "bidirectional/forward_gru/recurrent_kernel", "bidirectional/forward_gru/bias",
    "bidirectional/backward_gru/kernel", "bidirectional/backward_gru/recurrent_kernel",
    "bidirectional/backward_gru/bias",
    "bidirectional_1/forward_simple_rnn/kernel", "bidirectional_1/forward_simple_rnn/recurrent_kernel",
    "bidirectional_1/forward_simple_rnn/bias", "bidirectional_1/backward_simple_rnn/kernel",
    "bidirectional_1/backward_simple_rnn/recurrent_kernel", "bidirectional_1/backward_simple_rnn/bias",
    "time_distributed/dense/kernel", "time_distributed/dense/bias",
    "time_distributed_1/dense_1/kernel", "time_distributed_1/dense_1/bias",
  })
  -- frozen: LSTM 128, Bidirectional(GRU) 2 * 48, Bidirectional(SimpleRNN)
  -- 2 * 14, TimeDistributed(Dense) 15 and 12; the last Dense's 4 trainable
  T.eq({ counts(model) }, { "283", "4", "279" })
end

tests["a model frozen as a whole: Sequential and Model take trainable = false"] = function()
  local seq = T.load_text([[
return Sequential { LSTM { 2, input_shape = { 3, 1 } }, Dense { 1 }, trainable = false }
]])
  T.eq({ counts(seq) }, { "35", "0", "35" })
  local fn = T.load_text([[
local x = Input { shape = { 3, 1 } }
local h = LSTM { 2 }(x)
return Model { inputs = x, outputs = Dense { 1 }(h), trainable = false }
]])
  T.eq({ counts(fn) }, { "35", "0", "35" })
  -- a frozen layer of a functional model, and an inner model frozen as a whole
  local nested = T.load_text([[
local inner = Sequential { Dense { 2, input_shape = { 3 } }, trainable = false }
local x = Input { shape = { 3 } }
local y = Dense { 1 }(inner(x))
return Model { inputs = x, outputs = y }
]])
  T.eq({ counts(nested) }, { "11", "3", "8" })
  T.raises(function()
    T.load_text([[return Sequential { Dense { 1, input_shape = { 2 } }, trainable = "no" }]])
  end, "trainable")
  T.raises(function()
    T.load_text([[return Sequential { Dense { 1, input_shape = { 2 }, trainable = 0 } }]])
  end, "trainable")
  -- Keras's spelling after construction, model.trainable = False: refused,
  -- saying where the flag goes
  local _, text = T.raises(function()
    T.load_text([[
local model = Sequential { Dense { 1, input_shape = { 2 } } }
model.trainable = false
return model
]])
  end)
  T.contains(text, ":2: Model objects cannot be modified: give trainable = false to the constructor")
end

local function unit_of(src)
  local model = T.load_text(src)
  return pipeline.run(model, {}), model
end

tests["no gradient buffer for a frozen weight; the input's gradient still flows"] = function()
  local unit, model = unit_of([[
local model = Sequential {
  Dense { 3, input_shape = { 2 } },
  Dense { 2, trainable = false },
  Dense { 1 },
}
model:compile { loss = "mse", optimizer = "adam" }
return model
]])
  for _, p in ipairs(unit.interface.params) do
    local frozen = p.name:match("^dense_1/") ~= nil
    T.eq(p.trainable, not frozen, p.name .. ": trainable in the layout")
    T.eq(unit.prog.by_name["g:" .. p.name] ~= nil, not frozen, p.name .. ": a gradient only if trainable")
  end
  -- the first Dense learns through the frozen one: its gradient is computed
  T.truthy(unit.prog.by_name["g:dense/kernel"], "the layer before the frozen one has a gradient")
  local text = spec.text(model, { { 2 } }, unit.interface.training.losses)
  T.contains(text, "layer Dense dense_1 units=2 activation=linear use_bias=1 trainable=0\n")
  T.not_contains(text, "layer Dense dense units=2 activation=linear use_bias=1 trainable=0")
end

-- Keras 3 BatchNormalization.call uses the batch's statistics only `if
-- training and self.trainable` (keras/src/layers/normalization/
-- batch_normalization.py): frozen, it normalises with the moving statistics
-- in training too and never updates them.
tests["a frozen BatchNormalization runs in inference mode in training"] = function()
  local src = [[
local model = Sequential {
  Dense { 3, input_shape = { 4, 2 } },
  BatchNormalization { %s },
  Dense { 1 },
}
model:compile { loss = "mse", optimizer = "sgd" }
return model
]]
  local live = unit_of(string.format(src, ""))
  T.truthy(live.forward_train and live.stat_updates and #live.stat_updates == 2, "trainable: the training forward")
  local unit, model = unit_of(string.format(src, "trainable = false"))
  T.eq(unit.forward_train, nil, "frozen: training computes what inference does")
  T.eq(unit.stat_updates, nil, "frozen: no moving statistics to update")
  for _, p in ipairs(unit.interface.params) do
    T.eq(unit.prog.by_name["g:" .. p.name] ~= nil, not p.name:match("^batch_normalization/"),
      p.name .. ": a gradient only outside the frozen layer")
  end
  -- Dense 9 + Dense 4 trainable; BatchNormalization's 4 * 3 frozen
  T.eq({ counts(model) }, { "25", "13", "12" })
end

return tests
