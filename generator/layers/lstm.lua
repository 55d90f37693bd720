-- LSTM, gate order i, f, c, o in the columns of every weight:
--   z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias
--   i, f, o = rec_act(z_i, z_f, z_o); g = act(z_c)
--   c_t = f * c_{t-1} + i * g;  h_t = o * act(c_t)
local common = require("layers.common")
local ir = require("ir")

local E = ir.E

local LSTM = {
  class = "LSTM",
  default_name = "lstm",
  positional = { "units" },
  args = common.recurrent_args({
    recurrent_activation = { "cell_activation", "sigmoid" },
    unit_forget_bias = { "boolean", true },
  }),
  recurrent = true,
  n_states = 2,
  stream_refusal = common.stream_refusal,
  call_options = { initial_state = "tensors" },
}

function LSTM.build(layer, shape, prefix)
  common.require_rank3(layer, shape)
  local in_dim, units = shape[3], layer.args.units
  layer.weights = {
    common.weight(layer, prefix, "kernel", { in_dim, 4 * units }, layer.args.kernel_initializer),
    common.weight(layer, prefix, "recurrent_kernel", { units, 4 * units }, layer.args.recurrent_initializer),
  }
  if layer.args.use_bias then
    layer.weights[3] = common.weight(layer, prefix, "bias", { 4 * units },
      common.lstm_bias_initializer(layer))
  end
  return common.recurrent_outputs(layer, shape, 2)
end

function LSTM.emit(layer, g, x, prefix, initial, mask)
  local a = layer.args
  local units = a.units
  local recurrent = g:param(layer.weights[2])
  local bias = a.use_bias and g:param(layer.weights[3]) or nil
  -- the four activated gates of every step, i f g o side by side
  local gates = g:act(prefix .. "/gates", x.dims[1], 4 * units, "per step, the activated gates i, f, g, o")
  local functions = { a.recurrent_activation, a.recurrent_activation, a.activation, a.recurrent_activation }
  local names = { "gate i", "gate f", "candidate g", "gate o" }
  return common.unroll(layer, g, x, prefix, {
    states = { "h", "c" },
    proj_cols = 4 * units,
    proj_meaning = "the gates' pre-activations x @ kernel + h[t-1] @ recurrent_kernel",
    step = function(_, s, zt, prev, rows, hv)
      common.recurrent_product(g, units, zt, hv, recurrent, 0, true, "the recurrent product")
      local gt = ir.row(gates, s)
      for k = 1, 4 do
        local args, pre = { ir.cols(zt, (k - 1) * units, units) }, E.arg(1)
        if bias then
          args[2], pre = ir.cols(bias, (k - 1) * units, units), E.add(E.arg(1), E.arg(2))
        end
        g:map(ir.cols(gt, (k - 1) * units, units), ir.activation(functions[k], pre), args, false, names[k])
      end
      local i, f, gc, o = ir.cols(gt, 0, units), ir.cols(gt, units, units), ir.cols(gt, 2 * units, units),
        ir.cols(gt, 3 * units, units)
      -- c_t = f * c_{t-1} + i * g
      g:map(rows[2], E.add(E.mul(E.arg(1), E.arg(2)), E.mul(E.arg(3), E.arg(4))), { f, prev[2], i, gc }, false,
        "the cell state c = f * c[t-1] + i * g")
      -- h_t = o * act(c_t)
      g:map(rows[1], E.mul(E.arg(1), ir.activation(a.activation, E.arg(2))), { o, rows[2] }, false,
        "the hidden state h = o * " .. a.activation .. "(c)")
    end,
  }, initial, mask)
end

function LSTM.spec(layer, prefix, call)
  return { common.recurrent_spec("LSTM", layer, prefix, nil, call) }
end

return LSTM
