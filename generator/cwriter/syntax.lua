-- C syntax: identifiers, literals, string constants, affine index
-- expressions and loop bounds. The only spelling of C the other parts of the
-- writer share.
local syntax = {}

---------------------------------------------------------------- names and literals

function syntax.ident(name)
  local s = name:gsub("[^%w_]", "_")
  if s:match("^%d") then s = "_" .. s end
  return s
end

-- A real literal that reads back as the same value.
function syntax.real_literal(v, dtype)
  local s
  if v == math.floor(v) and math.abs(v) < 1e15 then
    s = string.format("%d.0", math.tointeger(v))
  else
    -- the shortest decimal that reads back as the same double
    for digits = 15, 17 do
      s = string.format("%." .. digits .. "g", v)
      if tonumber(s) == v then break end
    end
    if not s:find("[%.eE]") then s = s .. ".0" end
  end
  if dtype == "float32" then s = s .. "f" end
  return s
end

function syntax.c_string(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line
  end
  if lines[#lines] == "" then lines[#lines] = nil end
  local out = {}
  for i, line in ipairs(lines) do
    local esc = line:gsub("\\", "\\\\"):gsub('"', '\\"')
    local nl = (i < #lines or text:sub(-1) == "\n") and "\\n" or ""
    out[#out + 1] = '"' .. esc .. nl .. '"'
  end
  if #out == 0 then return '""' end
  return table.concat(out, "\n")
end

-- A text as the initializer of a char array: a string literal, or, over
-- the 4095 characters C99 compilers must support in one literal (a large
-- graph's summary), a list of character constants.
syntax.MAX_C_STRING = 4095
function syntax.c_text(text)
  if #text < syntax.MAX_C_STRING then return syntax.c_string(text) end
  local out, line = { "{ /* over the 4095 characters of a C99 string literal: its characters */" }, {}
  local ESC = { ["'"] = "'\\''", ["\\"] = "'\\\\'", ["\n"] = "'\\n'" }
  for i = 1, #text do
    local ch = text:sub(i, i)
    local b = ch:byte()
    line[#line + 1] = ESC[ch] or ((b >= 32 and b < 127) and ("'" .. ch .. "'") or tostring(b))
    if #line == 16 or ch == "\n" then
      out[#out + 1] = table.concat(line, ", ") .. ","
      line = {}
    end
  end
  line[#line + 1] = "0}"
  out[#out + 1] = table.concat(line, ", ")
  return table.concat(out, "\n")
end

---------------------------------------------------------------- index expressions

-- An affine index: constant + sum of var * coefficient; inside a time loop
-- the view's offset also moves with t.
function syntax.index(v, r, c)
  local const = v.off
  local terms = {} -- {coefficient, variable}
  local function add(x, stride)
    if stride == 0 then return end
    if type(x) == "number" then
      const = const + x * stride
    else
      terms[#terms + 1] = { stride, x }
    end
  end
  add("t", v.toff)
  add("L", v.loff)
  add(r, v.strides[1])
  add(c, v.strides[2])
  local text = ""
  for i, term in ipairs(terms) do
    local k, x = term[1], term[2]
    local mag = math.abs(k) == 1 and x or (x .. " * " .. math.abs(k))
    if i == 1 then
      text = (k < 0 and "-" or "") .. mag
    else
      text = text .. (k < 0 and " - " or " + ") .. mag
    end
  end
  if text == "" then return tostring(const) end
  if const > 0 then return text .. " + " .. const end
  if const < 0 then return text .. " - " .. -const end
  return text
end

-- A loop bound in C: a number, or c + k * L.
function syntax.bound(x)
  if type(x) == "number" then return tostring(x) end
  local text = x.l == 1 and "L" or (x.l .. " * L")
  if x.c > 0 then return text .. " + " .. x.c end
  if x.c < 0 then return text .. " - " .. -x.c end
  return text
end

-- "{d0, d1, d2, d3}"'s inside for a shape of rank up to 4.
function syntax.dims_list(dims)
  local t = {}
  for i = 1, 4 do
    t[i] = tostring(dims[i] or 0)
  end
  return table.concat(t, ", ")
end

return syntax
