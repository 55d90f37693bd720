-- Symbolic regions of buffers, for analyses whose cost must not grow with the
-- sequence length (simplify.lua, the bounds checks of builder.lua).
--
-- Affine expressions. An index in the IR is c + k * t + l * L: t the time
-- loop's variable, L the run-time sequence length of a unit generated for any
-- length up to T. Here such an expression is {c = c, t = k, l = l}.
--
-- Domains. A question ("is this index always below that one?") is asked for
-- every point of a domain: L in [L0, L1] (L fixed at T when the unit has one
-- length) and, inside a loop, t in [lo(L), hi(L)] (affine in L). The points
-- form a convex polygon whose corners are at the two extreme feasible L and
-- the two ends of t's range there; an affine function is non-negative on
-- every integer point exactly when it is at the corners (the corners are
-- integer points). So every question costs a handful of evaluations, whatever
-- T is.
--
-- Rectangles. A view of a buffer of R x C reals, of the shapes the layers and
-- autodiff make (a block of rows and columns, its transpose, a row broadcast,
-- a contiguous span of a one-row buffer), covers a rectangle of the buffer:
-- rows [r0, r1] x columns [c0, c1], each bound affine. A view of any other
-- shape is taken as the whole buffer, which every analysis treats
-- conservatively.
local region = {}

---------------------------------------------------------------- affine expressions

local function A(c, t, l)
  return { c = c, t = t or 0, l = l or 0 }
end
region.affine = A

function region.add(a, b)
  return A(a.c + b.c, a.t + b.t, a.l + b.l)
end

function region.sub(a, b)
  return A(a.c - b.c, a.t - b.t, a.l - b.l)
end

function region.plus(a, k)
  return A(a.c + k, a.t, a.l)
end

-- a with t replaced by the affine g (g may hold t itself: a range's end).
function region.subst_t(a, g)
  return A(a.c + a.t * g.c, a.t * g.t, a.l + a.t * g.l)
end

-- A loop bound of the IR (a number, or {c = c, l = k} for c + k * L).
function region.bound(x)
  if type(x) == "number" then return A(x) end
  return A(x.c, 0, x.l)
end

function region.equal(a, b)
  return a.c == b.c and a.t == b.t and a.l == b.l
end

local function at(a, t, L)
  return a.c + a.t * t + a.l * L
end
region.at = at

function region.text(a)
  local parts = {}
  if a.t ~= 0 then parts[#parts + 1] = (a.t == 1 and "" or a.t == -1 and "-" or (a.t .. "*")) .. "t" end
  if a.l ~= 0 then parts[#parts + 1] = (a.l == 1 and "" or a.l == -1 and "-" or (a.l .. "*")) .. "L" end
  if a.c ~= 0 or #parts == 0 then parts[#parts + 1] = tostring(a.c) end
  return (table.concat(parts, "+"):gsub("%+%-", "-"))
end

---------------------------------------------------------------- domains

-- L in [L0, L1]; t absent (outside loops) or in [lo, hi], affine in L.
function region.domain(L0, L1, lo, hi)
  return { L0 = L0, L1 = L1, lo = lo, hi = hi }
end

local function floor_div(a, b)
  return a // b
end
local function ceil_div(a, b)
  return -((-a) // b)
end

-- The lengths L at which a domain has points: L0, L1 (L0 > L1 when none).
function region.lengths(d)
  local La, Lb = d.L0, d.L1
  if d.lo then
    -- feasible L: hi(L) - lo(L) >= 0
    local g0, g1 = d.hi.c - d.lo.c, d.hi.l - d.lo.l
    if g1 == 0 then
      if g0 < 0 then La = Lb + 1 end
    elseif g1 > 0 then
      La = math.max(La, ceil_div(-g0, g1))
    else
      Lb = math.min(Lb, floor_div(g0, -g1))
    end
  end
  return La, Lb
end

-- The corners of a domain: a list of {t, L} (t = 0 outside loops); empty
-- when no point satisfies the constraints.
function region.corners(d)
  if d.corners then return d.corners end
  local La, Lb = region.lengths(d)
  local corners = {}
  if La <= Lb then
    for _, L in ipairs({ La, Lb }) do
      if d.lo then
        corners[#corners + 1] = { at(d.lo, 0, L), L }
        corners[#corners + 1] = { at(d.hi, 0, L), L }
      else
        corners[#corners + 1] = { 0, L }
      end
    end
  end
  d.corners = corners
  return corners
end

function region.empty(d)
  return #region.corners(d) == 0
end

-- a >= 0 at every point of d (true when d is empty).
function region.nonneg(a, d)
  if not d.lo and a.t ~= 0 then error("internal: an index moves with t outside a loop") end
  for _, p in ipairs(region.corners(d)) do
    if at(a, p[1], p[2]) < 0 then return false end
  end
  return true
end

-- a <= b everywhere in d.
function region.le(a, b, d)
  return region.nonneg(region.sub(b, a), d)
end

-- The least and greatest value of a over d (nil, nil when d is empty).
function region.range(a, d)
  local lo, hi
  for _, p in ipairs(region.corners(d)) do
    local v = at(a, p[1], p[2])
    lo = (lo == nil or v < lo) and v or lo
    hi = (hi == nil or v > hi) and v or hi
  end
  return lo, hi
end

---------------------------------------------------------------- rectangles

local function rect(buf, r0, r1, c0, c1)
  return { buf = buf, r0 = r0, r1 = r1, c0 = c0, c1 = c1 }
end
region.rect = rect

function region.whole(buf)
  return rect(buf, A(0), A(buf.rows - 1), A(0), A(buf.cols - 1))
end

-- The rectangle a view covers, or the whole buffer for a view of another
-- shape. The second result is true when the rectangle is exact (the view
-- covers every element of it).
function region.of_view(v)
  local buf = v.buf
  local R, C = buf.rows, buf.cols
  local n1, n2 = v.dims[1], v.dims[2]
  local s1, s2 = v.strides[1], v.strides[2]
  if n1 == 1 then s1 = 0 end
  if n2 == 1 then s2 = 0 end
  -- a row broadcast covers its one row
  if s1 == 0 then n1 = 1 end
  if s2 == 0 then n2 = 1 end
  local height, width
  if R == 1 then
    -- a one-row buffer: a contiguous span of it, in either orientation
    local span = n1 * n2
    local contiguous = (n1 == 1 or n2 == 1 or (s2 == 1 and s1 == n2) or (s1 == 1 and s2 == n1))
    if not contiguous or (n1 > 1 and s1 == 0) then return region.whole(buf), false end
    local c0 = A(v.off, v.toff, v.loff)
    return rect(buf, A(0), A(0), c0, region.plus(c0, span - 1)), true
  end
  if (s2 == 1 or n2 == 1) and (s1 == C or n1 == 1) then
    height, width = n1, n2
  elseif (s1 == 1 or n1 == 1) and (s2 == C or n2 == 1) then
    height, width = n2, n1 -- a transposed block
  else
    return region.whole(buf), false
  end
  if v.toff % C ~= 0 or v.loff % C ~= 0 then return region.whole(buf), false end
  local col = v.off % C
  if col + width > C then return region.whole(buf), false end
  local r0 = A(v.off // C, v.toff // C, v.loff // C)
  return rect(buf, r0, region.plus(r0, height - 1), A(col), A(col + width - 1)), true
end

-- Whether no two elements of a view share storage.
function region.distinct(v)
  local n1, n2, s1, s2 = v.dims[1], v.dims[2], math.abs(v.strides[1]), math.abs(v.strides[2])
  if n1 == 1 and n2 == 1 then return true end
  if n1 == 1 then return s2 ~= 0 end
  if n2 == 1 then return s1 ~= 0 end
  if s1 == 0 or s2 == 0 then return false end
  return s1 >= n2 * s2 or s2 >= n1 * s1
end

-- inner is inside outer at every point of d.
function region.contains(outer, inner, d)
  if outer.buf ~= inner.buf then return false end
  local le = region.le
  return le(outer.r0, inner.r0, d) and le(inner.r1, outer.r1, d) and le(outer.c0, inner.c0, d)
    and le(inner.c1, outer.c1, d)
end

-- a and b share no element at any point of d.
function region.disjoint(a, b, d)
  if a.buf ~= b.buf then return true end
  local le, plus = region.le, region.plus
  return le(plus(a.r1, 1), b.r0, d) or le(plus(b.r1, 1), a.r0, d) or le(plus(a.c1, 1), b.c0, d)
    or le(plus(b.c1, 1), a.c0, d)
end

-- The rectangle an affine-in-t rectangle sweeps while t runs over [from, to]
-- (affine, possibly in an enclosing t and L). The second result is true when
-- the sweep covers every element of that hull: the rectangle moves along one
-- axis only, by at most its extent per step, and `nonempty` says the range
-- holds at least one t (else the hull of an empty range is only guaranteed
-- empty when the rectangle moves exactly its extent per step).
function region.sweep(r, from, to, nonempty)
  local function lo(a)
    return region.subst_t(a, a.t >= 0 and from or to)
  end
  local function hi(a)
    return region.subst_t(a, a.t >= 0 and to or from)
  end
  local swept = rect(r.buf, lo(r.r0), hi(r.r1), lo(r.c0), hi(r.c1))
  local rows_move = r.r0.t ~= 0 or r.r1.t ~= 0
  local cols_move = r.c0.t ~= 0 or r.c1.t ~= 0
  local exact
  if rows_move and cols_move then
    exact = false
  elseif not rows_move and not cols_move then
    exact = nonempty
  else
    local a0, a1 = rows_move and r.r0 or r.c0, rows_move and r.r1 or r.c1
    local step, extent = math.abs(a0.t), region.sub(a1, a0)
    local fixed_extent = extent.t == 0 and extent.l == 0
    exact = a0.t == a1.t and fixed_extent and
      ((step == extent.c + 1) or (nonempty and step <= extent.c + 1))
  end
  return swept, exact
end

-- Merges rectangles of one buffer that together form a bigger one (same
-- columns and adjacent rows, or the other way round), at every point of d.
-- Returns a new list.
function region.merge(rects, d)
  local list = {}
  for i, r in ipairs(rects) do
    list[i] = r
  end
  local le, plus = region.le, region.plus
  local function same(a, b)
    return region.equal(a, b) or (le(a, b, d) and le(b, a, d))
  end
  local function lower(a, b)
    if le(a, b, d) then return a end
    if le(b, a, d) then return b end
  end
  local function upper(a, b)
    if le(a, b, d) then return b end
    if le(b, a, d) then return a end
  end
  local function join(a, b)
    if a.buf ~= b.buf then return nil end
    if same(a.c0, b.c0) and same(a.c1, b.c1) and le(a.r0, plus(b.r1, 1), d) and le(b.r0, plus(a.r1, 1), d) then
      local r0, r1 = lower(a.r0, b.r0), upper(a.r1, b.r1)
      if r0 and r1 then return rect(a.buf, r0, r1, a.c0, a.c1) end
    elseif same(a.r0, b.r0) and same(a.r1, b.r1) and le(a.c0, plus(b.c1, 1), d) and le(b.c0, plus(a.c1, 1), d) then
      local c0, c1 = lower(a.c0, b.c0), upper(a.c1, b.c1)
      if c0 and c1 then return rect(a.buf, a.r0, a.r1, c0, c1) end
    end
    return nil
  end
  local changed = true
  while changed do
    changed = false
    for i = 1, #list do
      for j = i + 1, #list do
        local m = join(list[i], list[j])
        if m then
          list[i] = m
          table.remove(list, j)
          changed = true
          break
        end
      end
      if changed then break end
    end
  end
  return list
end

-- r is inside the union of `rects` at every point of d (as far as merging
-- them into rectangles shows).
function region.covered(r, rects, d)
  for _, m in ipairs(region.merge(rects, d)) do
    if region.contains(m, r, d) then return true end
  end
  return false
end

return region
