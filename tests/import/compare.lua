-- Compares numeric files for the import tests (no Python at test time).
--   lua5.4 compare.lua npy GOT.npy WANT.npy TOL
--   lua5.4 compare.lua safetensors GOT.safetensors WANT.safetensors TOL
--   lua5.4 compare.lua params FILE.safetensors       (prints the weights' element count)
-- Error: max |got - want| / max(max |want|, 1e-300) per array; exit 1 above TOL.
local cjson = require("cjson")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function unpack_values(s, pos, count, dtype)
  local fmt, size = "<d", 8
  if dtype == "f4" then fmt, size = "<f", 4 end
  local out = {}
  for k = 0, count - 1 do
    out[k + 1] = string.unpack(fmt, s, pos + k * size)
  end
  return out
end

local npy_lib = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../lib/npy.lua")
local function npy(path)
  local _, values = npy_lib.read(path)
  return values
end

local function safetensors(path)
  local s = read(path)
  local n = string.unpack("<I8", s, 1)
  local header = cjson.decode(s:sub(9, 8 + n))
  local out = {}
  for name, t in pairs(header) do
    if name ~= "__metadata__" then
      local size = t.dtype == "F32" and 4 or 8
      local a, b = t.data_offsets[1], t.data_offsets[2]
      out[name] = unpack_values(s, 9 + n + a, (b - a) // size, t.dtype == "F32" and "f4" or "f8")
    end
  end
  return out
end

local function err(got, want)
  if #got ~= #want then return math.huge end
  local d, m = 0, 1e-300
  for i = 1, #want do
    d = math.max(d, math.abs(got[i] - want[i]))
    m = math.max(m, math.abs(want[i]))
  end
  return d / m
end

local mode = arg[1]
if mode == "params" then
  local total = 0
  for name, v in pairs(safetensors(arg[2])) do
    if not name:match("^optimizer/") then total = total + #v end
  end
  print(total)
  os.exit(0)
end
local tol = tonumber(arg[4])
local worst, what = 0, ""
if mode == "npy" then
  worst, what = err(npy(arg[2]), npy(arg[3])), arg[2]
elseif mode == "safetensors" then
  local got, want = safetensors(arg[2]), safetensors(arg[3])
  for name, w in pairs(want) do
    local g = got[name]
    local e = g and err(g, w) or math.huge
    if e > worst then worst, what = e, name end
  end
else
  error("usage: compare.lua npy|safetensors|params ...")
end
print(string.format("%.3e", worst))
if worst ~= worst or worst > tol then -- NaN fails too
  io.stderr:write(string.format("compare: %s differs by %.3e (tolerance %.1e)\n", what, worst, tol))
  os.exit(1)
end
