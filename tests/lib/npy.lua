-- .npy files for the Lua test scripts (tests/cli/*.lua, tests/import/compare.lua):
-- little-endian C-order arrays. Load with
--   local npy = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../lib/npy.lua")
local npy = {}

local FORMATS = { ["<i4"] = "<i4", ["<i8"] = "<i8", ["<f4"] = "<f", ["<f8"] = "<d", ["|u1"] = "B" }

-- The shape (a list) and the values (a flat list) of an .npy file of
-- float64, float32, int32, int64 or uint8.
function npy.read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  assert(data:sub(1, 6) == "\x93NUMPY", path .. ": not a .npy file")
  local hlen, start
  if data:byte(7) == 1 then
    hlen, start = string.unpack("<I2", data, 9), 11
  else
    hlen, start = string.unpack("<I4", data, 9), 13
  end
  local header = data:sub(start, start + hlen - 1)
  local descr = header:match("'descr':%s*'([^']+)'")
  assert(header:match("'fortran_order':%s*False"), path .. ": Fortran order")
  local fmt = assert(FORMATS[descr], path .. ": dtype " .. tostring(descr))
  local shape, count = {}, 1
  for d in header:match("'shape':%s*%(([^)]*)%)"):gmatch("%d+") do
    shape[#shape + 1] = tonumber(d)
    count = count * shape[#shape]
  end
  local values, pos = {}, start + hlen
  for i = 1, count do
    values[i], pos = string.unpack(fmt, data, pos)
  end
  return shape, values
end

-- Writes `values` (a flat list) as an array of `shape`, of dtype `descr`:
-- "<f8" (the default), "<f4", "<i4", "<i8" or "|u1" (whole numbers 0..255).
local PACK = { ["<f8"] = "<d", ["<f4"] = "<f", ["<i4"] = "<i4", ["<i8"] = "<i8", ["|u1"] = "B" }
function npy.write(path, shape, values, descr)
  descr = descr or "<f8"
  local fmt = assert(PACK[descr], "npy.write: dtype " .. tostring(descr))
  local dims = {}
  for i, d in ipairs(shape) do
    dims[i] = tostring(d)
  end
  local header = string.format("{'descr': '%s', 'fortran_order': False, 'shape': (%s%s), }", descr,
    table.concat(dims, ", "), #shape == 1 and "," or "")
  local total = 10 + #header + 1
  header = header .. string.rep(" ", (64 - total % 64) % 64) .. "\n"
  local f = assert(io.open(path, "wb"))
  f:write("\x93NUMPY\x01\x00", string.pack("<I2", #header), header)
  -- packed in chunks: one write per value is slow for large arrays
  local chunk = {}
  for i, v in ipairs(values) do
    chunk[#chunk + 1] = string.pack(fmt, v)
    if #chunk == 4096 or i == #values then
      f:write(table.concat(chunk))
      chunk = {}
    end
  end
  f:close()
end

return npy
