-- Embedding (issue 13): Keras's arguments and defaults, the summary and the
-- weight, the errors, and the lowered program: a gather of the tokens' rows
-- forward, a scatter-add into the table's gradient backward (no one-hot, no
-- gradient for the integer input), checked with the IR interpreter against
-- a hand computation and central differences.
local T = require("testlib")
local I = require("irinterp")
local ir = require("ir")
local dsl = require("dsl")
local summary = require("summary")
local pipeline = require("pipeline")

local tests = {}

local function load(src)
  return dsl.load(T.tmpfile(src))
end

local function load_error(src, line, rest)
  local path = T.tmpfile(src)
  local _, text = T.raises(function()
    return pipeline.stages(dsl.load(path), {})
  end)
  T.contains(text, path .. ":" .. line .. ": ", "the file and line")
  T.contains(text, rest)
  return text
end

local function rows_of(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local name, shape, params = line:match("^ (%S+ %(%w+%))%s+(%(.-%))%s+(%d+)")
    if name then rows[#rows + 1] = { name, shape, tonumber(params) } end
  end
  return rows
end

---------------------------------------------------------------- the layer

tests["summary: Keras's shapes and input_dim * output_dim parameters"] = function()
  -- tf.keras 2.x: input_length gives the Sequential's input (None, 10)
  local model = load([[
return Sequential {
  Embedding { 1000, 64, input_length = 10 },
  LSTM { 8 },
}
]])
  T.eq(rows_of(summary.text(model)), {
    { "embedding (Embedding)", "(None, 10, 64)", 64000 },
    { "lstm (LSTM)", "(None, 8)", 2336 },
  })
  -- Keras 3: no input_length, any number of timesteps
  model = load("return Sequential { Embedding { input_dim = 50, output_dim = 3 }, GRU { 2 } }\n")
  T.eq(rows_of(summary.text(model))[1], { "embedding (Embedding)", "(None, None, 3)", 150 })
  -- input_shape as any layer's
  model = load("return Sequential { Embedding { 7, 2, input_shape = { 4 } }, SimpleRNN { 2 } }\n")
  T.eq(rows_of(summary.text(model))[1], { "embedding (Embedding)", "(None, 4, 2)", 14 })
end

tests["Sequential { Input { shape, dtype = 'int32' }, Embedding, ... }: Keras 3's first Input"] = function()
  local model = load([[
return Sequential {
  Input { shape = { 6 }, dtype = "int32", name = "tokens" },
  Embedding { 9, 2 },
  LSTM { 3 },
}
]])
  T.eq(rows_of(summary.text(model))[1], { "embedding (Embedding)", "(None, 6, 2)", 18 })
  local u = pipeline.stages(load([[
return Sequential { Input { shape = { 6 }, dtype = "int64" }, Embedding { 9, 2 }, LSTM { 3 } }
]]), {}).layout
  T.eq(u.x.buf.int, 9, "the Input's tokens feed the Embedding")
  T.eq({ u.x.buf.rows, u.x.buf.cols }, { 6, 1 })
  -- a float Input works for any first layer, as input_shape does
  model = load("return Sequential { Input { shape = { 4, 2 }, dtype = \"float32\" }, GRU { 3 } }\n")
  T.eq(rows_of(summary.text(model))[1], { "gru (GRU)", "(None, 3)", 63 })
  load_error("return Sequential {\n  Input { shape = { 4 }, dtype = \"int8\" },\n  Embedding { 9, 2 },\n}\n", 2,
    "Input: dtype int8 is not supported")
  load_error("return Sequential {\n  Input { shape = { 4 }, dtype = \"int32\" },\n  Dense { 2 },\n}\n", 2,
    "input 'input_1' is declared integer (dtype int32/int64) but feeds no Embedding")
  load_error("local x = Input { shape = { 4 } }\nreturn Sequential {\n  Dense { 2 },\n  x,\n}\n", 2,
    "Sequential: an Input may only come first")
end

tests["the weight: <layer>/embeddings, (input_dim, output_dim), uniform by default"] = function()
  local model = load("return Sequential { Embedding { 11, 5, input_length = 3 }, Dense { 2 } }\n")
  local w = model.layers[1].weights
  T.eq(#w, 1, "one weight")
  T.eq(w[1].name, "embedding/embeddings")
  T.eq(w[1].shape, { 11, 5 })
  -- Keras's "uniform": RandomUniform(-0.05, 0.05)
  T.eq(w[1].init, "random_uniform")
  model = load("return Sequential { Embedding { 4, 2, input_length = 3, embeddings_initializer = 'glorot_uniform',"
    .. " embeddings_regularizer = L2 { 0.1 }, embeddings_constraint = 'non_neg' }, Dense { 2 } }\n")
  w = model.layers[1].weights[1]
  T.eq(w.init, "glorot_uniform")
  T.near(w.rule.l2, 0.1, 0, "embeddings_regularizer")
  T.eq(w.rule.constraint, "RNNC_CONSTRAINT_NON_NEG")
end

tests["errors: mask after mask_zero, not first, wrong rank, tokens read by another layer"] = function()
  load_error("return Sequential {\n  Embedding { 10, 3, mask_zero = true, input_length = 4 },\n"
    .. "  Conv1D { 2, 2 },\n}\n", 3, "Conv1D after a mask (Masking, Embedding's mask_zero) is not implemented")
  load_error("return Sequential {\n  Dense { 3, input_shape = { 4, 2 } },\n  Embedding { 10, 3 },\n}\n", 3,
    "Embedding must be the first layer")
  load_error("return Sequential {\n  Embedding { 10, 3, input_shape = { 4, 2 } },\n  LSTM { 2 },\n}\n", 2,
    "expected integer tokens of shape (batch, timesteps)")
  load_error("return Sequential {\n  Embedding { 10, 3, input_length = 4, input_shape = { 5 } },\n}\n", 2,
    "input_length = 4 contradicts the input shape (None, 5)")
  load_error("return Sequential {\n  Embedding { 10, 3, embeddings_initializer = 'unifrom' },\n}\n", 2,
    "unknown or unsupported initializer unifrom")
  -- functional: the tokens feed the Embedding only, and it reads the input
  load_error([[
local x = Input { shape = { 4 } }
local e = Embedding { 10, 3 }(x)
local d = Dense { 3 }(x)
return Model { inputs = x, outputs = { e, d } }
]], 3, "input 'input_1' holds integer tokens (it feeds an Embedding), which only an Embedding can read")
  load_error([[
local x = Input { shape = { 4, 2 } }
local h = Dense { 1 }(x)
local e = Embedding { 10, 3 }(Reshape { { 4 } }(h))
return Model { inputs = x, outputs = e }
]], 3, "Embedding must read the model's input")
end

---------------------------------------------------------------- the program

local MODEL = [[
local model = Sequential {
  Embedding { 5, 3, input_length = 4 },
  Dense { 2, activation = "tanh" },
}
model:compile { loss = "mse", optimizer = "sgd" }
return model
]]

local function flat_ops(ops, out)
  out = out or {}
  for _, op in ipairs(ops) do
    if op.op == "loop" then flat_ops(op.body, out) else out[#out + 1] = op end
  end
  return out
end

local function unit_of(src)
  return pipeline.stages(load(src), {}).layout
end

tests["the program: a gather forward, a scatter-add backward, no gradient for the tokens"] = function()
  local u = unit_of(MODEL)
  T.eq(u.x.buf.int, 5, "the input holds tokens of a 5-row table")
  T.eq({ u.x.buf.rows, u.x.buf.cols }, { 4, 1 }, "one token per row")
  local kinds = {}
  for _, op in ipairs(flat_ops(u.forward)) do
    kinds[op.op] = (kinds[op.op] or 0) + 1
    if op.op == "matmul" then
      T.truthy(op.b.buf.name ~= "embedding/embeddings" and op.a.buf.name ~= "embedding/embeddings",
        "no product with the table (no one-hot)")
    end
  end
  T.eq(kinds.gather, 1, "one gather")
  local scatters = 0
  for _, list in ipairs({ u.backward, u.backward_loss }) do
    for _, op in ipairs(flat_ops(list)) do
      T.truthy(op.out.buf.name ~= "dx", "nothing writes dx")
      if op.op == "scatter" then
        scatters = scatters + 1
        T.eq(op.out.buf.name, "g:embedding/embeddings")
        T.truthy(op.acc, "the scatter adds")
      end
      if op.op == "matmul" then
        T.truthy(op.out.buf.name ~= "g:embedding/embeddings", "no product into the table's gradient")
      end
    end
  end
  T.eq(scatters, 2, "a scatter in backward and in backward_loss")
end

local function values_for(u, rnd, tokens)
  local values = {}
  for _, buf in ipairs(u.prog.buffers) do
    if buf.kind == "param" or buf.kind == "input" then values[buf.name] = I.random_array(rnd, buf.size, -1, 1) end
  end
  local x = {}
  for i, t in ipairs(tokens) do
    x[i - 1] = t
  end
  values[u.x.buf.name] = x
  return values
end

tests["forward: the tokens' rows, then the Dense (by hand)"] = function()
  local u = unit_of(MODEL)
  local tokens = { 3, 0, 3, 4 }
  local values = values_for(u, T.rng(7), tokens)
  local y = I.read(I.run(I.memory(u.prog, values), u.forward), u.y)
  local E, K, B = values["embedding/embeddings"], values["dense/kernel"], values["dense/bias"]
  for t = 0, 3 do
    for j = 0, 1 do
      local s = B[j]
      for c = 0, 2 do
        s = s + E[tokens[t + 1] * 3 + c] * K[c * 2 + j]
      end
      local e2 = math.exp(2 * s)
      T.near(y[t * 2 + j + 1], (e2 - 1) / (e2 + 1), 1e-14, string.format("y[%d, %d]", t, j))
    end
  end
  -- a token outside the table: a row of NaN, never a read outside it
  values[u.x.buf.name][1] = 5
  y = I.read(I.run(I.memory(u.prog, values), u.forward), u.y)
  T.truthy(y[3] ~= y[3] and y[4] ~= y[4], "token 5 of 5 rows: NaN")
  T.truthy(y[1] == y[1], "the other steps are computed")
end

tests["mask_zero: a mask of the tokens != 0, kept states at 0, the spec says it"] = function()
  local u = unit_of([[
local model = Sequential {
  Embedding { 5, 3, mask_zero = true, input_length = 4 },
  SimpleRNN { 2, return_sequences = true },
}
model:compile { loss = "mse", optimizer = "sgd" }
return model
]])
  local tokens = { 3, 0, 2, 0 }
  local mem = I.run(I.memory(u.prog, values_for(u, T.rng(3), tokens)), u.forward)
  local by = u.prog.by_name
  local mask = I.read(mem, ir.view(by["embedding/mask"], 0, 4, 1, 1, 1))
  T.eq(mask, { 1, 0, 1, 0 }, "Keras 3 Embedding.compute_mask: tokens != 0")
  local y = I.read(mem, u.y)
  T.eq({ y[3], y[4] }, { y[1], y[2] }, "a masked step keeps the state and outputs it")
  T.truthy(y[5] ~= y[3], "an unmasked step moves it")
  T.eq(by["d:embedding/mask"], nil, "no gradient buffer of the mask")
  local text = require("spec").text(T.load_text([[
return Sequential { Embedding { 5, 3, mask_zero = true, input_length = 4 }, LSTM { 2 } }
]]), { { 4 } })
  T.contains(text, "layer Embedding embedding input_dim=5 output_dim=3 mask_zero=1\n")
end

tests["backward: the table's gradient matches central differences, rows of absent tokens zero"] = function()
  local u = unit_of(MODEL)
  local rnd = T.rng(11)
  local tokens = { 1, 3, 1, 0 } -- token 1 twice (its row sums two steps), 2 and 4 absent
  local values = values_for(u, rnd, tokens)
  values.dy = I.random_array(rnd, u.dy.buf.size, -1, 1)
  local function objective(v)
    local mem = I.run(I.memory(u.prog, v), u.forward)
    local y, total = I.read(mem, u.y), 0
    for i, yi in ipairs(y) do
      total = total + yi * v.dy[i - 1]
    end
    return total
  end
  local mem = I.run(I.memory(u.prog, values), u.forward)
  I.run(mem, u.backward)
  local g = I.read(mem, ir.full(u.prog.by_name["g:embedding/embeddings"]))
  local E = values["embedding/embeddings"]
  for i = 0, #E do
    local keep = E[i]
    E[i] = keep + 1e-6
    local lp = objective(values)
    E[i] = keep - 1e-6
    local lm = objective(values)
    E[i] = keep
    T.near(g[i + 1], (lp - lm) / 2e-6, 1e-8, "d/d embeddings[" .. i .. "]")
  end
  for _, row in ipairs({ 2, 4 }) do
    for c = 0, 2 do
      T.eq(g[row * 3 + c + 1], 0, "no token " .. row .. ": its row's gradient is zero")
    end
  end
end

tests["streaming: one token per step"] = function()
  local u = unit_of(MODEL)
  T.truthy(u.stream ~= nil, "the model streams")
  T.eq(u.stream.input_size, 1, "one token per step")
  T.eq(u.stream.x.buf.int, 5, "the step's input is a token")
end

return tests
