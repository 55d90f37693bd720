-- The IR as text a person reads: views in NumPy's slice notation (z[t, 0:3],
-- h[t-1], kernel^T), expressions in infix, an op per line with the layer it
-- belongs to and what it computes. `rnnc generate --dump-ir PASS` prints a
-- unit with it, and the C writer puts an op's line in a comment above its
-- code.
local ir = require("ir")
local region = require("region")

local irtext = {}

-- A buffer's name as read from inside layer `layer` (its own buffers
-- without the layer's prefix): gradients as d<name>, a weight's transposed
-- copy as <name>^T.
local function buffer_name(buf, layer)
  local name, prefix = buf.name, ""
  local kind = buf.kind
  if kind == "tmp" or kind == "pgrad" then
    name, prefix = name:gsub("^%a+:", ""), "d"
  elseif kind == "wtrans" then
    name = name:gsub("^wtrans:", "")
  elseif kind == "state" then
    name = name:gsub("^state:", "") .. "/state"
  end
  if layer and name:sub(1, #layer + 1) == layer .. "/" then name = name:sub(#layer + 2) end
  if prefix == "d" and name:find("/", 1, true) then
    name = name:gsub("([^/]+)$", "d%1")
  else
    name = prefix .. name
  end
  if kind == "wtrans" then name = name .. "^T" end
  return name
end
irtext.buffer_name = buffer_name

local function slice(a, b)
  -- a..b inclusive as NumPy's a:b+1
  if region.equal(a, b) then return region.text(a) end
  return region.text(a) .. ":" .. region.text(region.plus(b, 1))
end

-- A view as text. `layer` shortens the names of that layer's buffers.
function irtext.view(v, layer)
  local buf = v.buf
  local name = buffer_name(buf, layer)
  local r, exact = region.of_view(v)
  if not exact then return name .. "{view}" end
  -- transposed: the view's rows walk along the buffer's columns (a column
  -- broadcast, stride 0, is not a transpose)
  local transposed = buf.rows > 1 and buf.cols > 1 and v.dims[1] > 1 and v.strides[1] == 1 and v.strides[2] ~= 0
  local all_rows = region.equal(r.r0, region.affine(0)) and region.equal(r.r1, region.affine(buf.rows - 1))
  local all_cols = region.equal(r.c0, region.affine(0)) and region.equal(r.c1, region.affine(buf.cols - 1))
  local idx
  if buf.rows == 1 then
    idx = all_cols and "" or ("[" .. slice(r.c0, r.c1) .. "]")
  elseif all_cols then
    idx = all_rows and "" or ("[" .. slice(r.r0, r.r1) .. "]")
  else
    idx = "[" .. (all_rows and ":" or slice(r.r0, r.r1)) .. ", " .. slice(r.c0, r.c1) .. "]"
  end
  return name .. idx .. (transposed and "^T" or "")
end

-- An elementwise expression with its args rendered by arg(i); parentheses
-- where a part binds less than its place needs (sums 1, products 2,
-- negation 3; the right side of a difference or a product binds tighter).
function irtext.expr(e, arg)
  local function go(x, outer)
    local k = x[1]
    local text, p
    if k == "arg" then
      return arg(x[2])
    elseif k == "const" then
      local c = x[2]
      return c == math.floor(c) and math.abs(c) < 1e15 and string.format("%d", math.tointeger(c) or c)
        or string.format("%.9g", c)
    elseif k == "add" then
      text, p = go(x[2], 1) .. " + " .. go(x[3], 1), 1
    elseif k == "sub" then
      text, p = go(x[2], 1) .. " - " .. go(x[3], 1.5), 1
    elseif k == "mul" then
      text, p = go(x[2], 2) .. " * " .. go(x[3], 2.5), 2
    elseif k == "neg" then
      text, p = "-" .. go(x[2], 3), 3
    elseif k == "noise" then
      return string.format("noise%d(%.9g, salt %s%s%s)", x[2], x[3], tostring(x[4]),
        x[5] and (", seed " .. tostring(x[5])) or "", x[6] and "" or ", shared by the samples")
    elseif k == "inv_count" then
      return string.format("1/(n*%s)", x[3] and "L" or tostring(x[2]))
    elseif k == "max" then
      return "max(" .. go(x[2], 0) .. ", " .. go(x[3], 0) .. ")"
    else
      return k .. "(" .. go(x[2], 0) .. ")"
    end
    if p < outer then return "(" .. text .. ")" end
    return text
  end
  return go(e, 0)
end

-- The layer an op belongs to: its note's, else its output buffer's.
function irtext.layer_of(op)
  if op.note and op.note.layer then return op.note.layer end
  local name = op.out and op.out.buf.name:gsub("^%a+:", "") or ""
  return name:match("^([^/]+)/") or nil
end

-- What one op computes, in the names of `layer`.
function irtext.op(op, layer)
  local function v(x)
    return irtext.view(x, layer)
  end
  local set = op.acc and " += " or " = "
  if op.op == "matmul" then
    return v(op.out) .. set .. v(op.a) .. " @ " .. v(op.b)
  elseif op.op == "map" and op.out.buf.kind == "wtrans" then
    return v(op.out) .. " = a copy of " .. v(op.args[1])
  elseif op.op == "map" then
    return v(op.out) .. set .. irtext.expr(op.expr, function(i)
      return v(op.args[i])
    end)
  elseif op.op == "softmax" then
    return v(op.out) .. " = " .. (op.log and "log_softmax(" or "softmax(") .. v(op.a) .. ")"
  elseif op.op == "softmax_grad" and op.log then
    return v(op.out) .. set .. v(op.dy) .. " - exp(" .. v(op.y) .. ") * sum(" .. v(op.dy) .. ")"
  elseif op.op == "softmax_grad" then
    return v(op.out) .. set .. v(op.y) .. " * (" .. v(op.dy) .. " - sum(" .. v(op.dy) .. " * " .. v(op.y) .. "))"
  elseif op.op == "fill" then
    return v(op.out) .. " = " .. tostring(op.value)
  elseif op.op == "gather" then
    return v(op.out) .. " = " .. v(op.a) .. "[" .. v(op.idx) .. "]"
  elseif op.op == "scatter" then
    return v(op.out) .. "[" .. v(op.idx) .. "] += " .. v(op.dy)
  end
  error("internal: no text for op " .. tostring(op.op))
end

-- A loop's range of t, with T the maximum length (a number) and L the
-- run-time one.
function irtext.range(loop)
  local a, b = region.text(region.bound(loop.first)), region.text(region.bound(loop.last))
  if loop.reverse then return "t = " .. b .. " down to " .. a end
  return "t = " .. a .. ".." .. b
end

-- The comment line of an op: "layer: what it computes (the layer's words)".
function irtext.comment(op, loop)
  local layer = irtext.layer_of(op)
  local head = layer or "unit"
  if op.note and op.note.backward then head = head .. ", backward" end
  local text = head .. ": " .. irtext.op(op, layer)
  local words = op.note and op.note.text
  if words then text = text .. " (" .. words .. ")" end
  if loop then text = text .. ", " .. irtext.range(loop) end
  return text
end

-- Multiply-adds of a product, elements of any other op, per sample, with
-- a loop's body counted once per iteration at the maximum length T.
function irtext.count(ops, T)
  local madds, elements = 0, 0
  local function go(list, times)
    for _, op in ipairs(list) do
      if op.op == "loop" then
        local a, b = region.bound(op.first), region.bound(op.last)
        local n = region.at(b, 0, T) - region.at(a, 0, T) + 1
        if n > 0 then go(op.body, times * n) end
      elseif op.op == "matmul" then
        madds = madds + times * op.out.dims[1] * op.out.dims[2] * op.a.dims[2]
      else
        elements = elements + times * ir.count(op.out)
      end
    end
  end
  go(ops, 1)
  return madds, elements
end

---------------------------------------------------------------- a whole unit

local KIND_ORDER = { "param", "act", "zero", "output", "input", "pgrad", "tmp", "wtrans", "state" }

local function program_lines(out, title, ops, T)
  local madds, elements = irtext.count(ops, T)
  out[#out + 1] = string.format("%s: %d multiply-adds, %d other element ops per sample", title, madds, elements)
  local function go(list, indent)
    for _, op in ipairs(list) do
      if op.op == "loop" then
        out[#out + 1] = indent .. "for " .. irtext.range(op) .. ":"
        go(op.body, indent .. "  ")
      else
        local layer = irtext.layer_of(op)
        local words = op.note and op.note.text
        out[#out + 1] = string.format("%s%s: %s%s", indent, (layer or "unit") ..
          (op.note and op.note.backward and " (backward)" or ""), irtext.op(op, layer),
          words and ("  # " .. words) or "")
      end
    end
  end
  go(ops, "  ")
end

-- The text of a unit after pass `pass` (pipeline.lua).
function irtext.unit(u, pass)
  local out = {}
  local iface = u.interface
  out[#out + 1] = string.format("# after %s: batch %d, %s%d steps, %d parameters", pass, iface.batch,
    iface.variable and "any length up to " or "", iface.max_steps, iface.n_params)
  out[#out + 1] = "buffers (per sample unless param, pgrad or wtrans):"
  for _, kind in ipairs(KIND_ORDER) do
    for _, buf in ipairs(u.prog.buffers) do
      if buf.kind == kind then
        out[#out + 1] = string.format("  %-8s %-40s %6d x %-6d %s", kind, buf.name, buf.rows, buf.cols,
          buf.meaning or "")
      end
    end
  end
  local T = iface.max_steps
  program_lines(out, "forward", u.forward, T)
  if u.backward then program_lines(out, "backward (from dy)", u.backward, T) end
  if u.backward_loss then program_lines(out, "backward (from the losses, dloss)", u.backward_loss, T) end
  if u.forward_train then program_lines(out, "forward_train (training: batch statistics)", u.forward_train, T) end
  if u.backward_train_loss then
    program_lines(out, "backward_train (from the losses, dloss)", u.backward_train_loss, T)
  end
  if u.stream then program_lines(out, "stream_step (one timestep)", u.stream.forward, 1) end
  return table.concat(out, "\n") .. "\n"
end

return irtext
