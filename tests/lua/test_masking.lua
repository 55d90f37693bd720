-- Masking and Keras's masks (issue 13): the layer's arguments and summary,
-- which layers pass, consume or refuse a mask (generator/lower.lua), the
-- masked loss, the spec line, and the generated program run by the IR
-- interpreter: the mask is computed from the input, a masked step keeps
-- the recurrent states, zero_output_for_mask zeroes the output, and no
-- gradient buffer exists for the mask.
local T = require("testlib")
local I = require("irinterp")
local dsl = require("dsl")
local pipeline = require("pipeline")
local summary = require("summary")
local spec = require("spec")
local generate = require("generate")

local tests = {}

local function unit_of(text)
  local path = T.tmpfile(text)
  local model = dsl.load(path)
  return pipeline.run(model, {}), model, path
end

-- generate must fail with a ModelError naming the file, the line and `what`
local refused = T.generate_refused

tests["Masking: arguments, shape and summary"] = function()
  local model = T.load_text([[
return Sequential {
  Masking { input_shape = { 5, 3 } },
  Masking { -1.5, name = "pad" },
  LSTM { 2 },
}
]])
  T.eq(model.layers[1].args.mask_value, 0.0, "Keras's default mask_value")
  T.eq(model.layers[2].args.mask_value, -1.5, "positional mask_value")
  local text = summary.text(model)
  T.contains(text, " masking (Masking)           (None, 5, 3)              0")
  T.contains(text, " pad (Masking)               (None, 5, 3)              0")
end

tests["Masking: bad arguments and inputs are refused"] = function()
  local path = T.tmpfile('return Sequential {\n  Masking { mask_value = "x", input_shape = { 5, 3 } },\n}\n')
  local _, msg = T.raises(function()
    return dsl.load(path)
  end)
  T.contains(msg, path .. ":2: layer 'masking' (Masking): argument 'mask_value'")
  path = T.tmpfile("return Sequential {\n  Masking { input_shape = { 3 } },\n}\n")
  _, msg = T.raises(function()
    return dsl.load(path)
  end)
  T.contains(msg, path .. ":2: layer 'masking' (Masking): expected an input of ndim=3")
end

tests["a layer after a mask that rnnc does not pass it through is refused"] = function()
  local head = "local model = Sequential {\n  Masking { input_shape = { 6, 3 } },\n"
  for _, layer in ipairs({ "Conv1D { 2, 2 }", "GlobalAveragePooling1D {}", "BatchNormalization {}", "Flatten {}",
    "MaxPooling1D {}" }) do
    local class = layer:match("^(%w+)")
    refused(head .. "  " .. layer .. ",\n  Dense { 1 },\n}\nreturn model\n", 3,
      class .. " after a mask (Masking, Embedding's mask_zero) is not implemented in rnnc")
  end
  -- Keras's Softmax layer adds the mask to the scores: its own message
  refused(head .. "  Dense { 3 },\n  Softmax {},\n}\nreturn model\n", 4, "Keras's Softmax layer adds its input mask")
  -- a merge of a masked tensor
  refused([[
local x = Input { shape = { 4, 2 } }
local m = Masking {} (x)
local y = Add {} ({ m, Dense { 2 } (x) })
return Model { inputs = x, outputs = y }
]], 3, "Add after a mask (Masking, Embedding's mask_zero) is not implemented in rnnc")
end

tests["the mask passes Dense, TimeDistributed, activations, LayerNormalization, sequences"] = function()
  local u = unit_of([[
local model = Sequential {
  Masking { input_shape = { 4, 3 } },
  Dense { 3, activation = "tanh" },
  ReLU {},
  LayerNormalization {},
  TimeDistributed { Dense { 3 } },
  GRU { 2, return_sequences = true },
  Bidirectional { SimpleRNN { 2, return_sequences = true } },
  Dense { 2 },
}
model:compile { loss = "mse" }
return model
]])
  T.truthy(u.output_masks[1], "the output carries the mask")
  T.truthy(u.interface.training.losses[1].masked, "the loss is masked")
  -- consumed by a recurrent layer without return_sequences: no mask after it,
  -- so layers that would refuse one are fine there
  u = unit_of([[
local model = Sequential {
  Masking { input_shape = { 4, 3 } },
  LSTM { 3 },
  RepeatVector { 4 },
  Conv1D { 2, 2 },
  Flatten {},
  Dense { 1 },
}
model:compile { loss = "mse", metrics = { "mae" } }
return model
]])
  T.eq(u.output_masks[1], nil, "no mask after LSTM without return_sequences")
  T.eq(u.interface.training.losses[1].masked, nil, "a plain loss")
end

-- Values for a program: random weights, and x with the masked rows.
local function values_for(u, x)
  local rnd = T.rng(11)
  local values = {}
  for _, buf in ipairs(u.prog.buffers) do
    if buf.kind == "param" then values[buf.name] = I.random_array(rnd, buf.size, -0.8, 0.8) end
  end
  values[u.x.buf.name] = x
  for _, buf in ipairs(u.prog.buffers) do
    if buf.kind == "input" and not values[buf.name] then values[buf.name] = I.random_array(rnd, buf.size, 0, 0) end
  end
  return values
end

local function x_rows(rows, cols, masked, value)
  local rnd, x = T.rng(5), {}
  for r = 0, rows - 1 do
    for c = 0, cols - 1 do
      x[r * cols + c] = masked[r] and value or rnd(-1, 1)
    end
  end
  return x
end

local function row(mem, buf, r, cols)
  local out = {}
  for c = 0, cols - 1 do
    out[#out + 1] = mem[buf][r * cols + c]
  end
  return out
end

tests["generated program: the mask from the input, kept states, zeroed outputs"] = function()
  local u = unit_of([[
local model = Sequential {
  Masking { 0.25, input_shape = { 5, 2 } },
  LSTM { 3, return_sequences = true },
  Bidirectional { GRU { 2, return_sequences = true } },
}
model:compile { loss = "mse" }
return model
]])
  -- steps 1 and 3 masked; step 4 has one feature at the mask value only
  local x = x_rows(5, 2, { [1] = true, [3] = true }, 0.25)
  x[4 * 2] = 0.25
  local mem = I.run(I.memory(u.prog, values_for(u, x)), u.forward)
  local by = u.prog.by_name
  T.eq(row(mem, by["masking/mask"], 0, 5), { 1, 0, 1, 0, 1 }, "any(x[t, :] != 0.25)")
  -- the masked inputs are zeroed
  T.eq(row(mem, by["masking/y"], 1, 2), { 0, 0 }, "x * mask")
  -- LSTM: h and c at a masked step are the previous step's
  for _, name in ipairs({ "lstm/h", "lstm/c" }) do
    T.eq(row(mem, by[name], 1, 3), row(mem, by[name], 0, 3), name .. " kept at step 1")
    T.eq(row(mem, by[name], 3, 3), row(mem, by[name], 2, 3), name .. " kept at step 3")
    T.truthy(row(mem, by[name], 2, 3)[1] ~= row(mem, by[name], 1, 3)[1], name .. " moves at step 2")
  end
  -- Bidirectional with return_sequences: zeros at the masked steps (Keras 3
  -- force_zero_output_for_mask), in both directions' halves
  local y = I.read(mem, u.y)
  for _, t in ipairs({ 1, 3 }) do
    for c = 0, 3 do
      T.eq(y[t * 4 + c + 1], 0.0, string.format("output step %d column %d", t, c))
    end
  end
  T.truthy(y[2 * 4 + 1] ~= 0 and y[2 * 4 + 3] ~= 0, "unmasked steps are not zero")
  -- no gradient through the mask
  T.eq(by["d:masking/mask"], nil, "no gradient buffer of the mask")
  T.eq(by["d:masking/mask_count"], nil, "no gradient buffer of the count")
  T.truthy(by["d:lstm/h"], "the states have gradients")
end

tests["a masked step passes the state's gradient to the step before"] = function()
  local u = unit_of([[
local model = Sequential {
  Masking { input_shape = { 3, 2 } },
  SimpleRNN { 2 },
}
model:compile { loss = "mse" }
return model
]])
  -- the last step masked: the output is h[1], and d output / d x[2] is zero
  local x = x_rows(3, 2, { [2] = true }, 0)
  local values = values_for(u, x)
  local dy = {}
  for i = 0, 1 do
    dy[i] = 1
  end
  values[u.dy.buf.name] = dy
  local mem = I.run(I.memory(u.prog, values), u.forward)
  T.eq(I.read(mem, u.y), row(mem, u.prog.by_name["simple_rnn/h"], 1, 2), "the output is h[1]")
  I.run(mem, u.backward)
  local dx = I.read(mem, u.dx)
  T.eq({ dx[5], dx[6] }, { 0.0, 0.0 }, "no gradient into the masked step's input")
  T.truthy(dx[1] ~= 0 and dx[3] ~= 0, "gradients reach the kept steps")
end

tests["spec: Masking's line and zero_output_for_mask"] = function()
  local model = T.load_text([[
local model = Sequential {
  Masking { -1, input_shape = { 4, 2 } },
  LSTM { 3, return_sequences = true, zero_output_for_mask = true },
  GRU { 2 },
}
return model
]])
  local text = spec.text(model, { { 4, 2 } })
  T.contains(text, "layer Masking masking mask_value=-1\n")
  T.contains(text, " go_backwards=0 zero_output_for_mask=1\n")
  T.not_contains(text:match("layer GRU[^\n]*"), "zero_output_for_mask", "GRU keeps Keras's default")
end

tests["the C of a masked loss: mask weights over the unmasked steps + 1e-7"] = function()
  local path = T.tmpfile([[
local model = Sequential {
  Masking { input_shape = { 4, 2 } },
  LSTM { 3, return_sequences = true },
  Dense { 2 },
}
model:compile { loss = "mse", metrics = { "mae" }, weighted_metrics = { "mse" } }
return model
]])
  local files = generate.unit(path, { dtype = "float64", root = T.root, format = false, name = "m" })
  local c = files["m.c"]
  T.truthy(c, "m.c generated")
  T.contains(c, "valid + 1e-7")
  T.contains(c, "s->mask0")
  -- the mask reaches the weighted metrics (Keras 3 masks them with sample weights)
  T.contains(c, "case 0: /* dense */\n    return ((const m_scratch *)s)->mask0;")
  T.truthy(c:find("1,\n    NULL,\n    m_TRAINING_(m_output_mask_any),\n    NULL,\n};", 1, true),
    "the descriptor says masked_loss, then set_noise (none), output_mask, eval_loss_weighted (none)")
  T.contains(c, '"metrics=mae weighted-metrics=mse"', "both lists in the fit defaults")
end

return tests
