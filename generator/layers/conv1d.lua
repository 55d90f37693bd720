-- Conv1D(filters, kernel_size): y[t] = act(sum_i x[t * s + i * d - before] @
-- kernel[i] + bias) over (batch, steps, channels), kernel (kernel_size,
-- channels / groups, filters); with groups > 1 each group of channels has
-- its own block of filters. Padding valid, same (TensorFlow's rule) or
-- causal (d * (k - 1) zeros in front). Lowered as im2col: the taps copied
-- side by side (group by group), then one product per group over every
-- step of every sample of the batch (layers/conv.lua).
local util = require("util")
local ir = require("ir")
local common = require("layers.common")
local seq = require("layers.seq")
local conv = require("layers.conv")

local E = ir.E

local Conv1D = {
  class = "Conv1D",
  default_name = "conv1d",
  positional = { "filters", "kernel_size" },
  args = seq.refused_extras(conv.args({
    filters = { "posint" },
    groups = { "posint", 1 },
    kernel_initializer = { "initializer", "glorot_uniform" },
  }), { "kernel", "bias" }),
  sequence_input = true,
  stream_refusal = conv.stream_refusal,
  stream_state = conv.stream_state,
}

function Conv1D.build(layer, shape, prefix)
  local steps = conv.geometry(layer, shape)
  local a, geo = layer.args, layer.geom
  local C, F, G = geo.channels, a.filters, a.groups
  if C % G ~= 0 or F % G ~= 0 then
    util.fail(layer.at, "groups = %d must divide the input's %d channels and the %d filters", G, C, F)
  end
  layer.weights = { common.weight(layer, prefix, "kernel", { geo.k, C // G, F }, a.kernel_initializer) }
  if a.use_bias then layer.weights[2] = common.weight(layer, prefix, "bias", { F }, a.bias_initializer) end
  return { { shape[1], steps, F } }
end

function Conv1D.emit(layer, g, x, prefix, initial)
  local a, geo = layer.args, layer.geom
  local k, C, F, G = geo.k, geo.channels, a.filters, a.groups
  local Cg, Fg = C // G, F // G
  local taps, rows, finish = conv.taps(layer, g, x, prefix, initial and initial[1])
  local kernel = g:param(layer.weights[1])
  local bias = a.use_bias and g:param(layer.weights[2]) or nil
  -- one tap of one group in place: the product reads the input itself
  local direct = k == 1 and G == 1
  local cols = not direct and g:act(prefix .. "/cols", rows, k * C,
    string.format("per step, the %d taps side by side%s (im2col)", k, G > 1 and " group by group" or ""))
  local z = g:act(prefix .. "/z", rows, F, "per step, the taps @ kernel")
  g:per_row(rows, function(sel)
    if cols then
      for j = 0, G - 1 do
        for i = 0, k - 1 do
          g:map(sel(ir.cols(cols, (j * k + i) * Cg, Cg)), E.arg(1), { sel(ir.cols(taps[i + 1], j * Cg, Cg)) }, false,
            string.format("tap %d%s", i, G > 1 and string.format(" of group %d", j) or ""))
        end
      end
    end
    for j = 0, G - 1 do
      local a_view = direct and sel(taps[1]) or sel(ir.cols(cols, j * k * Cg, k * Cg))
      g:matmul(sel(ir.cols(z, j * Fg, Fg)), a_view, ir.cols(kernel, j * Fg, Fg), false,
        G > 1 and string.format("group %d", j) or "every tap at once")
    end
  end)
  finish()
  local y, logits = conv.finish(g, prefix, z, bias, a.activation, function(n, fn)
    g:per_row(n, fn)
  end)
  return { outputs = { y }, logits = logits, logits_activation = a.activation }
end

function Conv1D.spec(layer, prefix)
  return { string.format("layer Conv1D %s filters=%d groups=%d %s", prefix, layer.args.filters, layer.args.groups,
    conv.spec_geometry(layer)) }
end

return Conv1D
