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
-- multiply-adds stay as they are (unrolled code reads any layout alike).
-- Returns the new op list (the copies first).
function layout.transpose_weights(prog, ops, min_size)
  local copies, copy_ops = {}, {}
  local function visit(list)
    local out = {}
    for _, op in ipairs(list) do
      if op.op == "loop" then
        out[#out + 1] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse, body = visit(op.body) }
      elseif op.op == "matmul" and op.b.buf.kind == "param" and op.b.buf.rows > 1 and op.b.strides[1] == 1
        and op.b.strides[2] == op.b.buf.cols and op.b.toff == 0 and op.b.loff == 0 and ir.op_size(op) > min_size then
        local P = op.b.buf
        local t = copies[P]
        if not t then
          t = prog.by_name["wtrans:" .. P.name]
            or ir.buffer(prog, "wtrans:" .. P.name, "wtrans", P.cols, P.rows).buf
          copies[P] = t
          copy_ops[#copy_ops + 1] = { op = "map", out = ir.full(t), expr = ir.E.arg(1),
            args = { ir.transpose(ir.full(P)) } }
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

return layout
