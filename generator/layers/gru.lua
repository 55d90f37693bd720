-- GRU, gate order z, r, h (update, reset, candidate).
-- reset_after=True (the default): bias (2, 3U), row 0 for the input, row 1
-- for the recurrent product:
--   xz, xr, xh = x_t @ kernel + bias[0];  hz, hr, hh = h_{t-1} @ recurrent_kernel + bias[1]
--   z = rec_act(xz + hz); r = rec_act(xr + hr); cand = act(xh + r * hh), each sum in Keras 3's
--   order (keras/src/layers/rnn/gru.py: the biases join their products first)
-- reset_after=False: bias (3U); cand = act(x_t @ kernel_h + (r * h_{t-1}) @ recurrent_kernel_h + bias_h).
-- Both: h_t = z * h_{t-1} + (1 - z) * cand.
local common = require("layers.common")
local ir = require("ir")

local E = ir.E

local GRU = {
  class = "GRU",
  default_name = "gru",
  positional = { "units" },
  args = common.recurrent_args({
    recurrent_activation = { "cell_activation", "sigmoid" },
    reset_after = { "boolean", true },
  }),
  recurrent = true,
  n_states = 1,
  stream_refusal = common.stream_refusal,
  call_options = { initial_state = "tensors" },
}

function GRU.build(layer, shape, prefix)
  common.require_rank3(layer, shape)
  local in_dim, units = shape[3], layer.args.units
  layer.weights = {
    common.weight(layer, prefix, "kernel", { in_dim, 3 * units }, layer.args.kernel_initializer),
    common.weight(layer, prefix, "recurrent_kernel", { units, 3 * units }, layer.args.recurrent_initializer),
  }
  if layer.args.use_bias then
    local shape_b = layer.args.reset_after and { 2, 3 * units } or { 3 * units }
    layer.weights[3] = common.weight(layer, prefix, "bias", shape_b, layer.args.bias_initializer)
  end
  return common.recurrent_outputs(layer, shape, 1)
end

-- act(sum of the given terms) into `out`: a gate's pre-activation is the
-- input projection, optionally a bias, optionally a recurrent term.
local function gate(g, out, fn, terms, note)
  local args, pre = {}, nil
  for i, v in ipairs(terms) do
    args[i] = v
    pre = pre and E.add(pre, E.arg(i)) or E.arg(i)
  end
  g:map(out, ir.activation(fn, pre), args, false, note)
end
local GATE = { [0] = "update gate z", [1] = "reset gate r" }

function GRU.emit(layer, g, x, prefix, initial, mask)
  local a = layer.args
  local units, steps = a.units, x.dims[1]
  local recurrent = g:param(layer.weights[2])
  local bias = a.use_bias and g:param(layer.weights[3]) or nil
  local zr = g:act(prefix .. "/zr", steps, 2 * units, "per step, the activated update and reset gates z, r")
  local cand = g:act(prefix .. "/cand", steps, units, "per step, the candidate state")
  local function col(v, k)
    return ir.cols(v, k * units, units)
  end
  local step
  if a.reset_after then
    local in_bias = bias and ir.row(bias, 0)
    local rec_bias = bias and ir.row(bias, 1)
    local rec = g:act(prefix .. "/rec", steps, 3 * units, "per step, h[t-1] @ recurrent_kernel")
    step = function(_, s, zt, prev, rows, hv)
      local rt = ir.row(rec, s)
      common.recurrent_product(g, units, rt, hv, recurrent, 0, false, "the recurrent product")
      local zrt = ir.row(zr, s)
      for k = 0, 1 do
        if bias then
          -- Keras's order: (x @ kernel + bias[0]) + (h @ recurrent_kernel + bias[1])
          g:map(col(zrt, k), ir.activation(a.recurrent_activation,
            E.add(E.add(E.arg(1), E.arg(3)), E.add(E.arg(2), E.arg(4)))),
            { col(zt, k), col(rt, k), col(in_bias, k), col(rec_bias, k) }, false, GATE[k])
        else
          gate(g, col(zrt, k), a.recurrent_activation, { col(zt, k), col(rt, k) }, GATE[k])
        end
      end
      -- cand = act(xh [+ bh_in] + r * (hh [+ bh_rec]))
      local args = { col(zt, 2), col(zrt, 1), col(rt, 2) }
      local hh = E.arg(3)
      local xh = E.arg(1)
      if bias then
        args[4], args[5] = col(in_bias, 2), col(rec_bias, 2)
        xh, hh = E.add(xh, E.arg(4)), E.add(hh, E.arg(5))
      end
      g:map(ir.row(cand, s), ir.activation(a.activation, E.add(xh, E.mul(E.arg(2), hh))), args, false,
        "the candidate state")
      -- h = z * h_{t-1} + (1 - z) * cand
      g:map(rows[1], E.add(E.mul(E.arg(1), E.arg(2)), E.mul(E.sub(E.ONE, E.arg(1)), E.arg(3))),
        { col(zrt, 0), prev[1], ir.row(cand, s) }, false, "the new state h = z * h[t-1] + (1 - z) * candidate")
    end
  else
    local rh = g:act(prefix .. "/rh", steps, units, "per step, r * h[t-1]")
    step = function(_, s, zt, prev, rows, hv)
      -- the z and r columns take h_{t-1} @ recurrent_kernel[:, :2U]
      common.recurrent_product(g, units, ir.cols(zt, 0, 2 * units), hv, ir.cols(recurrent, 0, 2 * units), 0, true,
        "the recurrent product of z and r")
      local zrt = ir.row(zr, s)
      for k = 0, 1 do
        local terms = { col(zt, k) }
        if bias then terms[2] = col(bias, k) end
        gate(g, col(zrt, k), a.recurrent_activation, terms, GATE[k])
      end
      local rht = ir.row(rh, s)
      -- (Keras 3 implementation 1: r * (h[t-1] * the candidate's mask))
      g:map(rht, E.mul(E.arg(1), E.arg(2)), { col(zrt, 1), hv.h(2) }, false, "the reset state r * h[t-1]")
      g:matmul(col(zt, 2), rht, col(recurrent, 2), true, "the candidate's recurrent product")
      local terms = { col(zt, 2) }
      if bias then terms[2] = col(bias, 2) end
      gate(g, ir.row(cand, s), a.activation, terms, "the candidate state")
      g:map(rows[1], E.add(E.mul(E.arg(1), E.arg(2)), E.mul(E.sub(E.ONE, E.arg(1)), E.arg(3))),
        { col(zrt, 0), prev[1], ir.row(cand, s) }, false, "the new state h = z * h[t-1] + (1 - z) * candidate")
    end
  end
  return common.unroll(layer, g, x, prefix, { states = { "h" }, proj_cols = 3 * units, step = step,
    proj_meaning = a.reset_after and "x @ kernel" or "x @ kernel + the recurrent products" }, initial, mask)
end

function GRU.spec(layer, prefix, call)
  return { common.recurrent_spec("GRU", layer, prefix, { "reset_after" }, call) }
end

return GRU
