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
    lines[#lines + 1] = "loss " .. model.compiled.loss .. (model.compiled.from_logits and " from_logits" or "")
  end
  return table.concat(lines, "\n") .. "\n"
end

return spec
