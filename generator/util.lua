-- Shared helpers: the error type every user-facing failure goes through, and
-- small table utilities.
local util = {}

-- A model-description error carries where it happened so the CLI can print
-- "file:line: layer 'name' (Class): message".
local ModelError = {}
ModelError.__index = ModelError
ModelError.__tostring = function(e)
  local where = (e.file or "?") .. ":" .. (e.line or "?") .. ": "
  local layer = ""
  if e.layer then
    layer = "layer '" .. e.layer .. "'"
    if e.class then layer = layer .. " (" .. e.class .. ")" end
    layer = layer .. ": "
  end
  return where .. layer .. e.message
end

function util.is_model_error(v)
  return getmetatable(v) == ModelError
end

-- Raises a ModelError. `at` is a table with optional file, line, layer, class.
function util.fail(at, fmt, ...)
  local e = setmetatable({ message = string.format(fmt, ...) }, ModelError)
  if at then
    e.file, e.line, e.layer, e.class = at.file, at.line, at.name, at.class
  end
  error(e, 0)
end

-- The unknown dimension, printed as Keras prints it.
util.None = setmetatable({}, {
  __tostring = function()
    return "None"
  end,
  __name = "None",
})

function util.is_dim(v)
  return v == util.None or (math.type(v) == "integer" and v > 0)
end

-- Keras's str() of a shape tuple: (None, 3) or (None,) for one element.
function util.shape_str(shape)
  local parts = {}
  for i, d in ipairs(shape) do
    parts[i] = tostring(d)
  end
  if #parts == 1 then return "(" .. parts[1] .. ",)" end
  return "(" .. table.concat(parts, ", ") .. ")"
end

function util.copy(t)
  local r = {}
  for k, v in pairs(t) do
    r[k] = v
  end
  return r
end

function util.product(list)
  local p = 1
  for _, v in ipairs(list) do
    p = p * v
  end
  return p
end

function util.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- Thousands separators, as Python's '{:,}'.
function util.commas(n)
  local s = tostring(n)
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

-- Opaque handles: what a model description holds in place of the generator's
-- own objects (layers, tensors, models), so that it cannot read or replace
-- their internals. util.unwrap(h) gives the object back, or nil.
local registry = setmetatable({}, { __mode = "k" })

function util.handle(obj, mt)
  local h = setmetatable({}, mt)
  registry[h] = obj
  return h
end

function util.unwrap(h)
  return registry[h]
end

-- A handle metatable: `methods` are callable as h:method(...) with the
-- unwrapped object; every other field reads as nil and nothing can be set.
function util.handle_type(name, methods, call)
  local mt = {
    __name = name,
    __metatable = name,
    __newindex = function(_, k)
      if k == "trainable" then
        -- Keras's layer.trainable = False / model.trainable = False
        error(string.format("%s objects cannot be modified: give trainable = false to the constructor instead "
          .. "(Dense { 4, trainable = false }, Sequential { ..., trainable = false }, Model { ..., trainable = "
          .. "false })", name), 2)
      end
      error(name .. " objects cannot be modified", 2)
    end,
    __index = function(_, k)
      local m = methods and methods[k]
      if not m then return nil end
      return function(h, ...)
        local obj = registry[h]
        if obj == nil or getmetatable(h) ~= name then
          -- h.method(...) instead of h:method(...): the first argument is not the object
          local var = name:lower()
          error(string.format("%s.%s{...} calls %s without its %s: write %s:%s { ... } (a colon, Lua's method "
            .. "call; Python's dot is a colon here)", var, k, k, var, var, k), 2)
        end
        return m(obj, ...)
      end
    end,
    __tostring = function()
      return name
    end,
  }
  if call then
    mt.__call = function(h, ...)
      return call(registry[h], ...)
    end
  end
  return mt
end

-- The directory rnnc keeps what it builds once and reuses (the runtime
-- library of rnnc build, the importer's reader): $RNNC_CACHE_DIR, else
-- $XDG_CACHE_HOME/rnnc, else ~/.cache/rnnc.
function util.cache_dir()
  local dir = os.getenv("RNNC_CACHE_DIR")
  if dir and dir ~= "" then return dir end
  local xdg = os.getenv("XDG_CACHE_HOME")
  if xdg and xdg ~= "" then return xdg .. "/rnnc" end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.cache/rnnc" end
  return "/tmp/rnnc-cache"
end

return util
