-- Serialises a built model for the reference runtime (format documented in
-- runtime/reference/rnnc_ref.h).
local spec = {}

function spec.text(model, x_shape)
  local lines = { "rnnc-spec 1", "input " .. table.concat(x_shape, " ") }
  for _, layer in ipairs(model.layers) do
    if not layer.module.spec then return nil end
    for _, l in ipairs(layer.module.spec(layer, layer.name)) do
      lines[#lines + 1] = l
    end
  end
  if model.compiled and model.compiled.loss then
    local line = "loss " .. model.compiled.loss .. (model.compiled.from_logits and " from_logits" or "")
    -- the loss's parameters that differ from Keras's defaults
    local own = require("catalog").loss[model.compiled.loss].params or {}
    local keys = {}
    for k in pairs(model.compiled.loss_params or {}) do
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = model.compiled.loss_params[k]
      if v ~= own[k] then line = line .. string.format(" %s=%.17g", k, v) end
    end
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n") .. "\n"
end

return spec
