-- Bidirectional(layer, merge_mode="concat"): a forward and a backward copy of a
-- recurrent layer, weights named <name>/forward_<inner>/... and
-- <name>/backward_<inner>/... The backward copy reads the sequence reversed
-- (go_backwards flipped); with return_sequences its output is reversed back so
-- that step t of both directions line up, then the two are merged.
local util = require("util")
local rules = require("layers.rules")
local ir = require("ir")

local E = ir.E

local Bidirectional = {
  class = "Bidirectional",
  default_name = "bidirectional",
  positional = { "layer" },
  args = {
    layer = { "layer" },
    merge_mode = { "merge_mode", "concat" },
  },
  wrapper = true,
  takes_mask = true,
}

function Bidirectional.stream_refusal(layer)
  return string.format("layer '%s' (Bidirectional) reads the whole sequence", layer.name)
end

-- A copy of the wrapped layer for one direction, with its own weights.
local function direction(inner, prefix, shape, flip)
  local copy = util.copy(inner)
  copy.args = util.copy(inner.args)
  if flip then copy.args.go_backwards = not copy.args.go_backwards end
  -- Keras 3 Bidirectional.__init__ (keras/src/layers/rnn/bidirectional.py,
  -- force_zero_output_for_mask): a masked step's output is zeros in both
  -- directions when they return sequences
  copy.args.zero_output_for_mask = copy.args.return_sequences
  local outs = inner.module.build(copy, shape, prefix)
  return copy, outs
end

function Bidirectional.build(layer, shape, prefix)
  local inner = layer.args.layer
  if rules.activity_of(inner) then
    util.fail(layer.at, "activity_regularizer on the layer Bidirectional wraps is not implemented in rnnc: "
      .. "Keras applies it to each direction's output inside the wrapper")
  end
  if not inner.module.recurrent then
    util.fail(layer.at, "Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got %s",
      inner.module.class)
  end
  local fwd, fwd_out = direction(inner, prefix .. "/forward_" .. inner.name, shape, false)
  local bwd, bwd_out = direction(inner, prefix .. "/backward_" .. inner.name, shape, true)
  layer.forward_layer, layer.backward_layer = fwd, bwd
  layer.weights = {}
  for _, w in ipairs(fwd.weights) do
    layer.weights[#layer.weights + 1] = w
  end
  for _, w in ipairs(bwd.weights) do
    layer.weights[#layer.weights + 1] = w
  end
  local mode = layer.args.merge_mode
  local shapes
  if mode == "none" then
    shapes = { fwd_out[1], bwd_out[1] }
  else
    local out = util.copy(fwd_out[1])
    if mode == "concat" then out[#out] = out[#out] * 2 end
    shapes = { out }
  end
  for i = 2, #fwd_out do
    shapes[#shapes + 1] = fwd_out[i]
  end
  for i = 2, #bwd_out do
    shapes[#shapes + 1] = bwd_out[i]
  end
  layer.n_outputs_merged = mode == "none" and 2 or 1
  return shapes
end

local MERGE = {
  sum = E.add(E.arg(1), E.arg(2)),
  mul = E.mul(E.arg(1), E.arg(2)),
  ave = E.mul(E.const(0.5), E.add(E.arg(1), E.arg(2))),
}

-- With a mask both directions read it (the backward one reversed) and the
-- merged output keeps it with return_sequences (Bidirectional.compute_mask).
function Bidirectional.emit(layer, g, x, prefix, _, mask)
  local inner = layer.args.layer
  local fwd, bwd = layer.forward_layer, layer.backward_layer
  local f_out = inner.module.emit(fwd, g, x, prefix .. "/forward_" .. inner.name, nil, mask).outputs
  local b_out = inner.module.emit(bwd, g, x, prefix .. "/backward_" .. inner.name, nil, mask).outputs
  local f, b = f_out[1], b_out[1]
  local rows, units = f.dims[1], f.dims[2]
  local sequences = inner.args.return_sequences
  -- Row t of the merged output pairs forward step t with backward step
  -- T-1-t (L-1-t for a run-time length L).
  local variable = g.prog.variable and rows > 1
  local last_row = variable and { c = -1, l = 1 } or rows - 1
  local function b_row(t)
    if not sequences then return ir.row(b, t) end
    return ir.row(b, variable and ir.step(-1, -1, 1) or ir.step(rows - 1, -1))
  end
  local outputs
  local mode = layer.args.merge_mode
  if mode == "none" then
    local aligned = b
    if sequences then
      aligned = g:act(prefix .. "/backward_aligned", rows, units, "per step, the backward layer's output")
      g:loop(0, last_row, function(t)
        g:map(ir.row(aligned, t), E.arg(1), { b_row(t) }, false, "the backward output, in time order")
      end)
    end
    outputs = { f, aligned }
  else
    local width = mode == "concat" and 2 * units or units
    local out = g:act(prefix .. "/merged", rows, width, "per step, the merged output (" .. mode .. ")")
    g:loop(0, last_row, function(t)
      local o = ir.row(out, t)
      if mode == "concat" then
        g:map(ir.cols(o, 0, units), E.arg(1), { ir.row(f, t) }, false, "concat: the forward output")
        g:map(ir.cols(o, units, units), E.arg(1), { b_row(t) }, false, "concat: the backward output")
      else
        g:map(o, MERGE[mode], { ir.row(f, t), b_row(t) }, false, "merge: " .. mode)
      end
    end)
    outputs = { out }
  end
  for i = 2, #f_out do
    outputs[#outputs + 1] = f_out[i]
  end
  for i = 2, #b_out do
    outputs[#outputs + 1] = b_out[i]
  end
  local masks = {}
  if mask and sequences then
    masks[1] = mask
    if mode == "none" then masks[2] = mask end
  end
  return { outputs = outputs, masks = masks }
end

function Bidirectional.spec(layer, prefix, call)
  local inner = layer.args.layer
  local lines = { string.format("layer Bidirectional %s merge_mode=%s", prefix, layer.args.merge_mode) }
  -- the copies' dropout masks are their own (common.recurrent_spec)
  local p = call and call.prefix or prefix
  inner.spec_salt_prefixes = { p .. "/forward_" .. inner.name, p .. "/backward_" .. inner.name }
  for _, l in ipairs(inner.module.spec(inner, inner.name)) do
    lines[#lines + 1] = l
  end
  return lines
end

return Bidirectional
