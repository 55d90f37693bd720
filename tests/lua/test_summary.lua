-- model.summary(): output shapes and parameter counts of the 14 seed models
-- (the numbers Keras printed, /work/shared/seed-models.md), Keras's exact
-- table layout, and Keras's default layer and weight names.
local T = require("testlib")
local dsl = require("dsl")
local summary = require("summary")
local util = require("util")

local tests = {}

local LINE = 65

-- Per seed: { "name (Class)", output shape, params } per layer, then the total.
-- Output shapes and counts are Keras's; names are Keras's default names.
local SEEDS = {
  { { { "simple_rnn (SimpleRNN)", "(None, 3)", 42 } }, 42 },
  { { { "simple_rnn (SimpleRNN)", "(8, 3)", 42 } }, 42 },
  { { { "simple_rnn (SimpleRNN)", "(8, 2, 3)", 42 } }, 42 },
  { {
    { "simple_rnn (SimpleRNN)", "(None, 10, 8)", 112 },
    { "simple_rnn_1 (SimpleRNN)", "(None, 10, 8)", 136 },
  }, 248 },
  { { { "bidirectional (Bidirectional)", "(None, 10, 16)", 224 } }, 224 },
  { {
    { "bidirectional (Bidirectional)", "(None, 10, 16)", 224 },
    { "bidirectional_1 (Bidirectional)", "(None, 10, 16)", 400 },
    { "bidirectional_2 (Bidirectional)", "(None, 10, 16)", 400 },
    { "bidirectional_3 (Bidirectional)", "(None, 10, 16)", 400 },
  }, 1424 },
  { { { "gru (GRU)", "(None, 8)", 360 } }, 360 },
  { { { "lstm (LSTM)", "(None, 7)", 364 } }, 364 },
  { {
    { "lstm (LSTM)", "(None, 5)", 320 },
    { "dense (Dense)", "(None, 1)", 6 },
  }, 326 },
  { {
    { "lstm (LSTM)", "(None, 2, 5)", 320 },
    { "lstm_1 (LSTM)", "(None, 7)", 364 },
    { "dense (Dense)", "(None, 1)", 8 },
  }, 692 },
  { {
    { "gru (GRU)", "(None, None, 9)", 540 },
    { "gru_1 (GRU)", "(None, 6)", 288 },
    { "dense (Dense)", "(None, 3)", 21 },
  }, 849 },
  { {
    { "simple_rnn (SimpleRNN)", "(None, 3, 3)", 21 },
    { "time_distributed (TimeDistributed)", "(None, 3, 3)", 12 },
  }, 33 },
  { {
    { "lstm (LSTM)", "(None, 3, 3)", 96 },
    { "dense (Dense)", "(None, 3, 3)", 12 },
  }, 108 },
  { {
    { "lstm (LSTM)", "(None, 20)", 1760 },
    { "dense (Dense)", "(None, 5)", 105 },
    { "dense_1 (Dense)", "(None, 1)", 6 },
  }, 1871 },
}

-- The summary block of keras-semantics.md "summary()" (seed model 13), as
-- Keras prints it once trailing spaces are stripped.
local SEED13_SUMMARY = [[
Model: "sequential"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 lstm (LSTM)                 (None, 3, 3)              96

 dense (Dense)               (None, 3, 3)              12

=================================================================
Total params: 108
Trainable params: 108
Non-trainable params: 0
_________________________________________________________________
]]

local function seed_path(i)
  return T.path(string.format("examples/seeds/seed%02d.lua", i))
end

local function lines_of(text)
  local lines = {}
  for l in text:gmatch("(.-)\n") do
    lines[#lines + 1] = l
  end
  return lines
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Reads the layer rows back out of a summary: Keras's columns end at 29, 55
-- and 65; a field too long for its column continues on the next lines.
local function parse_rows(text)
  local lines = lines_of(text)
  local first_rule
  for i, l in ipairs(lines) do
    if l == string.rep("=", LINE) then
      first_rule = i
      break
    end
  end
  T.truthy(first_rule, "the '=' rule under the header")
  local rows, cur = {}, nil
  for i = first_rule + 1, #lines do
    local l = lines[i]
    if l == string.rep("=", LINE) then break end
    if l == string.rep(" ", LINE) then
      if cur then rows[#rows + 1] = cur end
      cur = nil
    else
      cur = cur or { "", "", "" }
      cur[1] = cur[1] .. trim(l:sub(2, 29))
      cur[2] = cur[2] .. trim(l:sub(30, 55))
      cur[3] = cur[3] .. trim(l:sub(56, 65))
    end
  end
  T.truthy(cur == nil, "every layer row is followed by a blank row")
  return rows
end

local function strip_trailing(text)
  return (text:gsub("[ ]+\n", "\n"))
end

---------------------------------------------------------------- the seed models

tests["seed models: output shapes, parameter counts and totals"] = function()
  for i, seed in ipairs(SEEDS) do
    local model = dsl.load(seed_path(i))
    local expected_rows, total = seed[1], seed[2]
    T.eq(#model.layers, #expected_rows, "seed " .. i .. " layer count")
    for j, row in ipairs(expected_rows) do
      local layer = model.layers[j]
      local what = string.format("seed %d layer %d", i, j)
      T.eq(layer.name .. " (" .. layer.module.class .. ")", row[1], what .. " name")
      T.eq(#layer.output_shapes, 1, what .. " output count")
      T.eq(util.shape_str(layer.output_shapes[1]), row[2], what .. " output shape")
      T.eq(layer.params, row[3], what .. " params")
    end
    T.eq(model.params, total, "seed " .. i .. " total params")
  end
end

tests["seed models: the summary table prints Keras's rows and totals"] = function()
  for i, seed in ipairs(SEEDS) do
    local text = summary.text(dsl.load(seed_path(i)))
    local rows = parse_rows(text)
    local expected = {}
    for j, row in ipairs(seed[1]) do
      expected[j] = { row[1], row[2], tostring(row[3]) } -- Keras prints the count without separators
    end
    T.eq(rows, expected, "seed " .. i .. " summary rows")
    local total = util.commas(seed[2])
    T.contains(text, "\nTotal params: " .. total .. "\n", "seed " .. i .. " summary")
    T.contains(text, "\nTrainable params: " .. total .. "\n", "seed " .. i .. " summary")
    T.contains(text, "\nNon-trainable params: 0\n", "seed " .. i .. " summary")
  end
end

tests["seed 13: the full summary text equals Keras's"] = function()
  local text = summary.text(dsl.load(seed_path(13)))
  T.eq(strip_trailing(text), SEED13_SUMMARY, "seed 13 summary")
end

tests["summary lines are 65 characters and table rows keep Keras's padding"] = function()
  for i = 1, #SEEDS do
    local lines = lines_of(summary.text(dsl.load(seed_path(i))))
    T.eq(lines[1], 'Model: "sequential"', "seed " .. i .. " line 1")
    T.eq(lines[2], string.rep("_", LINE), "seed " .. i .. " line 2")
    T.eq(lines[3], " Layer (type)                Output Shape              Param #   ", "seed " .. i .. " header")
    T.eq(lines[4], string.rep("=", LINE), "seed " .. i .. " line 4")
    -- every line of the table, up to and including the closing '=' rule
    local k = 5
    while lines[k] ~= string.rep("=", LINE) do
      T.eq(#lines[k], LINE, string.format("seed %d line %d length (%q)", i, k, lines[k]))
      T.truthy(lines[k]:sub(1, 1) == " ", string.format("seed %d line %d starts with a space", i, k))
      k = k + 1
      T.truthy(lines[k], "seed " .. i .. " closing rule")
    end
    T.eq(#lines, k + 4, "seed " .. i .. " line count")
    T.eq(lines[#lines], string.rep("_", LINE), "seed " .. i .. " last line")
  end
end

tests["summary: a long class name wraps inside its column as Keras wraps it"] = function()
  local lines = lines_of(summary.text(dsl.load(seed_path(5))))
  T.eq(lines[5], " bidirectional (Bidirectiona  (None, 10, 16)           224       ", "wrapped row")
  T.eq(lines[6], " l)" .. string.rep(" ", LINE - 3), "continuation row")
  T.eq(lines[7], string.rep(" ", LINE), "blank row")
end

tests["summary: a long layer name wraps at 27 characters"] = function()
  local model = T.load_text([[
return Sequential {
  Dense { 1, input_shape = { 7 }, name = "a_very_long_layer_name_for_wrapping" },
}
]])
  local lines = lines_of(summary.text(model))
  -- 1 + 27 + 2 characters, then the shape from column 31, the count at 56
  T.eq(lines[5], " a_very_long_layer_name_for_  (None, 1)" .. string.rep(" ", 16) .. "8" .. string.rep(" ", 9),
    "first row")
  T.eq(lines[6], " wrapping (Dense)" .. string.rep(" ", LINE - 17), "continuation")
end

tests["summary: the model name and thousands separators"] = function()
  local model = T.load_text([[
return Sequential {
  name = "tagger",
  LSTM { 200, input_shape = { 5, 100 } },
}
]])
  local text = summary.text(model)
  T.eq(lines_of(text)[1], 'Model: "tagger"', "first line")
  -- 4 * 200 * (100 + 200 + 1)
  T.eq(model.params, 240800, "params")
  T.contains(text, " lstm (LSTM)                 (None, 200)               240800    \n", "summary")
  T.contains(text, "\nTotal params: 240,800\n", "summary")
end

tests["util.commas and util.shape_str print as Python does"] = function()
  T.eq(util.commas(0), "0")
  T.eq(util.commas(999), "999")
  T.eq(util.commas(1000), "1,000")
  T.eq(util.commas(1424), "1,424")
  T.eq(util.commas(100000), "100,000")
  T.eq(util.commas(1234567), "1,234,567")
  T.eq(util.shape_str({ util.None }), "(None,)")
  T.eq(util.shape_str({ util.None, 3 }), "(None, 3)")
  T.eq(util.shape_str({ 8, 2, 3 }), "(8, 2, 3)")
end

---------------------------------------------------------------- names

local function names(model)
  local r = {}
  for i, l in ipairs(model.layers) do
    r[i] = l.name
  end
  return r
end

local function weight_names(layer)
  local r = {}
  for i, w in ipairs(layer.weights) do
    r[i] = w.name
  end
  return r
end

tests["default names: snake-case class name, then _1, _2"] = function()
  T.eq(names(dsl.load(seed_path(4))), { "simple_rnn", "simple_rnn_1" })
  T.eq(names(dsl.load(seed_path(14))), { "lstm", "dense", "dense_1" })
  T.eq(names(dsl.load(seed_path(10))), { "lstm", "lstm_1", "dense" })
  T.eq(names(dsl.load(seed_path(11))), { "gru", "gru_1", "dense" })
  T.eq(names(dsl.load(seed_path(6))), { "bidirectional", "bidirectional_1", "bidirectional_2", "bidirectional_3" })
end

tests["default names restart with every model file"] = function()
  dsl.load(seed_path(14))
  T.eq(names(dsl.load(seed_path(14))), { "lstm", "dense", "dense_1" })
end

tests["an explicit name is honoured and takes no default number"] = function()
  local model = T.load_text([[
return Sequential {
  SimpleRNN { 3, input_shape = { 2, 4 }, return_sequences = true, name = "encoder" },
  SimpleRNN { 3, return_sequences = true },
  SimpleRNN { 3 },
}
]])
  T.eq(names(model), { "encoder", "simple_rnn", "simple_rnn_1" })
  T.eq(weight_names(model.layers[1]), { "encoder/kernel", "encoder/recurrent_kernel", "encoder/bias" })
  T.eq(parse_rows(summary.text(model))[1], { "encoder (SimpleRNN)", "(None, 2, 3)", "24" })
end

tests["TimeDistributed{Dense} consumes the name dense"] = function()
  local model = T.load_text([[
return Sequential {
  SimpleRNN { 3, input_shape = { 3, 3 }, return_sequences = true },
  TimeDistributed { Dense { 4 } },
  Dense { 2 },
}
]])
  T.eq(names(model), { "simple_rnn", "time_distributed", "dense_1" })
  T.eq(model.layers[2].args.layer.name, "dense", "the wrapped Dense's name")
  for _, w in ipairs(model.layers[2].weights) do
    T.truthy(w.name:match("^time_distributed/"), "weight " .. w.name .. " is under time_distributed/")
  end
  T.eq(weight_names(model.layers[3]), { "dense_1/kernel", "dense_1/bias" })
  T.eq(parse_rows(summary.text(model)), {
    { "simple_rnn (SimpleRNN)", "(None, 3, 3)", "21" },
    { "time_distributed (TimeDistributed)", "(None, 3, 4)", "16" },
    { "dense_1 (Dense)", "(None, 3, 2)", "10" },
  })
end

tests["Bidirectional weights: forward_<inner> then backward_<inner>"] = function()
  local model = dsl.load(seed_path(6))
  for i, layer in ipairs(model.layers) do
    local outer = i == 1 and "bidirectional" or ("bidirectional_" .. (i - 1))
    local inner = i == 1 and "simple_rnn" or ("simple_rnn_" .. (i - 1))
    T.eq(layer.args.layer.name, inner, "inner layer " .. i)
    local expected = {}
    for _, dir in ipairs({ "forward_", "backward_" }) do
      for _, w in ipairs({ "kernel", "recurrent_kernel", "bias" }) do
        expected[#expected + 1] = outer .. "/" .. dir .. inner .. "/" .. w
      end
    end
    T.eq(weight_names(layer), expected, "weights of layer " .. i)
  end
  local shapes = {}
  for i, w in ipairs(model.layers[2].weights) do
    shapes[i] = w.shape
  end
  T.eq(shapes, { { 16, 8 }, { 8, 8 }, { 8 }, { 16, 8 }, { 8, 8 }, { 8 } }, "weight shapes of layer 2")
end

tests["weight shapes follow Keras (LSTM 4U, GRU reset_after bias (2, 3U))"] = function()
  local function shapes(i)
    local r = {}
    for _, layer in ipairs(dsl.load(seed_path(i)).layers) do
      for _, w in ipairs(layer.weights) do
        r[#r + 1] = w.name .. " " .. table.concat(w.shape, "x")
      end
    end
    return r
  end
  T.eq(shapes(7), { "gru/kernel 5x24", "gru/recurrent_kernel 8x24", "gru/bias 2x24" })
  T.eq(shapes(8), { "lstm/kernel 5x28", "lstm/recurrent_kernel 7x28", "lstm/bias 28" })
  T.eq(shapes(11), {
    "gru/kernel 10x27", "gru/recurrent_kernel 9x27", "gru/bias 27",
    "gru_1/kernel 9x18", "gru_1/recurrent_kernel 6x18", "gru_1/bias 18",
    "dense/kernel 6x3", "dense/bias 3",
  })
end

-- The convolutional front ends, pooling, shape and normalisation layers:
-- Keras's default names, output shapes and parameter counts (Conv1D
-- k * in / groups * filters + filters; BatchNormalization's moving mean and
-- variance counted under "Non-trainable params", as Keras counts them).
tests["front-end layers: names, shapes, parameter counts, non-trainable params"] = function()
  local model = T.load_text([[
return Sequential {
  Conv1D { 64, 3, padding = "causal", activation = "relu", input_shape = { None, 1 } },
  Conv1D { 32, 5, strides = 2, groups = 4 },
  BatchNormalization {},
  MaxPooling1D {},
  SeparableConv1D { 8, 3, depth_multiplier = 2, padding = "same" },
  DepthwiseConv1D { 2, padding = "same" },
  AveragePooling1D { 2, strides = 1 },
  LayerNormalization {},
  LSTM { 16, return_sequences = true },
  GlobalAveragePooling1D {},
  RepeatVector { 5 },
  ZeroPadding1D { 2 },
  Cropping1D { { 1, 2 } },
  UpSampling1D {},
  GlobalMaxPooling1D { keepdims = true },
  Flatten {},
  Reshape { { 4, 4 } },
  Permute { { 2, 1 } },
  Flatten {},
  BatchNormalization { center = false },
}
]])
  T.eq(parse_rows(summary.text(model)), {
    { "conv1d (Conv1D)", "(None, None, 64)", "256" },
    { "conv1d_1 (Conv1D)", "(None, None, 32)", "2592" },
    { "batch_normalization (BatchNormalization)", "(None, None, 32)", "128" },
    { "max_pooling1d (MaxPooling1D)", "(None, None, 32)", "0" },
    { "separable_conv1d (SeparableConv1D)", "(None, None, 8)", "712" },
    { "depthwise_conv1d (DepthwiseConv1D)", "(None, None, 8)", "24" },
    { "average_pooling1d (AveragePooling1D)", "(None, None, 8)", "0" },
    { "layer_normalization (LayerNormalization)", "(None, None, 8)", "16" },
    { "lstm (LSTM)", "(None, None, 16)", "1600" },
    { "global_average_pooling1d (GlobalAveragePooling1D)", "(None, 16)", "0" },
    { "repeat_vector (RepeatVector)", "(None, 5, 16)", "0" },
    { "zero_padding1d (ZeroPadding1D)", "(None, 9, 16)", "0" },
    { "cropping1d (Cropping1D)", "(None, 6, 16)", "0" },
    { "up_sampling1d (UpSampling1D)", "(None, 12, 16)", "0" },
    { "global_max_pooling1d (GlobalMaxPooling1D)", "(None, 1, 16)", "0" },
    { "flatten (Flatten)", "(None, 16)", "0" },
    { "reshape (Reshape)", "(None, 4, 4)", "0" },
    { "permute (Permute)", "(None, 4, 4)", "0" },
    { "flatten_1 (Flatten)", "(None, 16)", "0" },
    { "batch_normalization_1 (BatchNormalization)", "(None, 16)", "48" },
  })
  local text = summary.text(model)
  -- 256 + 2592 + 128 + 712 + 24 + 16 + 1600 + 48; non-trainable: 2 * 32 + 2 * 16
  T.contains(text, "Total params: 5,376\nTrainable params: 5,280\nNon-trainable params: 96\n")
  T.eq(weight_names(model.layers[5]), { "separable_conv1d/depthwise_kernel", "separable_conv1d/pointwise_kernel",
    "separable_conv1d/bias" })
  T.eq(weight_names(model.layers[3]), { "batch_normalization/gamma", "batch_normalization/beta",
    "batch_normalization/moving_mean", "batch_normalization/moving_variance" })
  local shapes = {}
  for _, l in ipairs({ model.layers[1], model.layers[2], model.layers[5], model.layers[6] }) do
    for _, w in ipairs(l.weights) do
      shapes[#shapes + 1] = table.concat(w.shape, "x")
    end
  end
  T.eq(shapes, { "3x1x64", "64", "5x16x32", "32", "3x32x2", "1x64x8", "8", "2x8x1", "8" }, "Keras's kernel shapes")
end

return tests
