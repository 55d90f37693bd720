-- Keras's activity_regularizer (issue 13): the argument's values, the spec
-- line the reference runtime reads, the C that computes the penalty and
-- writes the gradient the backward pass starts from (an autodiff seed), and
-- what is refused. Its numbers are checked against PyTorch by the
-- conformance case activity_regularizers and against the reference runtime
-- by `make test-cli` (diff, gradcheck).
local T = require("testlib")
local generate = require("generate")
local util = require("util")

local tests = {}

local MODEL = [[
local model = Sequential {
  Dense { 4, activation = "relu", input_shape = { 3, 2 }, activity_regularizer = L1L2 { l1 = 0.01, l2 = 0.02 } },
  LSTM { 3, return_sequences = true, activity_regularizer = "l2" },
  GRU { 2 },
  Dense { 2, activation = "softmax", activity_regularizer = L1 { 0.05 } },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy" }
return model
]]

local function unit_c(src)
  local files = generate.unit(T.tmpfile(src), { dtype = "float64", unroll = 0, root = T.root, format = false,
    name = "m" })
  return files["m.c"], files
end

local refused = T.generate_refused

tests["the spec's activity lines, the penalty and its gradient in the C"] = function()
  local c = unit_c(MODEL)
  T.contains(c, "activity n0.0 l1=0.01 l2=0.02", "Dense's line in the spec")
  T.contains(c, "activity n1.0 l1=0 l2=0.01", "\"l2\": Keras's default 0.01")
  T.contains(c, "activity n3.0 l1=0.050000000000000003 l2=0")
  T.not_contains(c, "activity n2.0", "the GRU has none")
  -- loss_grad: the penalty over the call's samples / n, the gradient into scratch
  T.contains(c, "penalty += rnnc_activity_penalty_f64(&s->a_dense_y[b][0], 3, 4, 4, 1, 0.01, 0.02, 1.0 / n, "
    .. "s->a_dense_activity_grad[b]);")
  T.contains(c, "loss += penalty / n;")
  -- eval_loss-like bodies compute it without a gradient; the backward starts from it
  T.contains(c, "/* dense: dy = activity_grad (the gradient of its activity_regularizer) */")
  T.not_contains(c, "gru_activity_grad", "no seed for the GRU")
end

tests["a model without activity regularizers has no penalty"] = function()
  local plain = MODEL:gsub(", activity_regularizer = \"l2\"", ""):gsub(", activity_regularizer = L1L2 { [^}]+ }", "")
    :gsub(", activity_regularizer = L1 { 0.05 }", "")
  local c = unit_c(plain)
  T.not_contains(c, "rnnc_activity_penalty")
  T.not_contains(c, "\nactivity ")
end

tests["activity_regularizer: what is refused"] = function()
  refused([[
local model = Sequential {
  Dense { 4, input_shape = { 3, 2 }, activity_regularizer = "l3" },
}
return model
]], 2, "activity_regularizer = \"l3\" is not a regularizer rnnc knows")
  refused([[
local x = Input { shape = { 3, 2 } }
local y, h, c = LSTM { 3, return_state = true, activity_regularizer = "l2" }(x)
local model = Model { inputs = x, outputs = { y, h } }
model:compile { loss = "mse" }
return model
]], 2, "activity_regularizer on LSTM with several outputs (return_state) is not implemented")
  refused([[
local model = Sequential {
  Bidirectional { GRU { 2, activity_regularizer = "l1" }, input_shape = { 3, 2 } },
}
return model
]], 2, "activity_regularizer on the layer Bidirectional wraps is not implemented")
  refused([[
local model = Sequential {
  TimeDistributed { Dense { 2, activity_regularizer = "l1" }, input_shape = { 3, 2 } },
}
return model
]], 2, "activity_regularizer on the layer TimeDistributed wraps is not implemented")
end

tests["at a variable length the penalty counts the first L rows"] = function()
  local files = generate.unit(T.tmpfile([[
local model = Sequential {
  LSTM { 3, input_shape = { None, 2 }, return_sequences = true, activity_regularizer = "l2" },
  GRU { 2, activity_regularizer = "l1" },
}
model:compile { loss = "mse" }
return model
]]), { dtype = "float64", root = T.root, format = false, timesteps = 5, name = "v" })
  local c = files["v.c"]
  -- the sequence: L rows, the gradient past them zero; the last state: row L
  T.contains(c, "memset(s->a_lstm_activity_grad, 0, sizeof s->a_lstm_activity_grad);")
  T.contains(c, "rnnc_activity_penalty_f64(&s->a_lstm_h[b][0], (size_t)L, 3, 3, 1, 0, 0.01, 1.0 / n, ")
  T.contains(c, "rnnc_activity_penalty_f64(&s->a_gru_h[b][-2 + L * 2], 1, 2, 2, 1, 0.01, 0, 1.0 / n, ")
end

tests["ActivityRegularization: the identity with the penalty of its input"] = function()
  local c = unit_c([[
local model = Sequential {
  ActivityRegularization { l1 = 0.01, input_shape = { 3, 2 } },
  LSTM { 3, return_sequences = true },
  ActivityRegularization { 0.02, 0.03 },
  Dense { 2 },
}
model:compile { loss = "mse" }
return model
]])
  -- the reference runtime's identity, and the penalty of each call
  T.contains(c, "layer Activation activity_regularization activation=linear")
  T.contains(c, "activity n0.0 l1=0.01 l2=0")
  T.contains(c, "activity n2.0 l1=0.02 l2=0.029999999999999999")
  -- on the model's input, its gradient goes to dx; on the LSTM's output, into the LSTM
  T.contains(c, "rnnc_activity_penalty_f64(&s->a_x[b][0], 3, 2, 2, 1, 0.01, 0, 1.0 / n, ")
  T.contains(c, "rnnc_activity_penalty_f64(&s->a_lstm_h[b][0], 3, 3, 3, 1, 0.02, 0.029999999999999999, 1.0 / n, ")
  local err, msg = T.raises(function()
    unit_c("return Sequential { ActivityRegularization { l1 = -1, input_shape = { 3 } } }\n")
  end)
  T.truthy(util.is_model_error(err), msg)
  T.contains(msg, "l1")
end

return tests
