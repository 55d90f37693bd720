-- Keras's noise layers: Dropout(rate, noise_shape, seed), SpatialDropout1D(rate,
-- seed), GaussianNoise(stddev, seed) and GaussianDropout(rate, seed)
-- (keras/src/layers/regularization/{dropout,spatial_dropout,gaussian_noise,
-- gaussian_dropout}.py, Keras 3). Each is the identity at inference
-- (predict, evaluate, the stream: call() with training=False returns its
-- input) and in training (loss_grad, train_step, fit) draws one mask per call:
--   Dropout          y = x * m, m = 1 / (1 - rate) with probability 1 - rate,
--                    else 0 (backend.random.dropout: inverted scaling); the mask
--                    has noise_shape, 1 along an axis meaning one value
--                    broadcast along it
--   SpatialDropout1D Dropout with noise_shape (batch, 1, features): one value
--                    per sample and feature, the same at every step
--   GaussianNoise    y = x + stddev * N(0, 1)
--   GaussianDropout  y = x * N(1, sqrt(rate / (1 - rate)))
-- The backward goes through the same mask (y = x * m: dx = dy * m). A rate
-- (or stddev) of 0 is the identity in training too (Keras: `if training and
-- self.rate > 0`).
--
-- The values come from rnnc's counter-based generator (rnnc_noise_value in
-- runtime/rng.c, ir.lua's noise leaf), keyed by the seed (the layer's `seed`,
-- else fit's), the layer's salt (FNV-1a of its name), the optimizer step, the
-- sample's index in the step's batch and the element's index in the mask, so
-- micro-batches, threads and MPI ranks draw the same masks as one call of the
-- whole batch. They are not Keras's values (its generator is the backend's):
-- the distribution and the arithmetic are.
local util = require("util")
local ir = require("ir")

local E = ir.E

local layers = {}

-- FNV-1a (64-bit) of a layer's name, its top bit cleared: the salt that
-- makes each layer's masks its own.
local function salt_of(name)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #name do
    h = (h ~ name:byte(i)) * 0x100000001b3
  end
  return h & 0x7fffffffffffffff
end
layers.salt_of = salt_of

-- Keras's seed: None (fit's seed, rnnc's), or a non-negative integer.
local function seed_arg(at, argname, v)
  if v == util.None or v == nil then return util.None end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) or v end
  if math.type(v) ~= "integer" or v < 0 then
    util.fail(at, "argument '%s' must be None or a non-negative integer, got %s", argname, tostring(v))
  end
  return v
end
layers.seed_arg = seed_arg

-- Dropout's noise_shape: None, or one entry per axis of the input, each None
-- or a positive integer (keras/src/layers/regularization/dropout.py
-- _validate_noise_shape); build() checks them against the input.
local function noise_shape_arg(at, argname, v)
  if v == util.None or v == nil then return util.None end
  if type(v) ~= "table" then
    util.fail(at, "argument '%s' must be None or a list such as { None, 1, None }", argname)
  end
  local out = {}
  for i = 1, #v do
    local d = v[i]
    if d ~= util.None then
      if math.type(d) == "float" and d == math.floor(d) then d = math.tointeger(d) or d end
      if math.type(d) ~= "integer" or d <= 0 then
        util.fail(at, "argument '%s': entry %d must be None or a positive integer, got %s", argname, i, tostring(d))
      end
    end
    out[i] = d
  end
  return out
end

local function same_shape(layer, shape)
  if #shape < 2 or #shape > 3 then
    util.fail(layer.at, "expected an input of ndim 2 or 3, found %s", util.shape_str(shape))
  end
  if shape[#shape] == util.None then
    util.fail(layer.at, "the last dimension of the input must be known, got %s", util.shape_str(shape))
  end
  return { util.copy(shape) }
end

-- Along which axes the mask varies (false: one value broadcast), from
-- noise_shape: an entry 1 broadcasts; None or the input's size varies.
local function mask_axes(layer, shape, noise_shape)
  local per = { true, true, true } -- sample, step, feature
  if noise_shape == util.None then return per end
  if #noise_shape ~= #shape then
    util.fail(layer.at, "noise_shape has %d entries, the input %s has %d axes", #noise_shape,
      util.shape_str(shape), #shape)
  end
  for i, d in ipairs(noise_shape) do
    if d ~= util.None and d ~= 1 and d ~= shape[i] then
      util.fail(layer.at, "noise_shape entry %d is %d: it must be None, 1 or the input's %s", i, d,
        tostring(shape[i]))
    end
    local axis = i == 1 and 1 or (i == #shape and 3 or 2)
    per[axis] = d ~= 1
  end
  return per
end

-- The mask as a view over the n rows of sel(x): broadcast along the axes it
-- does not vary on.
local function mask_view(mask, sel, n, cols, per)
  local v = per[2] and sel(mask) or mask
  if not per[3] then v = ir.view(v.buf, v.off, v.dims[1], cols, v.strides[1], 0, v.toff, v.loff) end
  if not per[2] then v = ir.view(v.buf, v.off, n, v.dims[2], 0, v.strides[2], v.toff, v.loff) end
  return v
end

-- The emission shared by the four layers: kind 1 (multiplied mask of
-- values 0 or 1 / (1 - p)), 2 (added Gaussian noise of stddev p) or 3
-- (multiplied Gaussian mask), per: the axes the mask varies on.
local function emit_noise(layer, g, x, prefix, kind, p, per)
  local rows, cols = x.dims[1], x.dims[2]
  local y = g:act(prefix .. "/y", rows, cols, (rows > 1 and "per step, " or "") .. "the layer's output")
  local function identity()
    g:per_row(rows, function(sel)
      g:map(sel(y), E.arg(1), { sel(x) }, false, "the identity at inference")
    end)
  end
  if p == 0 then -- Keras: the identity unless `training and self.rate > 0`
    identity()
    return { outputs = { y } }
  end
  g:in_mode("infer", identity)
  if g.streaming then return { outputs = { y } } end
  g:in_mode("train", function()
    local mrows, mcols = per[2] and rows or 1, per[3] and cols or 1
    local what = kind == 2 and "the noise added" or "the mask"
    local mask = g:act(prefix .. "/" .. (kind == 2 and "noise" or "mask"), mrows, mcols,
      (per[2] and rows > 1 and "per step, " or "") .. what .. " of this training step")
    local seed = layer.args.seed ~= util.None and layer.args.seed or nil
    -- every row of the mask, whatever the run-time length: its values do not
    -- depend on it
    g:map(mask, E.noise(kind, p, salt_of(prefix), seed, per[1]), {}, false, what .. ", drawn once per call")
    g:per_row(rows, function(sel)
      local n = sel(x).dims[1]
      local expr = kind == 2 and E.add(E.arg(1), E.arg(2)) or E.mul(E.arg(1), E.arg(2))
      g:map(sel(y), expr, { sel(x), mask_view(mask, sel, n, cols, per) }, false,
        kind == 2 and "x + noise" or "x * mask")
    end)
  end)
  return { outputs = { y } }
end

local function num(v)
  return string.format("%.17g", v)
end

local function seed_text(layer)
  return layer.args.seed == util.None and "none" or tostring(layer.args.seed)
end
layers.seed_text = seed_text

---------------------------------------------------------------- Dropout

local Dropout = {
  class = "Dropout",
  default_name = "dropout",
  positional = { "rate" },
  args = {
    rate = { "rate" },
    noise_shape = { "any", util.None, check = noise_shape_arg },
    seed = { "any", util.None, check = seed_arg },
  },
  passes_mask = true,
}

function Dropout.build(layer, shape)
  local out = same_shape(layer, shape)
  layer.per = mask_axes(layer, shape, layer.args.noise_shape)
  return out
end

function Dropout.emit(layer, g, x, prefix)
  return emit_noise(layer, g, x, prefix, 1, layer.args.rate, layer.per)
end

-- The salt of a call: a shared layer's later calls draw masks of their own
-- (Keras's seed generator advances at every call), under the call's name.
local function call_salt(prefix, call)
  return salt_of(call and call.prefix or prefix)
end
layers.call_salt = call_salt

function Dropout.spec(layer, prefix, call)
  local per = layer.per
  return { string.format("layer Dropout %s rate=%s salt=%d seed=%s per_sample=%d per_step=%d per_feature=%d",
    prefix, num(layer.args.rate), call_salt(prefix, call), seed_text(layer), per[1] and 1 or 0, per[2] and 1 or 0,
    per[3] and 1 or 0) }
end
layers.Dropout = Dropout

---------------------------------------------------------------- SpatialDropout1D

local SpatialDropout1D = {
  class = "SpatialDropout1D",
  default_name = "spatial_dropout1d",
  positional = { "rate" },
  args = {
    rate = { "rate" },
    seed = { "any", util.None, check = seed_arg },
  },
  passes_mask = true,
}

function SpatialDropout1D.build(layer, shape)
  -- keras: InputSpec(ndim=3), noise shape (batch, 1, channels)
  if #shape ~= 3 then
    util.fail(layer.at, "expected an input of ndim=3 (batch, timesteps, features), found %s", util.shape_str(shape))
  end
  layer.per = { true, false, true }
  return same_shape(layer, shape)
end

function SpatialDropout1D.emit(layer, g, x, prefix)
  return emit_noise(layer, g, x, prefix, 1, layer.args.rate, layer.per)
end

function SpatialDropout1D.spec(layer, prefix, call)
  return { string.format("layer Dropout %s rate=%s salt=%d seed=%s per_sample=1 per_step=0 per_feature=1", prefix,
    num(layer.args.rate), call_salt(prefix, call), seed_text(layer)) }
end
layers.SpatialDropout1D = SpatialDropout1D

---------------------------------------------------------------- GaussianNoise

local GaussianNoise = {
  class = "GaussianNoise",
  default_name = "gaussian_noise",
  positional = { "stddev" },
  args = {
    stddev = { "nonneg" },
    seed = { "any", util.None, check = seed_arg },
  },
  passes_mask = true,
}

function GaussianNoise.build(layer, shape)
  return same_shape(layer, shape)
end

function GaussianNoise.emit(layer, g, x, prefix)
  return emit_noise(layer, g, x, prefix, 2, layer.args.stddev, { true, true, true })
end

function GaussianNoise.spec(layer, prefix, call)
  return { string.format("layer GaussianNoise %s stddev=%s salt=%d seed=%s", prefix, num(layer.args.stddev),
    call_salt(prefix, call), seed_text(layer)) }
end
layers.GaussianNoise = GaussianNoise

---------------------------------------------------------------- GaussianDropout

local GaussianDropout = {
  class = "GaussianDropout",
  default_name = "gaussian_dropout",
  positional = { "rate" },
  args = {
    rate = { "rate" },
    seed = { "any", util.None, check = seed_arg },
  },
  passes_mask = true,
}

function GaussianDropout.build(layer, shape)
  return same_shape(layer, shape)
end

function GaussianDropout.emit(layer, g, x, prefix)
  return emit_noise(layer, g, x, prefix, 3, layer.args.rate, { true, true, true })
end

function GaussianDropout.spec(layer, prefix, call)
  return { string.format("layer GaussianDropout %s rate=%s salt=%d seed=%s", prefix, num(layer.args.rate),
    call_salt(prefix, call), seed_text(layer)) }
end
layers.GaussianDropout = GaussianDropout

return layers
