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
local functional = require("functional")
local rules = require("layers.rules")

local lower = {}

-- Per-sample shape: the Keras shape without its batch dimension.
local function sample_shape(shape)
  local s = {}
  for i = 2, #shape do
    s[#s + 1] = shape[i]
  end
  return s
end

lower.graph = functional.graph

-- A buffer prefix for each call of a layer (functional.call_prefixes).
local call_prefixes = functional.call_prefixes
lower.call_prefixes = call_prefixes

-- Emits every node of the graph onto g. `value` maps the input tensors to
-- their views; initial_for(node, views) gives the views a recurrent call
-- starts from (nil: zeros), from the views of its initial_state tensors.
-- Returns the views of the output tensors, each output's logits (when its
-- activation can be fused with a loss) and each recurrent call's final states.
-- Keras's masks along the graph (keras/src/layers/layer.py Layer.__call__):
-- a layer whose emit returns `masks` made or consumed them (Masking, the
-- recurrent layers, Bidirectional: `recurrent` or `takes_mask`, they read
-- the input mask, emit's sixth argument); a layer with `passes_mask` (Keras's supports_masking with the
-- default compute_mask) gives its output its input's mask. Any other layer
-- that receives a mask is refused: Keras 3 drops the mask of a layer that
-- does not support masking, with a warning, and uses it in others
-- (pooling, merges, BatchNormalization's moments), which rnnc does not
-- implement yet.
local function mask_refusal(layer)
  util.fail(layer.at, "%s after a mask (Masking, Embedding's mask_zero) is not implemented in rnnc: Keras %s; "
    .. "put the layer before the mask or after a recurrent layer without return_sequences", layer.module.class,
    layer.module.mask_note or "either uses the mask in this layer or drops it with a warning")
end

local function emit_nodes(graph, g, value, initial_for)
  local prefixes = call_prefixes(graph)
  local logits, final_states = {}, {}
  local masks = {}
  -- Keras's activity_regularizer of each call (Layer.__call__ adds the
  -- regularizer of every output to the layer's losses)
  local activity = {}
  local function view_of(t)
    local v = value[functional.resolve(t)]
    if not v then error("internal: a tensor is read before it is computed") end
    return v
  end
  for _, node in ipairs(graph.nodes) do
    local layer = node.layer
    if not layer.module.emit then
      util.fail(layer.at, "code generation for %s is not implemented yet (rnnc summary works for it)",
        layer.module.class)
    end
    local ins, states = functional.node_tensors(node, view_of)
    local in_mask
    for i, t in ipairs(node.inputs) do
      local m = masks[functional.resolve(t)]
      if m and layer.module.takes_input_masks then
        -- the attention layers: the mask of each input, by position
        in_mask = in_mask or {}
        in_mask[i] = m
      elseif m then
        if i > 1 or layer.module.several_inputs then mask_refusal(layer) end
        in_mask = m
      end
    end
    for _, t in ipairs(node.states or {}) do
      if masks[functional.resolve(t)] then mask_refusal(layer) end
    end
    local m = layer.module
    if in_mask and not (m.passes_mask or m.takes_mask or m.takes_input_masks or m.recurrent) then
      mask_refusal(layer)
    end
    g:set_layer(prefixes[node])
    local result = layer.module.emit(layer, g, layer.module.several_inputs and ins or ins[1], prefixes[node],
      initial_for(node, states), in_mask, node)
    g:set_layer(nil)
    for i, v in ipairs(result.outputs) do
      value[node.outputs[i]] = v
    end
    if result.masks then
      for i, mk in pairs(result.masks) do
        masks[node.outputs[i]] = mk
      end
    elseif m.passes_mask and in_mask then
      masks[node.outputs[1]] = in_mask
    end
    if result.logits then
      logits[node.outputs[1]] = { view = result.logits, activation = result.logits_activation }
    end
    if result.final_states then final_states[node] = result.final_states end
    local reg = rules.activity_of(layer)
    if reg then
      if #result.outputs > 1 then
        util.fail(layer.at, "activity_regularizer on %s with several outputs (return_state) is not implemented "
          .. "in rnnc: Keras adds the penalty of every output, states included", layer.module.class)
      end
      -- (a time axis of None: a unit of variable length, whose first L rows count)
      local shape = node.outputs[1].shape or {}
      activity[#activity + 1] = { view = result.outputs[1], l1 = reg.l1, l2 = reg.l2, name = prefixes[node],
        per_length = #shape == 3 and shape[2] == util.None }
    end
  end
  local outputs, out_logits, out_masks = {}, {}, {}
  for k, t in ipairs(graph.outputs) do
    outputs[k] = view_of(t)
    out_logits[k] = logits[functional.resolve(t)]
    out_masks[k] = masks[functional.resolve(t)]
  end
  return outputs, out_logits, final_states, out_masks, activity
end

-- The parameters in one flat vector: layers in the order they are first
-- called, weights in Keras's order. Returns the list of {name, shape, offset, size, init} and the count.
local function param_layout(model)
  local params, n = {}, 0
  local seen = {}
  for _, node in ipairs(lower.graph(model).nodes) do
    local layer = node.layer
    for _, w in ipairs(not seen[layer] and layer.weights or {}) do
      local size = util.product(w.shape)
      params[#params + 1] = { name = w.name, shape = util.copy(w.shape), offset = n, size = size, init = w.init,
        trainable = w.trainable ~= false, rule = w.rule }
      n = n + size
    end
    seen[layer] = true
  end
  return params, n
end

-- The model's inputs that hold integer tokens: {[input index] = the rows
-- of the smallest table that reads it}. Only an Embedding reads tokens
-- (its module's integer_input), and it reads a model input; a model with
-- tokens takes no other input (the C API's x is all int32_t).
local function integer_inputs(graph)
  local vocab = {}
  local function input_index(t)
    t = functional.resolve(t)
    for i, it in ipairs(graph.input_tensors) do
      if functional.resolve(it) == t then return i end
    end
    return nil
  end
  for _, node in ipairs(graph.nodes) do
    local layer = node.layer
    if layer.module.integer_input then
      local i = input_index(node.inputs[1])
      if not i then
        util.fail(layer.at, "%s must read the model's input (its integer tokens): an %s after another layer "
          .. "is not supported", layer.module.class, layer.module.class)
      end
      vocab[i] = math.min(vocab[i] or math.huge, layer.args.input_dim)
    end
  end
  for _, node in ipairs(graph.nodes) do
    if not node.layer.module.integer_input then
      for _, t in ipairs(node.inputs) do
        local i = input_index(t)
        if i and vocab[i] then
          util.fail(node.layer.at, "input '%s' holds integer tokens (it feeds an Embedding), which only an "
            .. "Embedding can read", graph.inputs[i].name)
        end
      end
    end
  end
  for i, input in ipairs(graph.inputs) do
    if input.integer and not vocab[i] then
      util.fail(input.at, "input '%s' is declared integer (dtype int32/int64) but feeds no Embedding: rnnc reads "
        .. "integer tokens only through an Embedding (write dtype = \"float32\")", input.name)
    end
  end
  if next(vocab) and #graph.inputs > 1 then
    util.fail(graph.inputs[1].at or graph.nodes[1].layer.at, "a model whose input is integer tokens (an "
      .. "Embedding's) takes no other input: several inputs with an Embedding are not supported yet")
  end
  return vocab
end
lower.integer_inputs = integer_inputs

-- The batch size and every input's per-sample shape. A time dimension of
-- None becomes --timesteps T (any length up to T at run time, the same L for
-- every such input).
local function input_shapes(graph, opts, vocab)
  local batch, at_batch = nil, nil
  local shapes, variable = {}, false
  local fixed_seq, none_seq
  for i, input in ipairs(graph.inputs) do
    local shape = input.output_shapes[1]
    local at = input.at or graph.nodes[1].layer.at
    if shape[1] ~= util.None then
      if batch and batch ~= shape[1] then
        util.fail(at, "the inputs give two batch sizes, %d and %d", batch, shape[1])
      end
      batch, at_batch = shape[1], at
    end
    local s = sample_shape(shape)
    if #s > 2 then util.fail(at, "inputs of rank > 2 per sample are not supported") end
    -- tokens (timesteps,): their first dimension is time
    local seq_rank = vocab[i] and 1 or 2
    for d, v in ipairs(s) do
      if v == util.None then
        if d == 1 and #s == seq_rank and opts.timesteps then
          s[d] = opts.timesteps
          variable = true
          none_seq = none_seq or input.name
        else
          util.fail(at, "the input shape %s%s has an unknown dimension; pass --timesteps T to generate "
            .. "code for sequences of length T", util.shape_str(shape),
            #graph.inputs > 1 and (" of input '" .. input.name .. "'") or "")
        end
      elseif d == 1 and #s == seq_rank then
        fixed_seq = fixed_seq or input.name
      end
    end
    shapes[i] = s
  end
  if variable and fixed_seq then
    util.fail(graph.inputs[1].at or graph.nodes[1].layer.at, "input '%s' has None timesteps and input '%s' a "
      .. "fixed number: a unit runs one length at a time; give both inputs the same kind of time dimension",
      none_seq, fixed_seq)
  end
  if opts.batch and batch and opts.batch ~= batch then
    util.fail(at_batch, "--batch %d contradicts batch_input_shape's batch size %d", opts.batch, batch)
  end
  return batch or opts.batch or 32, shapes, variable
end

-- Resolves the batch size and the sequence length, lays out the parameters
-- and emits the forward program. opts: batch, timesteps.
function lower.build(model, opts)
  local graph = lower.graph(model)
  local vocab = integer_inputs(graph)
  local batch, shapes, variable = input_shapes(graph, opts, vocab)
  local params, n_params = param_layout(model)
  if n_params == 0 then
    util.fail(graph.nodes[1] and graph.nodes[1].layer.at or model.at, "the model has no weights: rnnc "
      .. "generates code for models with at least one (add a "
      .. "layer that has weights: Dense, a recurrent layer, a convolution, a normalisation or PReLU)")
  end

  local prog = ir.new_program()
  prog.variable = variable
  -- the length of the sequences (the first sequence input's)
  prog.max_steps = 1
  for i, s in ipairs(shapes) do
    if #s == 2 or vocab[i] then
      prog.max_steps = s[1]
      break
    end
  end
  local g = Builder.new(prog, params)
  -- The inputs, kept in scratch (the backward pass reads them), one after
  -- the other in the model's order; their gradients come out the same way in
  -- dx.
  local inputs, total = {}, 0
  for i, s in ipairs(shapes) do
    local rows, cols = #s == 2 and s[1] or 1, s[#s]
    -- tokens: one per row
    if vocab[i] then rows, cols = s[1], 1 end
    inputs[i] = { name = graph.inputs[i].name, shape = util.copy(s), offset = total, size = rows * cols,
      rows = rows, cols = cols, vocab = vocab[i] }
    total = total + rows * cols
  end
  local x
  local value = {}
  if #inputs == 1 then
    x = ir.buffer(prog, "x", "act", inputs[1].rows, inputs[1].cols, { model_input = true,
      meaning = vocab[1] and "the input tokens" or "the input", int = vocab[1] })
    value[graph.input_tensors[1]] = x
  else
    x = ir.buffer(prog, "x", "act", 1, total, { model_input = true, meaning = "the inputs, one after the other" })
    for i, d in ipairs(inputs) do
      value[graph.input_tensors[i]] = ir.view(x.buf, d.offset, d.rows, d.cols, d.cols, 1)
    end
  end
  local outputs, logits, _, out_masks, activity = emit_nodes(graph, g, value, function(_, states)
    return states
  end)
  -- The activity regularizers' gradients (d(penalty)/d(output), which
  -- loss_grad writes before its backward pass: the seeds autodiff adds).
  for _, a in ipairs(activity) do
    a.grad = ir.buffer(prog, a.name .. "/activity_grad", "act", a.view.dims[1], a.view.dims[2],
      { meaning = "d(activity penalty)/d(output)" })
  end
  -- The model's outputs, one after the other in y (Keras order).
  local out_total = 0
  for _, v in ipairs(outputs) do
    out_total = out_total + ir.count(v)
  end
  g:set_layer("output")
  local y
  if #outputs == 1 then
    y = ir.buffer(prog, "y", "output", outputs[1].dims[1], outputs[1].dims[2])
  else
    y = ir.buffer(prog, "y", "output", 1, out_total)
  end
  local out_descs, out_offset = {}, 0
  for k, v in ipairs(outputs) do
    local vrows, vcols = v.dims[1], v.dims[2]
    local part = #outputs == 1 and y or ir.view(y.buf, out_offset, vrows, vcols, vcols, 1)
    g:per_row(vrows, function(sel)
      g:map(sel(part), ir.E.arg(1), { sel(v) }, false, #outputs == 1 and "the model's output" or
        string.format("the model's output %d, %s", k, graph.output_names[k]))
    end)
    local shape = sample_shape(graph.outputs[k].shape)
    for i, d in ipairs(shape) do
      if d == util.None then shape[i] = prog.max_steps end
    end
    out_descs[k] = { name = graph.output_names[k], shape = shape, offset = out_offset, size = vrows * vcols,
      rows = vrows, cols = vcols }
    out_offset = out_offset + vrows * vcols
  end
  g:set_layer(nil)

  -- The forward programs: ops of one mode only go to one of them (a layer
  -- that computes differently in training: BatchNormalization).
  -- (A time loop's body may hold ops of one mode: a recurrent layer's
  -- dropout; the loop is then copied with the body of each program.)
  local forward, forward_train = prog.ops, nil
  local function has_mode(list)
    for _, op in ipairs(list) do
      if op.mode or (op.op == "loop" and has_mode(op.body)) then return true end
    end
    return false
  end
  local function without(list, mode)
    local out = {}
    for _, op in ipairs(list) do
      if op.mode ~= mode then
        if op.op == "loop" and has_mode(op.body) then
          local copy = {}
          for k, v in pairs(op) do
            copy[k] = v
          end
          copy.body = without(op.body, mode)
          op = copy
        end
        out[#out + 1] = op
      end
    end
    return out
  end
  if has_mode(prog.ops) then
    forward = without(prog.ops, "train")
    forward_train = without(prog.ops, "infer")
  end

  local config = training.interface(model.compiled, model.fit_defaults, graph.output_names)
  -- Each loss starts the backward pass from its output, or, as Keras
  -- computes the crossentropy of a softmax or sigmoid output from its logits
  -- (unclipped), from the logits.
  local seeds = {}
  for k, part in ipairs(config.losses or {}) do
    if part.kind then
      local lg = logits[k]
      local fused = not part.from_logits and lg ~= nil and (
        (lg.activation == "softmax" and
          (part.kind == "sparse_categorical_crossentropy" or part.kind == "categorical_crossentropy"))
        or (lg.activation == "sigmoid" and part.kind == "binary_crossentropy"))
      part.fused = fused
      seeds[#seeds + 1] = { output = k, view = fused and lg.view or outputs[k] }
    end
  end
  -- Each loss's targets, one after the other per sample: class labels of
  -- the output's rows for sparse crossentropy, else the output's shape. A
  -- sequence output of a unit of variable length has L of its rows.
  local target_total = 0
  for k, part in ipairs(config.losses or {}) do
    local d = out_descs[k]
    part.rows, part.cols, part.output_offset = d.rows, d.cols, d.offset
    part.sequence = variable and #d.shape == 2 and d.rows == prog.max_steps
    -- a masked output's loss weighs its rows by the mask (cwriter/unit.lua)
    part.masked = out_masks[k] ~= nil and part.kind ~= nil or nil
    if part.kind then
      part.target_offset = target_total
      part.target_size = part.kind == "sparse_categorical_crossentropy" and d.rows or d.size
      target_total = target_total + part.target_size
    end
  end
  config.target_size = target_total

  local stream, no_stream = lower.stream(model, shapes, params, vocab)
  return {
    prog = prog,
    forward = forward,
    -- (nil when training computes what inference does)
    forward_train = forward_train,
    -- the moving statistics a training step updates: {param = its layout
    -- record, buf = the batch buffer forward_train leaves its new value in}
    stat_updates = g.stat_updates,
    x = x,
    y = y,
    loss_seeds = seeds,
    -- each output's mask (a rows x 1 view of 0/1), or nil
    output_masks = out_masks,
    -- Keras's activity_regularizer of each call: {view (the call's output),
    -- grad (a buffer of its dims), l1, l2, name, per_length (its rows are
    -- the run-time length L)}
    activity = activity,
    stream = stream,
    no_stream = no_stream,
    interface = {
      batch = batch,
      x_shape = shapes[1],
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
-- Every recurrent call starts from the states the caller keeps (a "state"
-- buffer per call) and leaves its new states there, so that calls chained
-- over the steps of a sequence give, at each step, the model's output for
-- the sequence ending there. Every input is a sequence; the step's input is
-- one row of each, one after the other. Returns nil and the reason for a
-- model that cannot run that way (it needs later steps, an input without a
-- time axis, or initial states from elsewhere).
function lower.stream(model, shapes, params, vocab)
  local graph = lower.graph(model)
  vocab = vocab or {}
  for i, s in ipairs(shapes) do
    if #s ~= 2 and not vocab[i] then
      return nil, #shapes == 1 and "the input has no time axis" or
        string.format("the input '%s' has no time axis", graph.inputs[i].name)
    end
  end
  for _, node in ipairs(graph.nodes) do
    if node.states then return nil, "the model takes its initial states as inputs" end
    local why = node.layer.module.stream_refusal and node.layer.module.stream_refusal(node.layer, node)
    if why then return nil, why end
  end
  local prog = ir.new_program()
  prog.max_steps = 1
  local g = Builder.new(prog, params)
  g.streaming = true
  local in_size = 0
  for i, s in ipairs(shapes) do
    in_size = in_size + (vocab[i] and 1 or s[2])
  end
  -- (tokens: one per step, as a 1 x 1 column the Embedding reads)
  local x = ir.buffer(prog, "x", "input", 1, in_size, { int = vocab[1] })
  local value, off = {}, 0
  for i, s in ipairs(shapes) do
    value[graph.input_tensors[i]] = #shapes == 1 and x or ir.view(x.buf, off, 1, s[2], s[2], 1)
    off = off + (vocab[i] and 1 or s[2])
  end
  local prefixes = call_prefixes(graph)
  local states = {}
  local outputs, _, final_states = emit_nodes(graph, g, value, function(node)
    local layer = node.layer
    if layer.module.stream_state then
      -- a layer that keeps and updates its own state (a convolution's
      -- receptive field, a global pooling's running reduction)
      local d = layer.module.stream_state(layer)
      if not d then return nil end
      local buf = ir.buffer(prog, "state:" .. prefixes[node], "state", d.rows, d.cols, { ring = d.ring,
        meaning = d.meaning }).buf
      return { ir.full(buf) }
    end
    if not layer.module.recurrent then return nil end
    local n, units = layer.module.n_states or 1, layer.args.units
    local name = prefixes[node]
    local buf = ir.buffer(prog, "state:" .. name, "state", 1, n * units,
      { meaning = string.format("%s's states (%s), kept between calls", name, n == 2 and "h, c" or "h") }).buf
    states[#states + 1] = { node = node, name = name, buf = buf, n = n, units = units }
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
    local final = final_states[st.node]
    g:set_layer(st.name)
    for j = 1, st.n do
      local keep = ir.view(st.buf, (j - 1) * st.units, 1, st.units, st.units, 1)
      if final[j].buf ~= keep.buf or final[j].off ~= keep.off then
        g:map(keep, ir.E.arg(1), { final[j] }, false, "keep the new state for the next call")
      end
    end
  end
  g:set_layer("output")
  local total = 0
  for _, v in ipairs(outputs) do
    total = total + ir.count(v)
  end
  local y = ir.buffer(prog, "y", "output", 1, total)
  off = 0
  for _, v in ipairs(outputs) do
    if v.dims[1] ~= 1 then error("internal: a streaming output has more than one row") end
    g:map(ir.view(y.buf, off, 1, v.dims[2], v.dims[2], 1), ir.E.arg(1), { v }, false, "the model's output")
    off = off + v.dims[2]
  end
  return { prog = prog, forward = prog.ops, x = x, y = y, states = states, input_size = in_size,
    output_size = total }
end

return lower
