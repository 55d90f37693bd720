-- The first pass: a built model (dsl.lua) to IR. Lays out the parameters,
-- lets every layer emit its forward computation (generator/layers/), and
-- returns the unit record the later passes extend and the C writer reads:
--
--   prog        the program's buffers (ir.lua)
--   forward     the forward ops, as the layers emitted them
--   x, y        views of the per-sample input and output buffers
--   logits      (when the loss is computed from them) the view of the last
--               layer's pre-activation
--   stream      the forward of one timestep of one sample, states kept by
--               the caller (nil with no_stream, the reason, when the model
--               cannot run that way)
--   interface   plain data: batch, shapes, inputs and outputs (shapes and
--               offsets), the parameters' layout (name, shape, offset, size,
--               initializer), the training configuration (training.lua)
--
-- Knows nothing of C; reads the model, never writes into it.
local ir = require("ir")
local util = require("util")
local Builder = require("builder")
local training = require("training")

local lower = {}

-- Per-sample shape: the Keras shape without its batch dimension.
local function sample_shape(shape)
  local s = {}
  for i = 2, #shape do
    s[#s + 1] = shape[i]
  end
  return s
end

-- Emits every layer of the model onto `cur`; initial_for(layer) gives the
-- views a recurrent layer starts from (nil: zeros). Returns the last layer's
-- outputs, its logits when its activation can be fused with the loss, and
-- each recurrent layer's final states.
local function emit_layers(model, g, cur, initial_for)
  local result, final_states = nil, {}
  for _, layer in ipairs(model.layers) do
    if not layer.module.emit then
      util.fail(layer.at, "code generation for %s is not implemented yet (rnnc summary works for it)",
        layer.module.class)
    end
    g:set_layer(layer.name)
    result = layer.module.emit(layer, g, cur, layer.name, initial_for(layer))
    g:set_layer(nil)
    if result.final_states then final_states[layer] = result.final_states end
    cur = result.outputs[1]
  end
  return result.outputs, result.logits and { view = result.logits, activation = result.logits_activation },
    final_states
end

-- The parameters in one flat vector: layers in order, weights in Keras's
-- order. Returns the list of {name, shape, offset, size, init} and the count.
local function param_layout(model)
  local params, n = {}, 0
  for _, layer in ipairs(model.layers) do
    for _, w in ipairs(layer.weights or {}) do
      local size = util.product(w.shape)
      params[#params + 1] = { name = w.name, shape = util.copy(w.shape), offset = n, size = size, init = w.init }
      n = n + size
    end
  end
  return params, n
end

-- Resolves the batch size and the sequence length, lays out the parameters
-- and emits the forward program. opts: batch, timesteps.
function lower.build(model, opts)
  local in_shape = util.copy(model.input_shape)
  local first = model.layers[1]
  local batch = in_shape[1]
  if batch == util.None then batch = opts.batch or 32 end
  if opts.batch and in_shape[1] ~= util.None and opts.batch ~= in_shape[1] then
    util.fail(first.at, "--batch %d contradicts batch_input_shape's batch size %d", opts.batch, in_shape[1])
  end
  local x_shape = sample_shape(in_shape)
  local variable = false
  for i, d in ipairs(x_shape) do
    if d == util.None then
      if i == 1 and #x_shape == 2 and opts.timesteps then
        -- generated for any length up to T, given at run time
        x_shape[i] = opts.timesteps
        variable = true
      else
        util.fail(first.at, "the input shape %s has an unknown dimension; pass --timesteps T to generate "
          .. "code for sequences of length T", util.shape_str(in_shape))
      end
    end
  end
  if #x_shape > 2 then util.fail(first.at, "inputs of rank > 2 per sample are not supported") end
  local params, n_params = param_layout(model)

  local prog = ir.new_program()
  prog.variable = variable
  prog.max_steps = #x_shape == 2 and x_shape[1] or 1
  local g = Builder.new(prog, params)
  local rows = #x_shape == 2 and x_shape[1] or 1
  local cols = x_shape[#x_shape]
  -- The inputs, kept in scratch (the backward pass reads them): the main
  -- input, then the initial states of each layer that takes them, one after
  -- the other; their gradients come out the same way in dx.
  local inputs = { { shape = util.copy(x_shape), offset = 0, size = rows * cols } }
  local total = rows * cols
  local state_layer = {}
  for _, st in ipairs(model.state_inputs or {}) do
    local units = st.output_shapes[1][2]
    inputs[#inputs + 1] = { shape = { units }, offset = total, size = units }
    state_layer[#inputs] = st
    total = total + units
  end
  local x
  if #inputs == 1 then
    x = ir.buffer(prog, "x", "act", rows, cols, { model_input = true, meaning = "the input" })
  else
    x = ir.buffer(prog, "x", "act", 1, total, { model_input = true, meaning = "the inputs, one after the other" })
  end
  local state_view = {}
  for k, d in ipairs(inputs) do
    if state_layer[k] then state_view[state_layer[k]] = ir.view(x.buf, d.offset, 1, d.size, d.size, 1) end
  end
  local cur = #inputs == 1 and x or ir.view(x.buf, 0, rows, cols, cols, 1)
  local outputs, logits = emit_layers(model, g, cur, function(layer)
    if not layer.initial_inputs then return nil end
    local initial = {}
    for k, st in ipairs(layer.initial_inputs) do
      initial[k] = state_view[st]
    end
    return initial
  end)
  -- The model's outputs, one after the other in y (Keras order).
  local picks = model.output_picks or { 1 }
  local views, out_total = {}, 0
  for k, idx in ipairs(picks) do
    views[k] = outputs[idx]
    out_total = out_total + ir.count(outputs[idx])
  end
  g:set_layer("output")
  local y
  if #views == 1 then
    y = ir.buffer(prog, "y", "output", views[1].dims[1], views[1].dims[2])
  else
    y = ir.buffer(prog, "y", "output", 1, out_total)
  end
  local out_descs, out_offset = {}, 0
  local last_shapes = model.layers[#model.layers].output_shapes
  for k, v in ipairs(views) do
    local vrows, vcols = v.dims[1], v.dims[2]
    local part = #views == 1 and y or ir.view(y.buf, out_offset, vrows, vcols, vcols, 1)
    g:per_row(vrows, function(sel)
      g:map(sel(part), ir.E.arg(1), { sel(v) }, false, #views == 1 and "the model's output" or
        string.format("the model's output %d", k))
    end)
    local shape = sample_shape(last_shapes[picks[k]])
    for i, d in ipairs(shape) do
      if d == util.None then shape[i] = x_shape[1] end
    end
    out_descs[k] = { shape = shape, offset = out_offset, size = vrows * vcols, rows = vrows, cols = vcols }
    out_offset = out_offset + vrows * vcols
  end
  g:set_layer(nil)

  local config = training.interface(model.compiled, model.fit_defaults)
  -- Keras computes the crossentropy of a softmax or sigmoid output from its
  -- logits (unclipped): the backward pass then starts from the logits.
  local loss = config.loss
  if logits and #views > 1 then logits = nil end
  local fused = loss and not loss.from_logits and logits and (
    (logits.activation == "softmax" and
      (loss.kind == "sparse_categorical_crossentropy" or loss.kind == "categorical_crossentropy"))
    or (logits.activation == "sigmoid" and loss.kind == "binary_crossentropy"))
  if loss then loss.fused = fused and true or false end

  local stream, no_stream = lower.stream(model, x_shape, params)
  return {
    prog = prog,
    forward = prog.ops,
    x = x,
    y = y,
    logits = fused and logits.view or nil,
    stream = stream,
    no_stream = no_stream,
    interface = {
      batch = batch,
      x_shape = x_shape,
      y_shape = out_descs[1].shape,
      variable = variable,
      max_steps = prog.max_steps,
      inputs = inputs,
      outputs = out_descs,
      params = params,
      n_params = n_params,
      training = config,
    },
  }
end

-- Streaming inference: the forward program of ONE timestep of one sample.
-- Every recurrent layer starts from the states the caller keeps (a "state"
-- buffer) and leaves its new states there, so that calls chained over the
-- steps of a sequence give, at each step, the model's output for the
-- sequence ending there. Returns nil and the reason for a model that cannot
-- run that way (it needs later steps, or has no time axis).
function lower.stream(model, x_shape, params)
  if #x_shape ~= 2 then return nil, "the input has no time axis" end
  if model.state_inputs and #model.state_inputs > 0 then
    return nil, "the model takes its initial states as inputs"
  end
  for _, layer in ipairs(model.layers) do
    local why = layer.module.stream_refusal and layer.module.stream_refusal(layer)
    if why then return nil, why end
  end
  local prog = ir.new_program()
  prog.max_steps = 1
  local g = Builder.new(prog, params)
  g.streaming = true
  local x = ir.buffer(prog, "x", "input", 1, x_shape[2])
  local states = {}
  local outputs, _, final_states = emit_layers(model, g, x, function(layer)
    if layer.module.stream_state then
      -- a layer that keeps and updates its own state (a convolution's
      -- receptive field, a global pooling's running reduction)
      local d = layer.module.stream_state(layer)
      if not d then return nil end
      local buf = ir.buffer(prog, "state:" .. layer.name, "state", d.rows, d.cols, { ring = d.ring,
        meaning = d.meaning }).buf
      return { ir.full(buf) }
    end
    if not layer.module.recurrent then return nil end
    local n, units = layer.module.n_states or 1, layer.args.units
    local buf = ir.buffer(prog, "state:" .. layer.name, "state", 1, n * units,
      { meaning = string.format("%s's states (%s), kept between calls", layer.name,
        n == 2 and "h, c" or "h") }).buf
    states[#states + 1] = { layer = layer, buf = buf, n = n, units = units }
    -- the layer writes its new states over the old ones (in_place)
    local views = { in_place = true }
    for k = 1, n do
      views[k] = ir.view(buf, (k - 1) * units, 1, units, units, 1)
    end
    return views
  end)
  -- A layer that did not write its new states in place: they replace the
  -- old ones once everything has read them.
  for _, st in ipairs(states) do
    local final = final_states[st.layer]
    g:set_layer(st.layer.name)
    for j = 1, st.n do
      local keep = ir.view(st.buf, (j - 1) * st.units, 1, st.units, st.units, 1)
      if final[j].buf ~= keep.buf or final[j].off ~= keep.off then
        g:map(keep, ir.E.arg(1), { final[j] }, false, "keep the new state for the next call")
      end
    end
  end
  g:set_layer("output")
  local picks = model.output_picks or { 1 }
  local total = 0
  for _, idx in ipairs(picks) do
    total = total + ir.count(outputs[idx])
  end
  local y = ir.buffer(prog, "y", "output", 1, total)
  local off = 0
  for _, idx in ipairs(picks) do
    local v = outputs[idx]
    if v.dims[1] ~= 1 then error("internal: a streaming output has more than one row") end
    g:map(ir.view(y.buf, off, 1, v.dims[2], v.dims[2], 1), ir.E.arg(1), { v }, false, "the model's output")
    off = off + v.dims[2]
  end
  return { prog = prog, forward = prog.ops, x = x, y = y, states = states, input_size = x_shape[2],
    output_size = total }
end

return lower
