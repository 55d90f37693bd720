-- Element-by-element views of IR programs, for tests at small sizes: every
-- index a view addresses, every op as it executes (loop bodies once per
-- iteration), every run-time length of a unit of variable length. The
-- generator itself never walks elements (region.lua); these are the
-- independent, exhaustive definitions tests compare it against.
local ir = require("ir")

local elements = {}

-- Every op as it executes for length L: loop bodies expanded for each t.
-- Returns a list of {op = concrete op, source = the op in the program, top =
-- its top-level op}.
function elements.expand(ops, L)
  local out = {}
  for _, op in ipairs(ops) do
    if op.op == "loop" then
      for _, t in ipairs(ir.iterations(op, L)) do
        for _, b in ipairs(op.body) do
          out[#out + 1] = { op = ir.instantiate(b, t, L), source = b, top = op }
        end
      end
    else
      out[#out + 1] = { op = ir.instantiate(op, 0, L), source = op, top = op }
    end
  end
  return out
end

-- Every run-time length of a program: its one length, or for a unit of
-- variable length every length up to its maximum.
function elements.lengths(prog)
  local max = prog.max_steps
  if not prog.variable then return { max or 0 } end
  local ls = {}
  for L = 1, max do
    ls[#ls + 1] = L
  end
  return ls
end

-- Calls fn(index) for every element a view addresses, row-major.
function elements.each_index(v, fn)
  assert(v.toff == 0 and v.loff == 0, "each_index on a view that moves: instantiate it first")
  for r = 0, v.dims[1] - 1 do
    for c = 0, v.dims[2] - 1 do
      fn(v.off + r * v.strides[1] + c * v.strides[2])
    end
  end
end

-- True when no two elements of the view share storage.
function elements.distinct(v)
  local seen = {}
  local ok = true
  elements.each_index(v, function(i)
    if seen[i] then ok = false end
    seen[i] = true
  end)
  return ok
end

return elements
