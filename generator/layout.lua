-- Weights laid out for their access pattern. Backward multiplies by the
-- transpose of a weight (d(loss)/dh = dz @ recurrent_kernel^T): read in place,
-- that walks the weight down its columns, which no vector unit likes. This
-- pass gives each such weight a transposed copy (a "wtrans" buffer, filled
-- once per call before anything reads it) and points the products at it, so
-- every big product streams rows. Knows nothing of C.
local ir = require("ir")

local layout = {}

-- The view of `b` (a transposed view of weight P, R x C: strides 1 and C) on
-- P's transposed copy T: b(p, j) = P[off + p + j * C] = T[c0 + p][r0 + j]
-- with off = r0 * C + c0.
local function on_transpose(b, tbuf)
  local P = b.buf
  local C, R = P.cols, P.rows
  local r0, c0 = b.off // C, b.off % C
  return ir.view(tbuf, c0 * R + r0, b.dims[1], b.dims[2], R, 1)
end

-- ops: a backward program; `min_size`: products of at most this many
-- multiply-adds stay as they are. Returns the new op list (the copies
-- first); the copies' buffers are added to prog.
function layout.transpose_weights(prog, ops, min_size)
  local copies, copy_ops = {}, {}
  local function visit(list)
    local out = {}
    for _, op in ipairs(list) do
      if op.op == "loop" then
        out[#out + 1] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse, body = visit(op.body),
          note = op.note }
      elseif op.op == "matmul" and op.b.buf.kind == "param" and op.b.buf.rows > 1 and op.b.strides[1] == 1
        and op.b.strides[2] == op.b.buf.cols and op.b.toff == 0 and op.b.loff == 0 and ir.op_size(op) > min_size then
        local P = op.b.buf
        local t = copies[P]
        if not t then
          t = prog.by_name["wtrans:" .. P.name]
            or ir.buffer(prog, "wtrans:" .. P.name, "wtrans", P.cols, P.rows).buf
          copies[P] = t
          copy_ops[#copy_ops + 1] = { op = "map", out = ir.full(t), expr = ir.E.arg(1),
            args = { ir.transpose(ir.full(P)) }, note = { text = "the products below read it row by row" } }
        end
        local new = {}
        for k, v in pairs(op) do
          new[k] = v
        end
        new.b = on_transpose(op.b, t)
        out[#out + 1] = new
      else
        out[#out + 1] = op
      end
    end
    return out
  end
  local body = visit(ops)
  for i = #copy_ops, 1, -1 do
    table.insert(body, 1, copy_ops[i])
  end
  return body
end

-- Weight gradients out of time loops. Backward through time accumulates,
-- at every step t, grad(W) += a_t^T b_t (a_t a column: the previous state or
-- the input row, b_t the row of pre-activation gradients), a product of
-- depth 1 that reloads the whole gradient per step. When a_t and b_t move one
-- row per step and keep their values to the end of the loop, the same sum is
-- one product of depth (steps) after the loop: grad(W) += A^T B over all the
-- loop's rows. Loops with run-time bounds are left as they are.

-- Whether the rows `r` reads (moving r.toff per step, one row wide) hold, at
-- the end of the loop, what they held when op `at` of the body read them.
local function rows_final(r, body, at, reverse)
  local s = r.toff
  if s == 0 or r.loff ~= 0 then return false end
  local step = math.abs(s)
  if (r.off % step) + (r.dims[1] - 1) * math.abs(r.strides[1]) + (r.dims[2] - 1) * math.abs(r.strides[2]) >= step
  then
    return false
  end
  for idx, w in ipairs(ir.flatten(body)) do
    local o = w.out
    if o.buf == r.buf then
      if o.toff ~= s or o.loff ~= 0 or o.dims[1] ~= 1 then return false end
      local delta = (o.off // step - r.off // step) * (s > 0 and 1 or -1)
      -- the write of iteration t lands in the rows iteration t + delta reads
      if delta == 0 then
        if idx >= at then return false end
      else
        local later = (delta > 0) ~= (reverse == true)
        if not later then return false end
      end
    end
  end
  return true
end

local function hoistable(op, body, at, loop)
  if op.op ~= "matmul" or not op.acc or op.out.buf.kind ~= "pgrad" then return false end
  if op.out.toff ~= 0 or op.out.loff ~= 0 or op.a.dims[2] ~= 1 then return false end
  if type(loop.first) ~= "number" or type(loop.last) ~= "number" then return false end
  for _, other in ipairs(ir.flatten(body)) do
    for _, v in ipairs(ir.op_reads(other)) do
      if v.buf == op.out.buf and other ~= op then return false end
    end
  end
  -- a_t is an m x 1 column; as rows it moves like its buffer's rows
  local a_rows = ir.transpose(op.a)
  return rows_final(a_rows, body, at, loop.reverse) and rows_final(op.b, body, at, loop.reverse)
end

function layout.hoist_weight_gradients(ops)
  local out = {}
  for _, op in ipairs(ops) do
    if op.op == "loop" then
      local body, after = {}, {}
      local flat_index, nested = {}, false
      for i, b in ipairs(op.body) do
        flat_index[b] = i
        nested = nested or b.op == "loop"
      end
      for _, b in ipairs(op.body) do
        if not nested and hoistable(b, op.body, flat_index[b], op) then
          local n = op.last - op.first + 1
          local a, bv = b.a, b.b
          after[#after + 1] = {
            op = "matmul", acc = true, out = b.out, note = b.note,
            a = ir.view(a.buf, a.off + op.first * a.toff, a.dims[1], n, a.strides[1], a.toff),
            b = ir.view(bv.buf, bv.off + op.first * bv.toff, n, bv.dims[2], bv.toff, bv.strides[2]),
          }
        else
          body[#body + 1] = b
        end
      end
      if #body > 0 then
        out[#out + 1] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse, body = body,
          note = op.note }
      end
      for _, h in ipairs(after) do
        out[#out + 1] = h
      end
    else
      out[#out + 1] = op
    end
  end
  return out
end

-- Elementwise ops side by side. A layer writes each gate block with its own
-- op (LSTM: i, f, c, o); two consecutive maps that compute the same
-- expression on neighbouring column blocks (gates[:, 0:8] and gates[:, 8:16]
-- from z[:, 0:8], bias[0:8] and z[:, 8:16], bias[8:16]) are one op over the
-- joined block: one loop instead of two, longer vectors.

-- Whether view b continues view a to the right: the same rows, b's columns
-- right after a's.
local function continues(a, b)
  return a.buf == b.buf and a.dims[1] == b.dims[1] and a.strides[1] == b.strides[1] and a.strides[2] == 1
    and b.strides[2] == 1 and a.toff == b.toff and a.loff == b.loff and b.off == a.off + a.dims[2]
end

local function joined(a, b)
  return ir.view(a.buf, a.off, a.dims[1], a.dims[2] + b.dims[2], a.strides[1], 1, a.toff, a.loff)
end

local function same_expr(x, y)
  if type(x) ~= "table" or type(y) ~= "table" then return x == y end
  if #x ~= #y then return false end
  for i = 1, #x do
    if not same_expr(x[i], y[i]) then return false end
  end
  return true
end

local function merge_maps(a, b)
  if a.op ~= "map" or b.op ~= "map" or a.acc ~= b.acc or #a.args ~= #b.args then return nil end
  if not continues(a.out, b.out) or not same_expr(a.expr, b.expr) then return nil end
  -- a ring buffer (a streaming convolution's receptive field) is addressed
  -- one row at a time: its rows are not neighbours in storage
  if a.out.buf.ring then return nil end
  local args = {}
  for i, x in ipairs(a.args) do
    -- the merged op must not read what either half writes
    if x.buf == a.out.buf or b.args[i].buf == a.out.buf then return nil end
    if x.buf.ring or not continues(x, b.args[i]) then return nil end
    args[i] = joined(x, b.args[i])
  end
  local note = a.note
  if a.note and b.note and a.note.text and b.note.text and a.note.text ~= b.note.text then
    note = { layer = a.note.layer, backward = a.note.backward, text = a.note.text .. ", " .. b.note.text }
  end
  return { op = "map", out = joined(a.out, b.out), expr = a.expr, args = args, acc = a.acc, note = note }
end

function layout.coalesce(ops)
  local out = {}
  for _, op in ipairs(ops) do
    if op.op == "loop" then
      out[#out + 1] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse,
        body = layout.coalesce(op.body), note = op.note }
    else
      local merged = out[#out] and merge_maps(out[#out], op)
      if merged then out[#out] = merged else out[#out + 1] = op end
    end
  end
  return out
end

-- Products by a transposed weight of more than this many multiply-adds read
-- a transposed copy: every one (a copy costs one pass over the weight per
-- call; a product reads the weight once per sample and step).
layout.TRANSPOSE_MIN_MADDS = 0

-- The pass: a new unit whose backward programs are laid out.
function layout.pass(u)
  local r = {}
  for k, v in pairs(u) do
    r[k] = v
  end
  r.prog = ir.extend(u.prog)
  r.forward = layout.coalesce(u.forward)
  if u.forward_train then r.forward_train = layout.coalesce(u.forward_train) end
  for _, name in ipairs({ "backward", "backward_loss", "backward_train_loss" }) do
    if u[name] then
      r[name] = layout.coalesce(layout.transpose_weights(r.prog, layout.hoist_weight_gradients(u[name]),
        layout.TRANSPOSE_MIN_MADDS))
    end
  end
  if u.stream then
    r.stream = {}
    for k, v in pairs(u.stream) do
      r.stream[k] = v
    end
    r.stream.forward = layout.coalesce(u.stream.forward)
  end
  return r
end

return layout
