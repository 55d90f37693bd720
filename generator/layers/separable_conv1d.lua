-- SeparableConv1D(filters, kernel_size): DepthwiseConv1D without bias, then a
-- product by pointwise_kernel (1, channels * depth_multiplier, filters),
-- the bias and the activation. Weights depthwise_kernel, pointwise_kernel,
-- bias (Keras's order).
local common = require("layers.common")
local seq = require("layers.seq")
local conv = require("layers.conv")

local SeparableConv1D = {
  class = "SeparableConv1D",
  default_name = "separable_conv1d",
  positional = { "filters", "kernel_size" },
  args = seq.refused_extras(conv.args({
    filters = { "posint" },
    depth_multiplier = { "posint", 1 },
    depthwise_initializer = { "initializer", "glorot_uniform" },
    pointwise_initializer = { "initializer", "glorot_uniform" },
  }), { "depthwise", "pointwise", "bias" }),
  sequence_input = true,
  stream_refusal = conv.stream_refusal,
  stream_state = conv.stream_state,
}

function SeparableConv1D.build(layer, shape, prefix)
  local steps = conv.geometry(layer, shape)
  local a, geo = layer.args, layer.geom
  local C, m = geo.channels, a.depth_multiplier
  layer.weights = {
    common.weight(layer, prefix, "depthwise_kernel", { geo.k, C, m }, a.depthwise_initializer),
    common.weight(layer, prefix, "pointwise_kernel", { 1, C * m, a.filters }, a.pointwise_initializer),
  }
  if a.use_bias then layer.weights[3] = common.weight(layer, prefix, "bias", { a.filters }, a.bias_initializer) end
  return { { shape[1], steps, a.filters } }
end

function SeparableConv1D.emit(layer, g, x, prefix, initial)
  local a, geo = layer.args, layer.geom
  local taps, rows, finish = conv.taps(layer, g, x, prefix, initial and initial[1])
  local depthwise = g:param(layer.weights[1])
  local pointwise = g:param(layer.weights[2])
  local bias = a.use_bias and g:param(layer.weights[3]) or nil
  local dz = g:act(prefix .. "/depthwise", rows, geo.channels * a.depth_multiplier,
    "per step, the depthwise convolution")
  conv.depthwise(g, layer, taps, rows, depthwise, dz)
  finish()
  local z = g:act(prefix .. "/z", rows, a.filters, "per step, depthwise @ pointwise_kernel")
  g:per_row(rows, function(sel)
    g:matmul(sel(z), sel(dz), pointwise, false, "the pointwise product")
  end)
  local y, logits = conv.finish(g, prefix, z, bias, a.activation, function(n, fn)
    g:per_row(n, fn)
  end)
  return { outputs = { y }, logits = logits, logits_activation = a.activation }
end

function SeparableConv1D.spec(layer, prefix)
  return { string.format("layer SeparableConv1D %s filters=%d depth_multiplier=%d %s", prefix, layer.args.filters,
    layer.args.depth_multiplier, conv.spec_geometry(layer)) }
end

return SeparableConv1D
