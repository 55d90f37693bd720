-- DepthwiseConv1D(kernel_size): every channel convolved on its own with
-- depth_multiplier kernels: y[t, c * m + j] = act(sum_i x[t * s + i * d -
-- before, c] * depthwise_kernel[i, c, j] + bias[c * m + j]); depthwise_kernel
-- (kernel_size, channels, depth_multiplier). Lowered as one elementwise map
-- per j over all taps (layers/conv.lua).
local common = require("layers.common")
local seq = require("layers.seq")
local conv = require("layers.conv")

local DepthwiseConv1D = {
  class = "DepthwiseConv1D",
  default_name = "depthwise_conv1d",
  positional = { "kernel_size" },
  args = seq.refused_extras(conv.args({
    depth_multiplier = { "posint", 1 },
    depthwise_initializer = { "initializer", "glorot_uniform" },
  }), { "depthwise", "bias" }),
  sequence_input = true,
  stream_refusal = conv.stream_refusal,
  stream_state = conv.stream_state,
}

function DepthwiseConv1D.build(layer, shape, prefix)
  local steps = conv.geometry(layer, shape)
  local a, geo = layer.args, layer.geom
  local C, m = geo.channels, a.depth_multiplier
  layer.weights = { common.weight(layer, prefix, "depthwise_kernel", { geo.k, C, m }, a.depthwise_initializer) }
  if a.use_bias then layer.weights[2] = common.weight(layer, prefix, "bias", { C * m }, a.bias_initializer) end
  return { { shape[1], steps, C * m } }
end

function DepthwiseConv1D.emit(layer, g, x, prefix, initial)
  local a, geo = layer.args, layer.geom
  local taps, rows, finish = conv.taps(layer, g, x, prefix, initial and initial[1])
  local kernel = g:param(layer.weights[1])
  local bias = a.use_bias and g:param(layer.weights[2]) or nil
  local z = g:act(prefix .. "/z", rows, geo.channels * a.depth_multiplier, "per step, the depthwise convolution")
  conv.depthwise(g, layer, taps, rows, kernel, z)
  finish()
  local y, logits = conv.finish(g, prefix, z, bias, a.activation, function(n, fn)
    g:per_row(n, fn)
  end)
  return { outputs = { y }, logits = logits, logits_activation = a.activation }
end

function DepthwiseConv1D.spec(layer, prefix)
  return { string.format("layer DepthwiseConv1D %s depth_multiplier=%d %s", prefix, layer.args.depth_multiplier,
    conv.spec_geometry(layer)) }
end

return DepthwiseConv1D
