-- Argument kinds, defaults and shape rules shared by the layer files.
local util = require("util")
local ir = require("ir")
local catalog = require("catalog")
local rules = require("layers.rules")

local E = ir.E

local common = {}


-- Activations (generator/catalog.lua), and those a recurrent cell can use
-- (softmax over a state makes no sense in C or Keras).
common.ACTIVATIONS, common.ELEMENTWISE = {}, {}
for _, a in ipairs(catalog.activations) do
  common.ACTIVATIONS[a.name] = true
  common.ELEMENTWISE[a.name] = a.elementwise or nil
end

-- Arguments every Keras layer accepts. `only` pins the values rnnc implements;
-- anything else is refused with a message rather than silently ignored.
common.BASE_ARGS = {
  name = { "string" },
  input_shape = { "shape" },
  batch_input_shape = { "shape" },
  batch_size = { "posint" },
  input_dim = { "posint" },
  trainable = { "boolean", true },
  dtype = { "string" },
}

-- Arguments of SimpleRNN, LSTM and GRU.
function common.recurrent_args(extra)
  local args = {
    units = { "posint" },
    activation = { "cell_activation", "tanh" },
    use_bias = { "boolean", true },
    kernel_initializer = { "initializer", "glorot_uniform" },
    recurrent_initializer = { "initializer", "orthogonal" },
    bias_initializer = { "initializer", "zeros" },
    return_sequences = { "boolean", false },
    return_state = { "boolean", false },
    go_backwards = { "boolean", false },
    stateful = { "boolean", false, only = false, why = "stateful layers are not implemented" },
    unroll = { "boolean", false }, -- a TensorFlow graph hint; rnnc decides unrolling itself
    time_major = { "boolean", false, only = false, why = "rnnc takes (batch, timesteps, features)" },
    -- issue 13: trained with masks drawn once per call (common.unroll)
    dropout = { "rate", 0 },
    recurrent_dropout = { "rate", 0 },
    seed = { "any", util.None, check = function(at, argname, v)
      return require("layers.noise").seed_arg(at, argname, v)
    end },
    -- Keras 3's LSTMCell/GRUCell: 1 draws one dropout mask per gate (forced
    -- by recurrent_dropout > 0), 2 one mask for all gates
    implementation = { "any", 2, check = function(at, argname, v)
      if v ~= 1 and v ~= 2 then util.fail(at, "argument '%s' must be 1 or 2, got %s", argname, tostring(v)) end
      return math.tointeger(v)
    end },
    input_length = { "posint", optional = true },
    -- with a mask: a masked step's output is zeros instead of the kept
    -- state (Keras 3 RNN.__init__'s zero_output_for_mask; Bidirectional
    -- sets it to return_sequences on both its layers)
    zero_output_for_mask = { "boolean", false },
  }
  for k, v in pairs(extra or {}) do
    args[k] = v
  end
  return rules.extras(args, { "kernel", "recurrent", "bias" })
end

function common.dense_args()
  return rules.extras({
    units = { "posint" },
    activation = { "activation", "linear" },
    use_bias = { "boolean", true },
    kernel_initializer = { "initializer", "glorot_uniform" },
    bias_initializer = { "initializer", "zeros" },
  }, { "kernel", "bias" })
end

-- Recurrent layers take (batch, timesteps, features).
function common.require_rank3(layer, shape)
  if #shape ~= 3 then
    util.fail(layer.at, "expected an input of ndim=3 (batch, timesteps, features), found ndim=%d: %s",
      #shape, util.shape_str(shape))
  end
  if shape[3] == util.None then
    util.fail(layer.at, "the feature dimension of the input must be known, got %s", util.shape_str(shape))
  end
end

-- Output shapes of a recurrent layer: the output, then one shape per state.
function common.recurrent_outputs(layer, shape, n_states)
  local units = layer.args.units
  local out
  if layer.args.return_sequences then
    out = { shape[1], shape[2], units }
  else
    out = { shape[1], units }
  end
  local shapes = { out }
  if layer.args.return_state then
    for _ = 1, n_states do
      shapes[#shapes + 1] = { shape[1], units }
    end
  end
  return shapes
end

-- Keras's initializer names rnnc implements (generator/catalog.lua).
common.INITIALIZERS = {}
for _, i in ipairs(catalog.initializers) do
  if not i.internal then common.INITIALIZERS[i.name] = true end
end

-- Keras's LSTM: unit_forget_bias sets the forget block of the bias to ones
-- (the rest from bias_initializer; rnnc implements it over zeros).
function common.lstm_bias_initializer(layer)
  local a = layer.args
  if not a.unit_forget_bias then return a.bias_initializer end
  if a.bias_initializer ~= "zeros" then
    util.fail(layer.at, "unit_forget_bias=true with bias_initializer='%s' is not supported (use zeros, or "
      .. "unit_forget_bias=false)", a.bias_initializer)
  end
  return "unit_forget_bias"
end

-- trainable = false freezes a layer's weights (Keras's Layer.trainable): no
-- gradient for them, no optimizer update, "Non-trainable params" in the
-- summary; gradients still flow through the layer to earlier ones. A
-- wrapper freezes the layers it wraps, and a wrapped layer built frozen
-- stays frozen inside a trainable wrapper (Keras 3 Bidirectional.__init__
-- makes both copies from the wrapped layer's serialized config, trainable
-- included: keras/src/layers/rnn/bidirectional.py; a layer's
-- trainable_weights are [] when it is frozen, so a frozen wrapper's are:
-- keras/src/layers/layer.py Layer.trainable_weights). `model_frozen`: the model
-- says trainable = false (Sequential { ..., trainable = false }).
function common.frozen(layer, model_frozen)
  if model_frozen or layer.args.trainable == false then return true end
  local inner = layer.module.wrapper and layer.args.layer
  return inner ~= nil and inner.args.trainable == false
end

-- After a layer's build: marks its weights non-trainable when it is frozen.
function common.apply_trainable(layer, model_frozen)
  if not common.frozen(layer, model_frozen) then return end
  -- Keras's model.trainable = False sets every layer's trainable: a layer
  -- of a frozen model stays frozen when the model is called in another
  -- (which builds its layers again)
  layer.args.trainable = false
  layer.frozen = true
  for _, w in ipairs(layer.weights or {}) do
    w.trainable = false
  end
end

-- A weight record: Keras name, shape, initializer.
-- A weight of `layer`, with the rule of its regularizer and constraint
-- arguments (layers/rules.lua), if any.
function common.weight(layer, prefix, name, shape, init)
  return { name = prefix .. "/" .. name, shape = shape, init = init, layer = layer,
    rule = rules.of(layer, name, shape) }
end

-- A mask from the input (Masking, Embedding's mask_zero): per row of x,
-- 1 when `cond` (an expression of one element, arg 1, that is 1 or 0) holds
-- for any element of the row, else 0. The count of such elements is summed
-- into a (rows x 1) buffer by a map over the columns read as one (stride 0),
-- then stepped to 0/1. Both are data, not functions of the weights: they are
-- marked no_gradient (autodiff.lua differentiates nothing through them, as
-- Keras's mask is boolean). Returns the (rows x 1) mask view.
function common.mask_from(g, prefix, x, cond, meaning)
  local rows, cols = x.dims[1], x.dims[2]
  local count = g:act(prefix .. "/mask_count", rows, 1, "per step, how many features say the step is kept")
  local m = g:act(prefix .. "/mask", rows, 1, "per step, the mask: 1 kept, 0 masked (" .. meaning .. ")")
  count.buf.no_gradient, m.buf.no_gradient = true, true
  g:per_row(rows, function(sel)
    local c = sel(count)
    g:fill(c, 0, "the count starts at zero")
    g:map(ir.view(c.buf, c.off, c.dims[1], cols, c.strides[1], 0, c.toff, c.loff), cond, { sel(x) }, true,
      "count the features that keep the step")
    g:map(sel(m), ir.E.fn("step", ir.E.arg(1)), { c }, false, "the mask: " .. meaning)
  end)
  return m
end

-- The time loop every recurrent layer shares. The input projection of all
-- timesteps is one matrix product x @ kernel (proj_cols wide); then, step by
-- step in processing order (reversed for go_backwards), `step` writes the new
-- states into their rows. States start at zero (a zero buffer, which the
-- simplifier folds away) unless `initial` gives views of them; with
-- `initial.in_place` (one step, streaming) the new states are written over
-- them.
--   cell.states    names of the states, the output state first ({"h", "c"})
--   cell.proj_cols width of the input projection
--   cell.proj_meaning what the projection's rows hold once `step` has added
--                  to them
--   cell.step(g, s, zt, prev, rows)  zt: 1 x proj_cols row of the projection
--                  for this step; prev/rows: 1 x units views of the previous
--                  and the new states
-- With `mask` (a steps x 1 view of 0/1, lower.lua), Keras's masked
-- recurrence (keras/src/backend/jax/rnn.py and tensorflow/rnn.py `rnn()`
-- with a mask, read as Keras 3's layers call it): `step` writes the new
-- states into candidate rows, then a masked step keeps the previous states,
-- s_t = m_t s_new + (1 - m_t) s_{t-1}; the step's output is its h state
-- (the kept one at a masked step), or, with zero_output_for_mask, m_t h_new.
-- go_backwards reads the mask in its order too (step s reads row T-1-s).
-- The last output is the output of the last step processed. The output
-- sequence keeps the mask (RNN.compute_mask: the mask with return_sequences,
-- none without; none on the states).
-- Returns {outputs = the sequence or the last output, then the final states
-- when return_state is set; final_states = the rows of the last step;
-- masks = the outputs' masks}.
function common.unroll(layer, g, x, prefix, cell, initial, mask)
  local a = layer.args
  local steps, units = x.dims[1], a.units
  local variable = g.prog.variable and steps > 1
  local z = g:act(prefix .. "/z", steps, cell.proj_cols, "per step, " .. (cell.proj_meaning or "x @ kernel"))
  local kernel = g:param(layer.weights[1])
  local drop = common.dropout_plan(layer, cell.proj_cols // units, g.streaming)
  local function project()
    g:per_row(steps, function(sel)
      g:matmul(sel(z), sel(x), kernel, false, "the input projection of every step")
    end)
  end
  if drop.input then
    g:in_mode("infer", project)
    g:in_mode("train", function()
      common.dropped_projection(layer, g, x, z, kernel, prefix, drop)
    end)
  else
    project()
  end
  -- the recurrent state's masks, and cell.step's view of h[t-1] for gate k
  local rec_mask, h_dropped
  if drop.recurrent then
    g:in_mode("train", function()
      rec_mask = common.dropout_mask(layer, g, prefix .. "/recurrent_dropout", drop.rec_masks, units,
        a.recurrent_dropout, "the recurrent state's dropout masks")
    end)
    h_dropped = g:act(prefix .. "/h_dropped", steps, drop.rec_masks * units,
      "per step, h[t-1] times the recurrent dropout mask of each gate")
  end
  local function run_step(s, zt, prev, rows)
    local plain = {
      h = function()
        return prev[1]
      end,
      per_gate = false,
    }
    if not drop.recurrent then
      cell.step(g, s, zt, prev, rows, plain)
      return
    end
    g:in_mode("infer", function()
      cell.step(g, s, zt, prev, rows, plain)
    end)
    g:in_mode("train", function()
      local done = {}
      local masked = {
        h = function(k)
          local m = drop.rec_masks == 1 and 0 or k
          local v = ir.cols(ir.row(h_dropped, s), m * units, units)
          if not done[m] then
            done[m] = true
            g:map(v, E.mul(E.arg(1), E.arg(2)), { prev[1], ir.row(rec_mask, m) }, false,
              "h[t-1] times its recurrent dropout mask")
          end
          return v
        end,
        per_gate = drop.rec_masks > 1,
      }
      cell.step(g, s, zt, prev, rows, masked)
    end)
  end
  local seq, prev = {}, {}
  for k, name in ipairs(cell.states) do
    if initial and initial.in_place and steps == 1 then
      -- one step whose new states may overwrite the old ones (streaming):
      -- every op of a step reads a state's element before writing it
      seq[k] = initial[k]
    else
      seq[k] = g:act(prefix .. "/" .. name, steps, units, "per step, the state " .. name)
    end
    prev[k] = initial and initial[k] or g:zero(prefix .. "/" .. name .. "0", 1, units)
  end
  -- The last step: T - 1, or L - 1 for a run-time length L.
  local last_step = variable and { c = -1, l = 1 } or steps - 1
  -- Step s reads input row t: s itself, or (T or L) - 1 - s going backwards.
  local function input_row(s)
    if not a.go_backwards then return s end
    if type(s) == "number" then
      return variable and ir.step(-1 - s, 0, 1) or (steps - 1 - s)
    end
    return variable and ir.step(-1, -1, 1) or ir.step(steps - 1, -1)
  end
  local function state_rows(s, bufs)
    local rows = {}
    for k = 1, #cell.states do
      rows[k] = ir.row((bufs or seq)[k], s)
    end
    return rows
  end
  local new, out = {}, nil
  if mask then
    for k, name in ipairs(cell.states) do
      new[k] = g:act(prefix .. "/" .. name .. "_new", steps, units, "per step, the state " .. name
        .. " the cell computes, before the mask")
    end
    if a.zero_output_for_mask then
      out = g:act(prefix .. "/output", steps, units, "per step, the output: h, zeros at a masked step")
    end
  end
  local function step(s, zt, prev_rows, rows)
    if not mask then
      run_step(s, zt, prev_rows, rows)
      return
    end
    local cand = state_rows(s, new)
    run_step(s, zt, prev_rows, cand)
    local m = ir.row(mask, input_row(s))
    m = ir.view(m.buf, m.off, 1, units, m.strides[1], 0, m.toff, m.loff)
    for k, name in ipairs(cell.states) do
      g:map(rows[k], E.add(E.mul(E.arg(1), E.arg(2)), E.mul(E.sub(E.ONE, E.arg(1)), E.arg(3))),
        { m, cand[k], prev_rows[k] }, false, "the mask: a masked step keeps " .. name .. "[t-1]")
    end
    if out then
      g:map(ir.row(out, s), E.mul(E.arg(1), E.arg(2)), { m, cand[1] }, false,
        "the output, zeros at a masked step (zero_output_for_mask)")
    end
  end
  -- Step 0 on its own (its zero states simplify away), then one loop body for
  -- steps 1 .. T-1 that reads the previous step's row.
  step(0, ir.row(z, input_row(0)), prev, state_rows(0))
  g:loop(1, last_step, function(t)
    step(t, ir.row(z, input_row(t)), state_rows(ir.step(-1, 1)), state_rows(t))
  end)
  local last_index = variable and ir.step(-1, 0, 1) or steps - 1
  local last = state_rows(last_index)
  local outputs = { a.return_sequences and (out or seq[1]) or (out and ir.row(out, last_index) or last[1]) }
  if a.return_state then
    for k = 1, #cell.states do
      outputs[#outputs + 1] = last[k]
    end
  end
  -- the final states: streaming inference keeps them for the next call
  return { outputs = outputs, final_states = last, masks = { mask and a.return_sequences and mask or nil } }
end

-- The recurrent layers' dropout (Keras 3, keras/src/layers/rnn/
-- dropout_rnn_cell.py, simple_rnn.py, lstm.py, gru.py): in training, masks of
-- 0 or 1 / (1 - rate) drawn once per call (DropoutRNNCell caches them for
-- every step of the batch) multiply the input of every step (`dropout`,
-- masks of the input's width) and h[t-1] where it enters the recurrent
-- products (`recurrent_dropout`, masks of `units`); the identity at
-- inference. LSTMCell and GRUCell switch to implementation 1 when
-- recurrent_dropout > 0 (their __init__: `if self.recurrent_dropout != 0.0:
-- self.implementation = 1`), which draws one mask per gate
-- (dropout_mask_count 4 or 3) for the input and for the state; with
-- implementation 2 (the default, recurrent_dropout = 0) one input mask
-- serves every gate. SimpleRNN has one of each. The masks come from rnnc's
-- counter-based generator (rnnc_noise_value) under the salts of
-- "<layer>/dropout" and "<layer>/recurrent_dropout", mask k's values at
-- indices k * width + i; a Bidirectional's copies are layers of their own.
-- Returns {input = bool, recurrent = bool, in_masks, rec_masks}.
function common.dropout_plan(layer, gates, streaming)
  local a = layer.args
  local plan = { input = false, recurrent = false, in_masks = 0, rec_masks = 0 }
  if streaming then return plan end -- the stream is inference: the identity
  local per_gate = gates > 1 and (a.recurrent_dropout > 0 or a.implementation == 1)
  if a.dropout > 0 then
    plan.input, plan.in_masks = true, per_gate and gates or 1
  end
  if a.recurrent_dropout > 0 then
    plan.recurrent, plan.rec_masks = true, per_gate and gates or 1
  end
  return plan
end

-- count masks of `width` values (rows of a per-sample buffer), drawn once
-- per call under the salt of `name`; returns the view.
function common.dropout_mask(layer, g, name, count, width, rate, meaning)
  local noise = require("layers.noise")
  local seed = layer.args.seed ~= util.None and layer.args.seed or nil
  local mask = g:act(name .. "_mask", count, width, meaning)
  g:map(mask, E.noise(1, rate, noise.salt_of(name), seed, true), {}, false, meaning .. ", drawn once per call")
  return mask
end

-- z = (x * mask) @ kernel in training: one masked input for every gate, or
-- one per gate (its block of z's columns and of the kernel's).
function common.dropped_projection(layer, g, x, z, kernel, prefix, drop)
  local steps, width = x.dims[1], x.dims[2]
  local units = layer.args.units
  local mask = common.dropout_mask(layer, g, prefix .. "/dropout", drop.in_masks, width, layer.args.dropout,
    "the input's dropout masks")
  -- one buffer per mask (gate k's: x_dropped_k), each a whole buffer
  local xd = {}
  for k = 0, drop.in_masks - 1 do
    xd[k] = g:act(prefix .. "/x_dropped" .. (k > 0 and ("_" .. k) or ""), steps, width,
      "per step, the input times its dropout mask" .. (drop.in_masks > 1 and (" of gate " .. k) or ""))
  end
  g:per_row(steps, function(sel)
    local n = sel(x).dims[1]
    for k = 0, drop.in_masks - 1 do
      local xk = sel(xd[k])
      g:map(xk, E.mul(E.arg(1), E.arg(2)), { sel(x), ir.broadcast_rows(ir.row(mask, k), n) }, false,
        "x times its dropout mask")
      if drop.in_masks == 1 then
        g:matmul(sel(z), xk, kernel, false, "the input projection of every step, x dropped out")
      else
        g:matmul(ir.cols(sel(z), k * units, units), xk, ir.cols(kernel, k * units, units), false,
          "a gate's input projection, x dropped out")
      end
    end
  end)
end

-- The recurrent product out (+)= h[t-1] @ R over the gate blocks
-- first_gate.. (out and R: views of those blocks' columns), with the step's
-- view of h[t-1] (hv: common.unroll's): one product, or, with a mask per
-- gate, one per block.
function common.recurrent_product(g, units, out, hv, R, first_gate, acc, note)
  if not hv.per_gate then
    g:matmul(out, hv.h(first_gate), R, acc, note)
    return
  end
  for j = 0, out.dims[2] // units - 1 do
    g:matmul(ir.cols(out, j * units, units), hv.h(first_gate + j), ir.cols(R, j * units, units), acc, note)
  end
end

-- Why a recurrent layer cannot run one step at a time (nil: it can).
function common.stream_refusal(layer)
  if layer.args.go_backwards then
    return string.format("layer '%s' has go_backwards=true and reads the whole sequence", layer.name)
  end
  return nil
end

-- The spec line of a recurrent layer for the reference runtime.
-- call: with call.initial_state, the layer takes its initial states from the
-- model's next inputs (the spec's initial_state=1, spec.lua).
function common.recurrent_spec(class, layer, prefix, extra, call)
  local a = layer.args
  local function b(v)
    return v and 1 or 0
  end
  local line = string.format("layer %s %s units=%d activation=%s", class, prefix, a.units, a.activation)
  if a.recurrent_activation then line = line .. " recurrent_activation=" .. a.recurrent_activation end
  line = line .. " use_bias=" .. b(a.use_bias)
  for _, k in ipairs(extra or {}) do
    line = line .. " " .. k .. "=" .. b(a[k])
  end
  if call and call.initial_state then line = line .. " initial_state=1" end
  line = line .. string.format(" return_sequences=%d return_state=%d go_backwards=%d", b(a.return_sequences),
    b(a.return_state), b(a.go_backwards))
  if a.zero_output_for_mask then line = line .. " zero_output_for_mask=1" end
  if a.dropout > 0 or a.recurrent_dropout > 0 then
    -- the dropout (common.dropout_plan): rates, a mask per gate or one, the
    -- seed, and each direction's salts (a Bidirectional's copies: its own)
    local noise = require("layers.noise")
    local gates = ({ SimpleRNN = 1, LSTM = 4, GRU = 3 })[class]
    local per_gate = gates > 1 and (a.recurrent_dropout > 0 or a.implementation == 1)
    local salts = {}
    for _, p in ipairs(layer.spec_salt_prefixes or { call and call.prefix or prefix }) do
      salts[#salts + 1] = tostring(noise.salt_of(p .. "/dropout"))
      salts[#salts + 1] = tostring(noise.salt_of(p .. "/recurrent_dropout"))
    end
    line = line .. string.format(" dropout=%.17g recurrent_dropout=%.17g per_gate=%d seed=%s salts=%s", a.dropout,
      a.recurrent_dropout, b(per_gate), a.seed == util.None and "none" or tostring(a.seed), table.concat(salts, ","))
  end
  return line
end

return common
