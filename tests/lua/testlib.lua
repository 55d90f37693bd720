-- Assertions and fixtures shared by the tests in tests/lua (no dependency
-- beyond lua5.4). A failed assertion raises a string prefixed with the
-- file:line of the test that called it, however deep the helper chain.
local T = {}

-- The repository root, set by run.lua ("." when run from the root).
T.root = "."

local function where()
  for level = 3, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.short_src:match("test_[%w_]+%.lua$") and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

function T.fail(msg)
  error(where() .. tostring(msg), 0)
end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- The first difference between two strings, by line, with both lines shown.
local function string_diff(a, b)
  local la, lb = {}, {}
  for l in (a .. "\n"):gmatch("(.-)\n") do
    la[#la + 1] = l
  end
  for l in (b .. "\n"):gmatch("(.-)\n") do
    lb[#lb + 1] = l
  end
  for i = 1, math.max(#la, #lb) do
    if la[i] ~= lb[i] then
      return string.format("strings differ at line %d: actual %s, expected %s", i,
        la[i] and show(la[i]) or "(no line)", lb[i] and show(lb[i]) or "(no line)")
    end
  end
  return string.format("strings differ (length %d vs %d)", #a, #b)
end

-- Deep comparison; returns nil when equal, else a description of the first
-- difference (with its path inside the tables).
local function diff(a, b, path)
  if type(a) ~= type(b) then
    return string.format("%s: actual %s (%s), expected %s (%s)", path, show(a), type(a), show(b), type(b))
  end
  if type(a) == "string" then
    if a == b then return nil end
    if a:find("\n") or b:find("\n") then return path .. ": " .. string_diff(a, b) end
    return string.format("%s: actual %s, expected %s", path, show(a), show(b))
  end
  if type(a) ~= "table" then
    if a == b or (a ~= a and b ~= b) then return nil end
    return string.format("%s: actual %s, expected %s", path, show(a), show(b))
  end
  if a == b then return nil end
  local keys = {}
  for k in pairs(a) do
    keys[#keys + 1] = k
  end
  for k in pairs(b) do
    if a[k] == nil then keys[#keys + 1] = k end
  end
  table.sort(keys, function(x, y)
    if type(x) == type(y) and (type(x) == "number" or type(x) == "string") then return x < y end
    return type(x) < type(y)
  end)
  for _, k in ipairs(keys) do
    local d = diff(a[k], b[k], path .. "[" .. show(k) .. "]")
    if d then return d end
  end
  return nil
end
T.diff = diff

function T.eq(actual, expected, what)
  local d = diff(actual, expected, what or "value")
  if d then T.fail(d) end
end

function T.truthy(v, what)
  if not v then T.fail((what or "condition") .. " is false") end
  return v
end

function T.near(actual, expected, tol, what)
  local d = type(actual) == "number" and math.abs(actual - expected)
  if not d or d ~= d or d > tol then -- NaN fails too
    T.fail(string.format("%s: actual %.17g, expected %.17g (tolerance %g)", what or "value", actual, expected, tol))
  end
end

-- Plain (not pattern) substring search.
function T.contains(text, part, what)
  if type(text) ~= "string" or not text:find(part, 1, true) then
    local shown = tostring(text)
    if #shown > 400 then shown = shown:sub(1, 400) .. "..." end
    T.fail(string.format("%s does not contain %s: %s", what or "text", show(part), show(shown)))
  end
end

function T.not_contains(text, part, what)
  if text:find(part, 1, true) then
    T.fail(string.format("%s contains %s", what or "text", show(part)))
  end
end

-- Calls fn, which must raise an error whose text matches the Lua pattern
-- `pattern` (a plain substring when plain is true). Returns the error value
-- and its text.
function T.raises(fn, pattern, plain)
  local ok, err = pcall(fn)
  if ok then T.fail("expected an error matching " .. show(pattern) .. ", got none") end
  local text = tostring(err)
  if pattern and not text:find(pattern, 1, plain) then
    T.fail(string.format("error %s does not match %s", show(text), show(pattern)))
  end
  return err, text
end

---------------------------------------------------------------- temporary files

local temps = {}

-- Writes `text` to a fresh temporary file (removed after the test) and
-- returns its path. `suffix` (default ".lua") is appended to the name.
function T.tmpfile(text, suffix)
  local base = os.tmpname()
  local path = base .. (suffix or ".lua")
  temps[#temps + 1] = base
  temps[#temps + 1] = path
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- Replaces table[key] with value for the rest of the test (restored by
-- T.cleanup, whether the test passed or not).
local restores = {}
function T.replace(table_, key, value)
  restores[#restores + 1] = { table_, key, table_[key] }
  table_[key] = value
end

-- Removes the temporary files of the test that just ran and undoes its
-- T.replace calls (run.lua calls it).
function T.cleanup()
  for _, p in ipairs(temps) do
    os.remove(p)
  end
  temps = {}
  for i = #restores, 1, -1 do
    local r = restores[i]
    r[1][r[2]] = r[3]
  end
  restores = {}
end

function T.path(rel)
  return T.root .. "/" .. rel
end

function T.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Loads a model description given as text.
function T.load_text(text)
  local path = T.tmpfile(text)
  return require("dsl").load(path), path
end

-- Loading the description `src` must fail with a message naming the file
-- and line and saying `rest`.
function T.load_refused(src, line, rest)
  local path = T.tmpfile(src)
  local _, text = T.raises(function()
    return require("dsl").load(path)
  end)
  T.truthy(text:find(path .. ":" .. line .. ": ", 1, true), "error names the line: " .. text)
  T.truthy(text:find(rest, 1, true), "error says " .. rest .. ": " .. text)
end

-- Generating a unit from the description `text` must fail with a
-- ModelError naming the file, the line and saying `what`.
function T.generate_refused(text, line, what)
  local path = T.tmpfile(text)
  local err, msg = T.raises(function()
    return require("generate").unit(path, { dtype = "float64", root = T.root, format = false })
  end)
  T.truthy(require("util").is_model_error(err), "a ModelError, not an internal error: " .. msg)
  T.contains(msg, path .. ":" .. line .. ": ")
  T.contains(msg, what)
end

---------------------------------------------------------------- expected failures

-- Marks a test as a known bug: the runner reports it as XFAIL while it fails
-- and as a failure once it passes (so the mark is removed when fixed).
function T.xfail(reason, fn)
  return { xfail = reason, fn = fn }
end

---------------------------------------------------------------- random numbers

-- A small deterministic generator (xorshift), independent of math.random.
function T.rng(seed)
  local s = seed or 88172645463325252
  return function(lo, hi)
    s = s ~ (s << 13)
    s = s ~ (s >> 7)
    s = s ~ (s << 17)
    local u = ((s >> 11) & ((1 << 53) - 1)) / (1 << 53)
    return (lo or 0) + ((hi or 1) - (lo or 0)) * u
  end
end

return T
