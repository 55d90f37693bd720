-- Lowers a built model to IR programs: forward, backward from the output, and
-- (for Keras's fused softmax + crossentropy) backward from the logits. Knows
-- nothing of C.
local ir = require("ir")
local util = require("util")
local Builder = require("builder")
local autodiff = require("autodiff")
local simplify = require("simplify")
local layout = require("layout")

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
-- outputs and, when its activation can be fused with the loss, its logits.
local function emit_layers(model, g, cur, initial_for)
  local logits, outputs = nil, nil
  for i, layer in ipairs(model.layers) do
    if not layer.module.emit then
      util.fail(layer.at, "code generation for %s is not implemented yet (rnnc summary works for it)",
        layer.module.class)
    end
    local lg
    outputs, lg = layer.module.emit(layer, g, cur, layer.name, initial_for(layer))
    cur = outputs[1]
    logits = (i == #model.layers) and lg or nil
    if logits then logits.activation = layer.module.class == "TimeDistributed"
      and layer.args.layer.args.activation or layer.args.activation end
  end
  return outputs, logits
end

-- Resolves the batch size and the sequence length, lays out the parameters.
-- opts: batch, timesteps, unroll. Returns the unit description the C writer needs.
function lower.unit(model, opts)
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

  -- Parameters: one flat vector, layers in order, weights in Keras's order.
  local weights, n_params = {}, 0
  for _, layer in ipairs(model.layers) do
    for _, w in ipairs(layer.weights or {}) do
      w.offset = n_params
      w.size = util.product(w.shape)
      n_params = n_params + w.size
      weights[#weights + 1] = w
    end
  end

  local prog = ir.new_program()
  prog.variable = variable
  prog.max_steps = #x_shape == 2 and x_shape[1] or 1
  local g = Builder.new(prog)
  local rows = #x_shape == 2 and x_shape[1] or 1
  local cols = x_shape[#x_shape]
  -- The inputs, kept in scratch (the backward pass reads them): the main
  -- input, then the initial states of each layer that takes them, one after
  -- the other; their gradients come out the same way in dx.
  local in_descs = { { shape = util.copy(x_shape), offset = 0, size = rows * cols } }
  local total = rows * cols
  for _, st in ipairs(model.state_inputs or {}) do
    local units = st.output_shapes[1][2]
    in_descs[#in_descs + 1] = { shape = { units }, offset = total, size = units, layer = st }
    total = total + units
  end
  local x
  if #in_descs == 1 then
    x = ir.buffer(prog, "x", "act", rows, cols, { model_input = true })
  else
    x = ir.buffer(prog, "x", "act", 1, total, { model_input = true })
  end
  local state_view = {}
  for _, d in ipairs(in_descs) do
    if d.layer then state_view[d.layer] = ir.view(x.buf, d.offset, 1, d.size, d.size, 1) end
  end
  local cur = #in_descs == 1 and x or ir.view(x.buf, 0, rows, cols, cols, 1)
  local outputs, logits = emit_layers(model, g, cur, function(layer)
    if not layer.initial_inputs then return nil end
    local initial = {}
    for k, st in ipairs(layer.initial_inputs) do
      initial[k] = state_view[st]
    end
    return initial
  end)
  cur = outputs[1]
  -- The model's outputs, one after the other in y (Keras order).
  local picks = model.output_picks or { 1 }
  local views, out_total = {}, 0
  for k, idx in ipairs(picks) do
    views[k] = outputs[idx]
    out_total = out_total + ir.count(outputs[idx])
  end
  local y
  local out_descs = {}
  local last_shapes = model.layers[#model.layers].output_shapes
  if #views == 1 then
    y = ir.buffer(prog, "y", "output", cur.dims[1], cur.dims[2])
    g:per_row(views[1].dims[1], function(sel)
      g:map(sel(y), ir.E.arg(1), { sel(views[1]) })
    end)
  else
    if logits then error("internal: several outputs after a softmax") end
    y = ir.buffer(prog, "y", "output", 1, out_total)
  end
  local out_offset = 0
  for k, v in ipairs(views) do
    local vrows, vcols = v.dims[1], v.dims[2]
    if #views > 1 then
      local part = ir.view(y.buf, out_offset, vrows, vcols, vcols, 1)
      g:per_row(vrows, function(sel)
        g:map(sel(part), ir.E.arg(1), { sel(v) })
      end)
    end
    local shape = sample_shape(last_shapes[picks[k]])
    for i, d in ipairs(shape) do
      if d == util.None then shape[i] = x_shape[1] end
    end
    out_descs[k] = { shape = shape, offset = out_offset, size = vrows * vcols, rows = vrows, cols = vcols }
    out_offset = out_offset + vrows * vcols
  end
  local fwd_raw = prog.ops

  local unit = {
    model = model,
    batch = batch,
    x_shape = x_shape,
    weights = weights,
    n_params = n_params,
    prog = prog,
    x = x,
    y = y,
    outputs = out_descs,
    inputs = in_descs,
    variable = variable,
    max_steps = prog.max_steps,
  }
  unit.y_shape = out_descs[1].shape
  unit.forward = simplify.run(prog, fwd_raw)

  local wrt, grad_of = { x.buf }, {}
  for _, w in ipairs(weights) do
    local pbuf = prog.by_name[w.name]
    if pbuf then
      wrt[#wrt + 1] = pbuf
      ir.buffer(prog, "g:" .. w.name, "pgrad", pbuf.rows, pbuf.cols, { weight = w })
      grad_of[pbuf] = prog.by_name["g:" .. w.name]
    end
  end
  ir.buffer(prog, "dx", "output", x.dims[1], x.dims[2])
  grad_of[x.buf] = prog.by_name["dx"]
  unit.dx = ir.full(prog.by_name["dx"])

  -- Differentiate the simplified forward program: what it no longer computes
  -- needs no gradient.
  local dy = ir.buffer(prog, "dy", "input", y.dims[1], y.dims[2])
  unit.backward = simplify.run(prog, autodiff.backward(prog, unit.forward, y, dy, wrt, grad_of))
  unit.dy = dy

  local loss = model.compiled and model.compiled.loss
  local from_logits = model.compiled and model.compiled.from_logits
  local fuse = not from_logits and logits and (
    (logits.activation == "softmax" and
      (loss == "sparse_categorical_crossentropy" or loss == "categorical_crossentropy"))
    or (logits.activation == "sigmoid" and loss == "binary_crossentropy"))
  if fuse then
    -- Keras computes the crossentropy of a softmax or sigmoid output from its
    -- logits (no clipping there).
    local dl = ir.buffer(prog, "dlogits", "input", logits.dims[1], logits.dims[2])
    -- Everything after the logits (the softmax, the output copy) is not
    -- relevant to them, so autodiff leaves it out.
    local upto = unit.forward
    unit.backward_logits = simplify.run(prog, autodiff.backward(prog, upto, logits, dl, wrt, grad_of))
    unit.logits = logits
    unit.dlogits = dl
  end
  -- products by a transposed weight read a transposed copy instead
  local min_size = opts.unroll or 64
  unit.backward = layout.transpose_weights(prog, layout.hoist_weight_gradients(unit.backward), min_size)
  if unit.backward_logits then
    unit.backward_logits = layout.transpose_weights(prog, layout.hoist_weight_gradients(unit.backward_logits),
      min_size)
  end
  unit.stream, unit.no_stream = lower.stream(model, x_shape)
  return unit
end

-- Streaming inference: the forward program of ONE timestep of one sample.
-- Every recurrent layer starts from the states the caller keeps (a "state"
-- buffer) and leaves its new states there, so that calls chained over the
-- steps of a sequence give, at each step, the model's output for the
-- sequence ending there. Returns nil and the reason for a model that cannot
-- run that way (it needs later steps, or has no time axis).
function lower.stream(model, x_shape)
  if #x_shape ~= 2 then return nil, "the input has no time axis" end
  if model.state_inputs and #model.state_inputs > 0 then
    return nil, "the model takes its initial states as inputs"
  end
  for _, layer in ipairs(model.layers) do
    if layer.module.class == "Bidirectional" then
      return nil, string.format("layer '%s' (Bidirectional) reads the whole sequence", layer.name)
    end
    if layer.args.go_backwards then
      return nil, string.format("layer '%s' has go_backwards=true and reads the whole sequence", layer.name)
    end
  end
  local prog = ir.new_program()
  prog.max_steps = 1
  local g = Builder.new(prog)
  g.final_states = {}
  local x = ir.buffer(prog, "x", "input", 1, x_shape[2])
  local states = {}
  local outputs = emit_layers(model, g, x, function(layer)
    if not layer.module.recurrent then return nil end
    local n, units = layer.module.n_states or 1, layer.args.units
    local buf = ir.buffer(prog, "state:" .. layer.name, "state", 1, n * units).buf
    states[#states + 1] = { layer = layer, buf = buf, n = n, units = units }
    local views = {}
    for k = 1, n do
      views[k] = ir.view(buf, (k - 1) * units, 1, units, units, 1)
    end
    return views
  end)
  -- The new states replace the old ones once everything has read them.
  for k, st in ipairs(states) do
    local final = g.final_states[k]
    if not final or final.layer ~= st.layer then error("internal: final states out of layer order") end
    for j = 1, st.n do
      g:map(ir.view(st.buf, (j - 1) * st.units, 1, st.units, st.units, 1), ir.E.arg(1), { final.rows[j] })
    end
  end
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
    g:map(ir.view(y.buf, off, 1, v.dims[2], v.dims[2], 1), ir.E.arg(1), { v })
    off = off + v.dims[2]
  end
  return { prog = prog, forward = simplify.run(prog, prog.ops), x = x, y = y, states = states,
    input_size = x_shape[2], output_size = total }
end

return lower

