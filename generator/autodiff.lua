-- Reverse mode over the IR: the backward program is derived from the forward
-- ops, never written per layer. Each forward op contributes its adjoint ops,
-- in reverse order, accumulating (+=) into gradient buffers; the simplifier
-- then turns first writes into assignments and drops what nobody needs.
local ir = require("ir")

local autodiff = {}

local E = ir.E

-- Buffers whose values depend on something we differentiate with respect to
-- (to a fixed point: a loop carries values from one iteration to the next).
-- A buffer marked no_gradient (a mask, layers/common.lua mask_from) is data
-- computed from the input, never active: nothing is differentiated through
-- it, as Keras's boolean masks carry no gradient.
local function active_set(ops, wrt)
  local active = {}
  for _, b in ipairs(wrt) do
    active[b] = true
  end
  local flat = ir.flatten(ops)
  local changed = true
  while changed do
    changed = false
    for _, op in ipairs(flat) do
      for _, v in ipairs(ir.op_reads(op)) do
        if active[v.buf] and not active[op.out.buf] and not op.out.buf.no_gradient then
          active[op.out.buf] = true
          changed = true
        end
      end
    end
  end
  return active
end

-- Buffers that influence the seeds.
local function relevant_set(ops, seed_bufs)
  local relevant = {}
  for _, b in ipairs(seed_bufs) do
    relevant[b] = true
  end
  local flat = ir.flatten(ops)
  local changed = true
  while changed do
    changed = false
    for k = #flat, 1, -1 do
      local op = flat[k]
      if relevant[op.out.buf] then
        for _, v in ipairs(ir.op_reads(op)) do
          if not relevant[v.buf] then
            relevant[v.buf] = true
            changed = true
          end
        end
      end
    end
  end
  return relevant
end

-- Whether the gradient of seed `s` can be its given buffer itself: the seed
-- is a whole buffer, its gradient a whole input buffer of the same shape,
-- and no relevant op reads the seed (no adjoint adds to its gradient).
local function aliasable(s, fwd_ops, relevant)
  local v, g = s.view, s.grad
  if v.off ~= 0 or ir.count(v) ~= v.buf.size or g.off ~= 0 or ir.count(g) ~= g.buf.size
    or v.buf.rows ~= g.buf.rows or v.buf.cols ~= g.buf.cols or v.toff ~= 0 or v.loff ~= 0 then
    return false
  end
  for _, op in ipairs(ir.flatten(fwd_ops)) do
    if relevant[op.out.buf] then
      for _, r in ipairs(ir.op_reads(op)) do
        if r.buf == v.buf then return false end
      end
    end
  end
  return true
end

-- Builds the backward ops of `fwd_ops` (a list, in forward order).
--   prog      the program the buffers live in (gradient buffers are added to it)
--   seeds     the forward views whose gradients are given: a list of
--             {view, grad}, grad a view (of a buffer of kind input) holding
--             that gradient, of the view's shape
--   wrt       list of buffers to differentiate with respect to
--   grad_of   table buffer -> gradient buffer for wrt buffers whose gradient
--             buffer already exists (pgrad / output); others get a tmp buffer
-- Returns the backward op list, starting with fills of the tmp gradients and
-- the seeds' gradients (a seed that is a whole buffer nothing else reads
-- takes its given buffer as its gradient, without a copy).
function autodiff.backward(prog, fwd_ops, seeds, wrt, grad_of)
  local active = active_set(fwd_ops, wrt)
  local seed_bufs = {}
  for _, s in ipairs(seeds) do
    seed_bufs[#seed_bufs + 1] = s.view.buf
  end
  local relevant = relevant_set(fwd_ops, seed_bufs)
  local grads = {}
  local copied = {}
  for _, s in ipairs(seeds) do
    if aliasable(s, fwd_ops, relevant) then
      grads[s.view.buf] = s.grad.buf
    else
      copied[#copied + 1] = s
    end
  end
  for b, g in pairs(grad_of) do
    grads[b] = g
  end
  local ops = {}
  local target = ops -- where adjoint ops go: the program, or a loop's body
  -- the forward op whose adjoint is being written: its note, marked as its
  -- backward, goes on every op of the adjoint
  local note = nil
  local function emit(op)
    op.note = op.note or note
    target[#target + 1] = op
  end

  local zeroed = {}
  local function grad_buffer(buf)
    local g = grads[buf]
    if g and g.kind == "output" and not zeroed[g] then
      -- a per-sample result (dx) accumulates from zero like any gradient
      zeroed[g] = true
      emit({ op = "fill", out = ir.full(g), value = 0, note = { text = "gradients start at zero" } })
    end
    if not g then
      local name = "d:" .. buf.name
      g = prog.by_name[name]
      if not g then
        -- a batch statistic's gradient sums over the samples too
        ir.buffer(prog, name, buf.kind == "batch" and "batch" or "tmp", buf.rows, buf.cols)
        g = prog.by_name[name]
      end
      grads[buf] = g
      emit({ op = "fill", out = ir.full(g), value = 0, note = { text = "gradients start at zero" } })
    end
    return g
  end
  local function wanted(v)
    return active[v.buf] and relevant[v.buf]
  end
  local function grad_view(v)
    return ir.on(grad_buffer(v.buf), v)
  end

  -- Every wanted buffer's gradient starts at zero (fills come first), then
  -- takes the seeds' gradients.
  for _, op in ipairs(ir.flatten(fwd_ops)) do
    for _, v in ipairs(ir.op_reads(op)) do
      if wanted(v) then grad_buffer(v.buf) end
    end
  end
  for _, s in ipairs(copied) do
    local g = grad_buffer(s.view.buf)
    emit({ op = "map", out = ir.on(g, s.view), expr = E.arg(1), args = { s.grad }, acc = true,
      note = { text = s.note or "the gradient of the loss" } })
  end

  local adjoint
  -- The adjoint of a loop is a loop running the other way over the adjoints
  -- of its body, in reverse order.
  local function adjoint_loop(op)
    local outer = target
    local body = {}
    target = body
    for k = #op.body, 1, -1 do
      adjoint(op.body[k])
    end
    target = outer
    if #body > 0 then
      emit({ op = "loop", first = op.first, last = op.last, reverse = not op.reverse, body = body,
        note = op.note and { layer = op.note.layer, backward = true } })
    end
  end

  adjoint = function(op)
    if op.op == "loop" then
      adjoint_loop(op)
    elseif relevant[op.out.buf] and active[op.out.buf] then
      note = op.note and { layer = op.note.layer, text = op.note.text, backward = true }
      local dout = ir.on(grads[op.out.buf], op.out)
      if op.op == "matmul" then
        -- out = a @ b:  da += dout @ b^T,  db += a^T @ dout
        if wanted(op.a) then
          emit({ op = "matmul", out = grad_view(op.a), a = dout, b = ir.transpose(op.b), acc = true })
        end
        if wanted(op.b) then
          emit({ op = "matmul", out = grad_view(op.b), a = ir.transpose(op.a), b = dout, acc = true })
        end
      elseif op.op == "map" then
        -- out = f(args): d arg_i += dout * df/d arg_i. Adjoint args: dout,
        -- the forward args, then the forward output (for derivatives written
        -- through the output, valid only when the op assigned it).
        local n = #op.args
        local value = (not op.acc) and E.arg(n + 2) or nil
        local shifted = {}
        for i = 1, n do
          shifted[i] = E.arg(i + 1)
        end
        local fexpr = ir.substitute(op.expr, shifted)
        local adj_args = { dout }
        for i = 1, n do
          adj_args[i + 1] = op.args[i]
        end
        adj_args[n + 2] = op.out
        for i, a in ipairs(op.args) do
          if wanted(a) then
            local d = ir.derivative_using_value(fexpr, i + 1, value)
            local expr, args = ir.prune_args(E.mul(E.arg(1), d), adj_args)
            if not (expr[1] == "const" and expr[2] == 0) then
              emit({ op = "map", out = grad_view(a), expr = expr, args = args, acc = true })
            end
          end
        end
      elseif op.op == "softmax" then
        if wanted(op.a) then
          emit({ op = "softmax_grad", out = grad_view(op.a), dy = dout, y = op.out, acc = true, log = op.log })
        end
      elseif op.op == "gather" then
        -- out[i] = a[idx[i]]: the table's gradient takes each row of dout
        -- at its index (a scatter-add, no one-hot); the indices, integers,
        -- have no gradient
        if wanted(op.a) then
          emit({ op = "scatter", out = grad_view(op.a), dy = dout, idx = op.idx, acc = true })
        end
      elseif op.op ~= "fill" then -- a constant fill has no adjoint
        error("no adjoint for op " .. op.op)
      end
      note = nil
    end
  end
  for k = #fwd_ops, 1, -1 do
    adjoint(fwd_ops[k])
  end
  return ops
end

-- The pass: the backward programs of a unit (lower.lua) whose forward
-- program is simplified. Adds the gradient buffers (pgrad "g:<weight>" in
-- the parameters' order, dx, the seed dy, and dloss for the losses) and
-- returns a new unit with `backward` (from d(loss)/dy, every output) and,
-- for a compiled model, `backward_loss`: from dloss, laid out as y, whose
-- part for each output with a loss holds d(loss)/d(output), or
-- d(loss)/d(logits) for a loss Keras computes from them (lower.lua's seeds).
function autodiff.pass(u)
  local prog = ir.extend(u.prog)
  -- integer inputs (Embedding's tokens) have no gradient: dx is not written
  local wrt, grad_of = { not u.x.buf.int and u.x.buf or nil }, {}
  for _, p in ipairs(u.interface.params) do
    -- no gradient for the weights training does not change (moving statistics)
    local pbuf = p.trainable ~= false and prog.by_name[p.name]
    if pbuf then
      wrt[#wrt + 1] = pbuf
      grad_of[pbuf] = ir.buffer(prog, "g:" .. p.name, "pgrad", pbuf.rows, pbuf.cols, { param = p }).buf
    end
  end
  local dx = ir.buffer(prog, "dx", "output", u.x.dims[1], u.x.dims[2])
  grad_of[u.x.buf] = dx.buf
  local dy = ir.buffer(prog, "dy", "input", u.y.dims[1], u.y.dims[2])
  local r = {}
  for k, v in pairs(u) do
    r[k] = v
  end
  r.prog, r.dx, r.dy = prog, dx, dy
  r.backward = autodiff.backward(prog, u.forward, { { view = u.y, grad = dy } }, wrt, grad_of)
  if u.loss_seeds and #u.loss_seeds > 0 then
    -- everything after a loss's logits (the softmax, the output copy) is not
    -- relevant to them, so autodiff leaves it out
    r.dloss = ir.buffer(prog, "dloss", "input", u.y.dims[1], u.y.dims[2])
    local seeds = {}
    for i, s in ipairs(u.loss_seeds) do
      local d = u.interface.outputs[s.output]
      local grad = #u.interface.outputs == 1 and r.dloss or ir.view(r.dloss.buf, d.offset, d.rows, d.cols, d.cols, 1)
      seeds[i] = { view = s.view, grad = grad }
    end
    -- the activity regularizers' penalties: their gradients, written by
    -- loss_grad (cwriter/unit.lua), flow back from the layers' outputs
    for _, a in ipairs(u.activity or {}) do
      seeds[#seeds + 1] = { view = a.view, grad = a.grad, note = "the gradient of its activity_regularizer" }
    end
    -- loss_grad's backward: of the forward, or, in a unit whose training
    -- computes differently (BatchNormalization), of the training forward
    local loss_backward = u.forward_train and "backward_train_loss" or "backward_loss"
    r[loss_backward] = autodiff.backward(prog, u.forward_train or u.forward, seeds, wrt, grad_of)
  end
  return r
end

return autodiff
