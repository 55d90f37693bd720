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
  n_states = 1,
  stream_refusal = common.stream_refusal,
  call_options = { initial_state = "tensors" },
}

function SimpleRNN.build(layer, shape, prefix)
  common.require_rank3(layer, shape)
  local in_dim, units = shape[3], layer.args.units
  layer.weights = {
    common.weight(layer, prefix, "kernel", { in_dim, units }, layer.args.kernel_initializer),
    common.weight(layer, prefix, "recurrent_kernel", { units, units }, layer.args.recurrent_initializer),
  }
  if layer.args.use_bias then
    layer.weights[3] = common.weight(layer, prefix, "bias", { units }, layer.args.bias_initializer)
  end
  return common.recurrent_outputs(layer, shape, 1)
end

-- x: timesteps x features. Returns {output, [state]}.
function SimpleRNN.emit(layer, g, x, prefix, initial, mask)
  local a = layer.args
  local recurrent = g:param(layer.weights[2])
  local bias = a.use_bias and g:param(layer.weights[3]) or nil
  return common.unroll(layer, g, x, prefix, {
    states = { "h" },
    proj_cols = a.units,
    proj_meaning = "x @ kernel + h[t-1] @ recurrent_kernel",
    step = function(_, _, zt, _, rows, hv)
      common.recurrent_product(g, a.units, zt, hv, recurrent, 0, true, "the recurrent product")
      local args, pre = { zt }, E.arg(1)
      if bias then
        args[2], pre = bias, E.add(E.arg(1), E.arg(2))
      end
      g:map(rows[1], ir.activation(a.activation, pre), args, false, "the new state")
    end,
  }, initial, mask)
end

function SimpleRNN.spec(layer, prefix, call)
  return { common.recurrent_spec("SimpleRNN", layer, prefix, nil, call) }
end

return SimpleRNN
