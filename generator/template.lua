-- A strict renderer for the files in templates/: ${NAME} is replaced by
-- vars.NAME; a placeholder with no value, or a value no placeholder uses, is an
-- error, so a template and its caller cannot drift apart silently.
local template = {}

function template.render(text, vars, source)
  local used = {}
  local out = text:gsub("%${([%u_][%u%d_]*)}", function(key)
    local v = vars[key]
    if v == nil then error(string.format("%s: no value for ${%s}", source or "template", key), 0) end
    used[key] = true
    return tostring(v)
  end)
  for key in pairs(vars) do
    if not used[key] then error(string.format("%s: ${%s} is given but not used", source or "template", key), 0) end
  end
  return out
end

function template.load(dir, name)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text, path
end

return template
