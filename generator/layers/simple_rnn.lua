-- SimpleRNN: h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias), h_0 = 0.
local common = require("layers.common")
local ir = require("ir")

local E = ir.E

local SimpleRNN = {
  class = "SimpleRNN",
  default_name = "simple_rnn",
  positional = { "units" },
  args = common.recurrent_args(),
  recurrent = true,
}

function SimpleRNN.build(layer, shape, prefix)
  common.require_rank3(layer, shape)
  local in_dim, units = shape[3], layer.args.units
  layer.weights = {
    common.weight(layer, prefix, "kernel", { in_dim, units }, "glorot_uniform"),
    common.weight(layer, prefix, "recurrent_kernel", { units, units }, "orthogonal"),
  }
  if layer.args.use_bias then
    layer.weights[3] = common.weight(layer, prefix, "bias", { units }, "zeros")
  end
  return common.recurrent_outputs(layer, shape, 1)
end

-- x: timesteps x features. Returns {output, [state]}.
function SimpleRNN.emit(layer, g, x, prefix)
  local a = layer.args
  local steps, units = x.dims[1], a.units
  local kernel = g:param(layer.weights[1])
  local recurrent = g:param(layer.weights[2])
  local bias = a.use_bias and g:param(layer.weights[3]) or nil

  -- The input projection of every timestep is one matrix product.
  local z = g:act(prefix .. "/z", steps, units)
  g:matmul(z, x, kernel)
  local h = g:act(prefix .. "/h", steps, units)
  local prev = g:zero(prefix .. "/h0", 1, units)
  for s = 0, steps - 1 do
    local t = a.go_backwards and (steps - 1 - s) or s
    local zt = ir.row(z, t)
    g:matmul(zt, prev, recurrent, true)
    local args, pre = { zt }, E.arg(1)
    if bias then
      args[2], pre = bias, E.add(E.arg(1), E.arg(2))
    end
    local ht = ir.row(h, s)
    g:map(ht, ir.activation(a.activation, pre), args)
    prev = ht
  end
  local last = ir.row(h, steps - 1)
  local outputs = { a.return_sequences and h or last }
  if a.return_state then outputs[2] = last end
  return outputs
end

function SimpleRNN.spec(layer, prefix)
  local a = layer.args
  local b = function(v)
    return v and 1 or 0
  end
  return {
    string.format(
      "layer SimpleRNN %s units=%d activation=%s use_bias=%d return_sequences=%d return_state=%d go_backwards=%d",
      prefix, a.units, a.activation, b(a.use_bias), b(a.return_sequences), b(a.return_state),
      b(a.go_backwards)),
  }
end

return SimpleRNN
