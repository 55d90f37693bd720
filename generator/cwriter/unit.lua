-- The unit's interface: the structs, the functions' bodies, the streaming
-- API, the loss, the optimizer's configuration and the descriptor, filled
-- into templates/unit.h.in, unit.c.in and main.c.in. Reads only the unit
-- record the passes produced (pipeline.lua).
local ir = require("ir")
local syntax = require("cwriter.syntax")
local ops = require("cwriter.ops")

local cwriter = {}

---------------------------------------------------------------- the unit

local template = require("template")

local catalog = require("catalog")

-- C names of every buffer: params w_, their gradients g_, activations a_,
-- backward temporaries d_; the caller's arrays by role.
local function buffer_names(prog)
  local names, seen = {}, {}
  for _, buf in ipairs(prog.buffers) do
    local n
    if buf.kind == "param" then
      n = "w_" .. syntax.ident(buf.name)
    elseif buf.kind == "pgrad" then
      n = "g_" .. syntax.ident(buf.name:sub(3))
    elseif buf.kind == "act" then
      n = "a_" .. syntax.ident(buf.name)
    elseif buf.kind == "tmp" then
      n = "d_" .. syntax.ident(buf.name:sub(3))
    elseif buf.kind == "input" or buf.kind == "output" then
      n = syntax.ident(buf.name) .. "_b"
    elseif buf.kind == "state" then
      n = "state_" .. syntax.ident(buf.name:sub(7))
    elseif buf.kind == "wtrans" then
      n = "wt_" .. syntax.ident(buf.name:sub(8))
    elseif buf.kind == "batch" then
      n = "bs_" .. syntax.ident((buf.name:gsub("^d:", "d_")))
    else
      n = "zero_" .. syntax.ident(buf.name)
    end
    if seen[n] then error("two buffers map to the C name " .. n) end
    seen[n] = true
    names[buf] = n
  end
  return names
end

local function referenced(list)
  local used = {}
  for _, op in ipairs(ir.flatten(list)) do
    used[op.out.buf] = true
    for _, v in ipairs(ir.op_reads(op)) do
      used[v.buf] = true
    end
  end
  return used
end

-- A weight's elements through its named field of the params union
-- (`struct` = "p" or "grad"): p->w.lstm_bias, &p->w.lstm_kernel[0][0].
local function weight_field(struct, param)
  local field = string.format("%s->w.%s", struct, syntax.ident(param.name))
  if #param.shape == 1 then return field end
  return "&" .. field .. string.rep("[0]", #param.shape)
end

-- Whether C text uses the identifier `name`.
local function mentions(lines, name)
  for _, line in ipairs(lines) do
    if line:find("%f[%w_]" .. name .. "%f[^%w_]") then return true end
  end
  return false
end

-- The body of a batched function: pointers to every array it uses (the
-- per-sample ones to their first sample's block), then the ops (Writer:ops
-- places the loops over the samples). `caller` maps the caller's arrays
-- (input/output buffer names) to C expressions of their base pointers.
local function batch_body(unit, names, list, opts, caller, extra_used, helpers)
  local iface = unit.interface
  local w = ops.new(opts.dtype, names)
  w.batched, w.batch = true, iface.batch
  local used = referenced(list)
  for b in pairs(extra_used or {}) do
    used[b] = true
  end
  local real = w.real
  local decls = {}
  local function decl(fmt, ...)
    decls[#decls + 1] = string.format(fmt, ...)
  end
  -- weights in the order of the flat parameter vector
  local params = {}
  for _, buf in ipairs(unit.prog.buffers) do
    if buf.kind == "param" or buf.kind == "pgrad" then params[#params + 1] = buf end
  end
  table.sort(params, function(x, y)
    if x.kind ~= y.kind then return x.kind < y.kind end
    return x.param.offset < y.param.offset
  end)
  local p_used, s_used = false, false
  for _, buf in ipairs(params) do
    if used[buf] and buf.kind == "param" then
      decl("const %s *restrict const %s = %s;", real, names[buf], weight_field("p", buf.param))
      p_used = true
    elseif used[buf] and buf.kind == "pgrad" then
      decl("%s *restrict const %s = %s;", real, names[buf], weight_field("grad", buf.param))
    end
  end
  for _, buf in ipairs(unit.prog.buffers) do
    if used[buf] then
      local n = names[buf]
      if buf.kind == "act" or buf.kind == "tmp" then
        -- (the model's integer tokens: int32_t)
        decl("%s *restrict const %s = &s->%s[0][0];", buf.int and "int32_t" or real, n, n)
        w.sample_stride[buf] = buf.size
        s_used = true
      elseif buf.kind == "input" or buf.kind == "output" then
        local c = caller[buf.name]
        if not c then error("no caller array for " .. buf.name) end
        decl("%s%s *const %s = %s;", buf.kind == "input" and "const " or "", real, n, c)
        w.sample_stride[buf] = buf.size
        if buf.name == "dx" then w.optional_out[buf] = "dx" end
      elseif buf.kind == "wtrans" or buf.kind == "batch" then
        -- one copy for every sample of the call
        decl("%s *restrict const %s = s->%s;", real, n, n)
        s_used = true
      elseif buf.kind == "zero" then
        error("the zero buffer " .. buf.name .. " survived simplification")
      end
    end
  end
  if caller.copy_input then
    local n = names[unit.x.buf]
    w:emit(string.format("memcpy(%s, x, sizeof(%s) * (size_t)n * %d);", n, unit.x.buf.int and "int32_t" or real,
      unit.x.buf.size))
  end
  w:ops(list, opts.unroll)
  local prologue = {}
  if not p_used then prologue[#prologue + 1] = "(void)p; /* no weight is read here */" end
  if iface.variable and mentions(w.lines, "L") then
    -- the run-time sequence length (NAME_set_steps); 0 means the maximum
    prologue[#prologue + 1] = string.format("const int L = s->steps > 0 ? s->steps : %d;", iface.max_steps)
    s_used = true
  end
  if not s_used then prologue[#prologue + 1] = "(void)s; /* nothing is kept for backward */" end
  if caller.dx and unit.x.buf.int then prologue[#prologue + 1] = "(void)dx; /* tokens have no gradient */" end
  for _, d in ipairs(decls) do
    prologue[#prologue + 1] = d
  end
  for k in pairs(w.helpers) do
    helpers[k] = true
  end
  return table.concat(prologue, "\n") .. "\n" .. table.concat(w.lines, "\n")
end

-- The streaming API: one timestep of one sample, the recurrent states and the
-- activations of that step kept in the caller's NAME_stream.
local function stream_code(unit, opts, helpers)
  local name, stream = opts.name, unit.stream
  local real = opts.dtype == "float64" and "double" or "float"
  local upper = name:upper()
  if not stream then
    return string.format("/* No streaming API (%s_stream_step): %s. */\n", name, unit.no_stream), "",
      "0, 0, 0, NULL, NULL"
  end
  local names = buffer_names(stream.prog)
  local used = referenced(stream.forward)
  local fields, reset, rings = {}, {}, {}
  local w = ops.new(opts.dtype, names)
  local reads_weights = false
  for _, buf in ipairs(stream.prog.buffers) do
    local n = names[buf]
    if buf.kind == "param" and used[buf] then
      w:emit(string.format("const %s *restrict const %s = %s;", real, n, weight_field("p", buf.param)))
      reads_weights = true
    elseif buf.kind == "act" and used[buf] then
      fields[#fields + 1] = string.format("  /* %s: %s */\n  %s %s[%d];", buf.name,
        (buf.meaning or ""):gsub("^per step, ", ""), real, n, buf.size)
      w:emit(string.format("%s *restrict const %s = st->%s;", real, n, n))
    elseif buf.kind == "state" and buf.ring then
      -- a ring of buf.rows input steps: row j (oldest first) is storage row
      -- (pos + j) % rows; each call moves pos on by one
      local pos = "pos_" .. n:gsub("^state_", "")
      fields[#fields + 1] = string.format("  /* %s */\n  %s %s[%d];\n  int %s; /* the oldest row of %s */",
        buf.meaning or buf.name, real, n, buf.size, pos, n)
      reset[#reset + 1] = string.format("memset(st->%s, 0, sizeof st->%s);", n, n)
      reset[#reset + 1] = string.format("st->%s = 0;", pos)
      w:emit(string.format("%s *restrict const %s = st->%s;", real, n, n))
      w:emit(string.format("const int %s = st->%s;", pos, pos))
      w.ring = w.ring or {}
      w.ring[buf] = { pos = pos }
      rings[#rings + 1] = string.format("st->%s = %s + 1 == %d ? 0 : %s + 1; /* the next oldest row */", pos, pos,
        buf.rows, pos)
    elseif buf.kind == "state" then
      fields[#fields + 1] = string.format("  %s %s[%d]; /* %s's states */", real, n, buf.size, buf.name:sub(7))
      reset[#reset + 1] = string.format("memset(st->%s, 0, sizeof st->%s);", n, n)
      w:emit(string.format("%s *restrict const %s = st->%s;", real, n, n))
    end
  end
  if not reads_weights then w:emit("(void)p; /* the model has no weight */") end
  local xtype = stream.x.buf.int and "int32_t" or real
  w:emit(string.format("const %s *const %s = x_t;", xtype, names[stream.x.buf]))
  w:emit(string.format("%s *const %s = y_t;", real, names[stream.y.buf]))
  w:ops(stream.forward, opts.unroll)
  for _, line in ipairs(rings) do
    w:emit(line)
  end
  for k in pairs(w.helpers) do
    helpers[k] = true
  end
  if #reset == 0 then
    fields[#fields + 1] = "  char unused; /* the model keeps no state */"
    reset[1] = "(void)st;"
  end
  local decl = table.concat({
    "/* Streaming inference: batch 1, one timestep per call, the recurrent state",
    " * kept between calls (real-time audio, control). After NAME_stream_reset,",
    " * the k-th call's y_t is the model's output for the sequence of the k",
    " * timesteps given so far (its last row with return_sequences). */",
    string.format("#define %s_STREAM_INPUT_SIZE %d", upper, stream.input_size),
    string.format("#define %s_STREAM_OUTPUT_SIZE %d", upper, stream.output_size),
    "typedef struct {",
    table.concat(fields, "\n"),
    string.format("} %s_stream;", name),
    "/* Zero state: the next step starts a new sequence. */",
    string.format("void %s_stream_reset(%s_stream *st);", name, name),
    string.format("/* x_t: %s_STREAM_INPUT_SIZE %s, y_t: %s_STREAM_OUTPUT_SIZE. */", upper,
      stream.x.buf.int and string.format("int32_t token (in [0, %d)) per step", stream.x.buf.int) or "reals", upper),
    string.format("void %s_stream_step(const %s_params *p, %s_stream *st, const %s *x_t, %s *y_t);", name, name,
      name, xtype, real),
    "",
  }, "\n"):gsub("NAME_", name .. "_")
  local def = table.concat({
    string.format("void %s_stream_reset(%s_stream *st) {", name, name),
    table.concat(reset, "\n"),
    "}",
    "",
    string.format("void %s_stream_step(const %s_params *p, %s_stream *st, const %s *x_t, %s *y_t) {", name, name,
      name, xtype, real),
    table.concat(w.lines, "\n"),
    "}",
    "",
    string.format("static void %s_stream_reset_any(void *st) {", name),
    string.format("  %s_stream_reset((%s_stream *)st);", name, name),
    "}",
    string.format("static void %s_stream_step_any(const void *p, void *st, const void *x_t, void *y_t) {", name),
    string.format("  %s_stream_step((const %s_params *)p, (%s_stream *)st, (const %s *)x_t, (%s *)y_t);", name, name,
      name, xtype, real),
    "}",
  }, "\n")
  local desc = string.format("sizeof(%s_stream), %d, %d, %s_stream_reset_any, %s_stream_step_any", name,
    stream.input_size, stream.output_size, name, name)
  return decl, def, desc
end

local function dtype_info(dtype)
  if dtype == "float64" then
    return { real = "double", suffix = "f64", enum = "RNNC_F64" }
  end
  return { real = "float", suffix = "f32", enum = "RNNC_F32" }
end

-- The unit's rnnc_optimizer initializer (every field, in rnnc.h's order),
-- from the training configuration's optimizer (training.interface) and the
-- catalog's list of fields.
local function optimizer_config(c)
  local function num(v)
    return syntax.real_literal(v or 0, "float64")
  end
  local function flag(v)
    return v and "1" or "0"
  end
  -- designated initializers: fields left out are zero, which rnnc.h defines as "off"
  local values = { { "kind", catalog.opt_enum(c.kind) } }
  for _, f in ipairs(catalog.optimizer_fields) do
    local v = f.keras and c[f.keras]
    if v == nil then v = c[f.c] end
    values[#values + 1] = { f.c, f.flag and flag(v) or f.int and string.format("%d", v or 0) or num(v) }
  end
  local fields = {}
  for _, f in ipairs(values) do
    if f[2] ~= "0" and f[2] ~= "0.0" then fields[#fields + 1] = "." .. f[1] .. " = " .. f[2] end
  end
  if c.boundaries then -- PiecewiseConstantDecay
    local b, v = {}, {}
    for i, x in ipairs(c.boundaries) do
      b[i] = num(x)
    end
    for i, x in ipairs(c.values) do
      v[i] = num(x)
    end
    fields[#fields + 1] = ".n_boundaries = " .. #b
    fields[#fields + 1] = ".boundaries = {" .. table.concat(b, ", ") .. "}"
    fields[#fields + 1] = ".values = {" .. table.concat(v, ", ") .. "}"
  end
  return "{" .. table.concat(fields, ", ") .. "}"
end

-- The unit's rnnc_loss_config initializer (training.interface's loss);
-- from_logits as the unit calls it (fused with its output activation, or
-- compiled so).
local function loss_config_text(l, from_logits)
  local fields = { ".kind = " .. catalog.loss_enum(l.kind), ".from_logits = " .. (from_logits and "1" or "0") }
  for _, p in ipairs(catalog.loss_params) do
    fields[#fields + 1] = "." .. p.name .. " = " .. syntax.real_literal(l.params[p.name], "float64")
  end
  return "{" .. table.concat(fields, ", ") .. "}"
end

local scratch_meaning
local dims_list = syntax.dims_list

-- What a scratch field holds, per sample: "lstm/z: 3 steps x 12, the
-- gates' pre-activations ...", a gradient as d(loss)/d(...).
function scratch_meaning(buf, iface)
  local shape
  if buf.rows > 1 and buf.rows == iface.max_steps and iface.x_shape[2] then
    shape = string.format("%d steps x %d", buf.rows, buf.cols)
  else
    shape = string.format("%d x %d", buf.rows, buf.cols)
  end
  local name, meaning = buf.name, buf.meaning
  if buf.kind == "tmp" then
    name = buf.name:gsub("^d:", "")
    meaning = "d(loss)/d(" .. name .. ")"
  end
  meaning = meaning and meaning:gsub("^per step, ", "") or nil
  return name .. ": " .. shape .. (meaning and (", " .. meaning) or "")
end

-- The static helpers the lowered ops call; only the ones used, so no
-- compiler warns about an unused function.
local function helper_functions(used, dtype)
  local real = dtype == "float64" and "double" or "float"
  local out = {}
  local constants = ops.HELPER_CONSTANTS
  local f32 = real == "float"
  local functions = { expF = f32 and "rnnc_expf" or "exp", tanhF = f32 and "rnnc_tanhf" or "tanh",
    log1pF = f32 and "log1pf" or "log1p", erfF = f32 and "erff" or "erf", fabsF = f32 and "fabsf" or "fabs",
    sqrtF = f32 and "sqrtf" or "sqrt",
    REAL = real }
  for _, k in ipairs(ops.HELPER_ORDER) do
    if used[k] then
      local body = ops.HELPER_BODY[k]:gsub("[%u%d_]+", function(word)
        return constants[word] and syntax.real_literal(constants[word], dtype) or word
      end)
      body = body:gsub("%f[%w_][%w_]+", function(word)
        return functions[word]
      end)
      out[#out + 1] = string.format("static inline %s rnnc_%s(%s v) {\n  %s\n}", real, k, real, body)
    end
  end
  if used.max then
    out[#out + 1] = string.format("static inline %s rnnc_max(%s a, %s b) {\n  return a >= b ? a : b;\n}", real,
      real, real)
  end
  return table.concat(out, "\n")
end

-- Returns { [file name] = text } for <name>.h, <name>.c and <name>_main.c.
-- opts: name, dtype, unroll, provenance (comment text), templates (dir),
-- spec (reference-runtime text), summary (text).
function cwriter.unit(unit, opts)
  local name = opts.name
  local info = dtype_info(opts.dtype)
  local real = info.real
  local iface = unit.interface
  local names = buffer_names(unit.prog)
  local prog = unit.prog
  local in_size, out_size = unit.x.buf.size, unit.y.buf.size
  -- the input's C type: int32_t tokens for a model that starts with an
  -- Embedding (x.buf.int, the table's rows), else the unit's reals
  local xtype = unit.x.buf.int and "int32_t" or real
  -- output 0's rows and columns (the descriptor's output_rows, output_cols)
  local rows, cols = iface.outputs[1].rows, iface.outputs[1].cols
  local config = iface.training
  local loss = config.loss and config.loss.kind

  -- Struct fields.
  local param_fields = {}
  for _, wt in ipairs(iface.params) do
    local dims = {}
    for i, d in ipairs(wt.shape) do
      dims[i] = "[" .. d .. "]"
    end
    param_fields[#param_fields + 1] = string.format("    %s %s%s;", real, syntax.ident(wt.name), table.concat(dims))
  end
  local all_ops = {}
  for _, list in ipairs({ unit.forward, unit.backward, unit.backward_loss or {}, unit.forward_train or {},
    unit.backward_train_loss or {} }) do
    for _, op in ipairs(list) do
      all_ops[#all_ops + 1] = op
    end
  end
  local used = referenced(all_ops)
  used[unit.x.buf] = true
  local scratch_fields = {}
  for _, buf in ipairs(prog.buffers) do
    -- activations and backward temporaries per sample: a batch goes
    -- through each step together
    if used[buf] and (buf.kind == "act" or buf.kind == "tmp") then
      scratch_fields[#scratch_fields + 1] = string.format("  /* %s */\n  %s %s[%d][%d];", scratch_meaning(buf, iface),
        buf.int and "int32_t" or real, names[buf], iface.batch, buf.size)
    elseif used[buf] and buf.kind == "batch" then
      scratch_fields[#scratch_fields + 1] = string.format("  /* %s: 1 x %d, %s (the whole batch's) */\n"
        .. "  %s %s[%d];", buf.name:gsub("^d:", "d(loss)/d "), buf.cols, (buf.meaning or "its gradient"), real,
        names[buf], buf.size)
    elseif used[buf] and buf.kind == "wtrans" then
      scratch_fields[#scratch_fields + 1] = string.format("  /* %s transposed (%d x %d), made by backward */\n"
        .. "  %s %s[%d];", buf.name:gsub("^wtrans:", ""), buf.rows, buf.cols, real, names[buf], buf.size)
    end
  end

  -- noise layers (Dropout, GaussianNoise, ...): the key of their masks
  local has_noise = false
  local function find_noise(list)
    for _, op in ipairs(list or {}) do
      if op.op == "loop" then find_noise(op.body)
      elseif op.op == "map" and op.expr[1] == "noise" then has_noise = true end
    end
  end
  find_noise(unit.forward_train)
  if has_noise then
    scratch_fields[#scratch_fields + 1] = "  /* the key of the noise layers' masks in loss_grad (set_noise) */\n"
      .. "  uint64_t noise_seed;\n  long noise_step;\n  long noise_first;"
  end

  local helpers = {}
  local losses = config.losses or {}
  -- The losses read their outputs (or logits) and targets in place when
  -- they lie contiguous for the whole batch: one loss on the only output, of
  -- the unit's length. Otherwise each is gathered into y0 and t0, and its
  -- gradient scattered back from dloss0.
  local gathered = #iface.outputs > 1
  local max_part, max_target = 0, 0
  for _, part in ipairs(losses) do
    if part.kind then
      gathered = gathered or part.sequence
      max_part = math.max(max_part, part.rows * part.cols)
      max_target = math.max(max_target, part.target_size)
    end
  end
  if loss and gathered then
    scratch_fields[#scratch_fields + 1] = string.format("  /* one output (or its logits), gathered for its loss, "
      .. "and the loss's gradient */\n  %s y0[%d];\n  %s dloss0[%d];", real, iface.batch * max_part, real,
      iface.batch * max_part)
    scratch_fields[#scratch_fields + 1] = string.format("  %s t0[%d]; /* its targets */", real,
      iface.batch * max_target)
  end
  -- each masked output's mask, gathered by the loss; output_mask hands it
  -- to the weighted metrics
  local mask_cases = {}
  for k, part in ipairs(losses) do
    if loss and part.kind and part.masked then
      scratch_fields[#scratch_fields + 1] = string.format("  /* %s's mask, gathered: its rows' weights in the "
        .. "loss (and the weighted metrics') */\n  %s mask%d[%d];", part.name, real, k - 1, iface.batch * part.rows)
      mask_cases[#mask_cases + 1] = string.format("  case %d: /* %s */\n    return ((const %s_scratch *)s)->mask%d;",
        k - 1, part.name, name, k - 1)
    end
  end
  if loss then
    scratch_fields[#scratch_fields + 1] = string.format("  /* each output's loss in the last loss_grad (NaN: no "
      .. "loss) */\n  double losses[%d];", #iface.outputs)
  end
  local fwd = batch_body(unit, names, unit.forward, opts, {
    y = "y",
    copy_input = true,
  }, { [unit.x.buf] = true }, helpers)
  local dx_ptr = "dx ? dx : s->dx_sink"
  -- The gradient is zeroed through `grad`, then written through restrict
  -- pointers declared in a block of their own: no other pointer touches
  -- the arrays inside the block (C99 6.7.3.1).
  local function zero_grad(body)
    return "memset(grad, 0, sizeof *grad);\n{ /* from here on only the pointers below touch the arrays */\n"
      .. body .. "\n}"
  end
  local bwd = zero_grad(batch_body(unit, names, unit.backward, opts, {
    dy = "dy",
    dx = dx_ptr,
  }, nil, helpers))
  local bwd_loss = ""
  local loss_grad
  if unit.backward_loss then
    local body = zero_grad(batch_body(unit, names, unit.backward_loss, opts, {
      dloss = "dloss",
      dx = dx_ptr,
    }, nil, helpers))
    bwd_loss = string.format([[

/* Backward from the losses: dloss holds, in each loss's output's place,
 * d(loss)/d(output), or d(loss)/d(logits) for a crossentropy Keras computes
 * from the logits of a softmax or sigmoid output. */
static void %s_backward_loss(const %s_params *p, %s_scratch *s, const %s *dloss, %s_params *grad, %s *dx, int n) {
%s
}
]], name, name, name, real, name, real, body)
  end
  -- The body of loss_grad (forward, the compiled losses, backward) or, with
  -- `backward` nil, of eval_loss (forward and the losses only).
  -- the penalty of the trained weights' regularizers (a frozen weight's is
  -- not applied: Keras's Layer._get_regularization_losses reads
  -- trainable_weights only)
  local regularized = false
  for _, wt in ipairs(iface.params) do
    if wt.rule and wt.trainable ~= false and (wt.rule.l1 ~= 0 or wt.rule.l2 ~= 0) then regularized = true end
  end
  local function loss_body(forward, backward, sample_weight)
    local lines = { string.format("%s(p, s, x, s->y, n);", forward) }
    local seq = false
    for _, part in ipairs(losses) do
      seq = seq or (part.kind and part.sequence)
    end
    for _, a in ipairs(unit.activity or {}) do
      seq = seq or a.per_length or a.view.loff ~= 0
    end
    if seq then
      lines[#lines + 1] = string.format("const int L = s->steps > 0 ? s->steps : %d;", iface.max_steps)
    end
    lines[#lines + 1] = "double loss = 0;"
    if gathered and backward then
      -- no gradient reaches the outputs without a loss, or the rows past L
      lines[#lines + 1] = string.format("memset(s->dloss, 0, sizeof(%s) * (size_t)n * %d);", real, out_size)
    end
    for k, part in ipairs(losses) do
      if not part.kind then
        lines[#lines + 1] = string.format("s->losses[%d] = NAN; /* %s: no loss */", k - 1, part.name)
      else
        local fused = part.fused
        -- the runtime's loss function: from the logits Keras keeps of a
        -- softmax or sigmoid output (fused), or of a loss with from_logits
        local from_logits = fused or part.from_logits
        local src, src_stride, src_off = "s->y", out_size, part.output_offset
        if fused then
          local seed
          for _, sd in ipairs(unit.loss_seeds) do
            if sd.output == k then seed = sd.view end
          end
          local lbuf = seed.buf
          if seed.off ~= 0 or ir.count(seed) ~= lbuf.size then error("logits must be a whole buffer") end
          src, src_stride, src_off = "&s->" .. names[lbuf] .. "[0][0]", lbuf.size, 0
        end
        local sparse = part.kind == "sparse_categorical_crossentropy"
        local rows_here = part.sequence and "L" or tostring(part.rows)
        local per = string.format("(size_t)%s * %d", rows_here, part.cols)
        local tper = string.format("(size_t)%s * %d", rows_here, sparse and 1 or part.cols)
        lines[#lines + 1] = string.format("{ /* %s: %s%s%s */", part.name, part.kind,
          fused and ", from the logits" or (part.from_logits and ", from_logits" or ""),
          part.weight ~= 1 and string.format(", weight %.17g", part.weight) or "")
        lines[#lines + 1] = string.format("static const rnnc_loss_config loss_config = %s;",
          loss_config_text(part, from_logits))
        local pred, dpred, tgt = src, "s->dloss", "target"
        if gathered then
          pred, dpred, tgt = "s->y0", "s->dloss0", "s->t0"
          lines[#lines + 1] = "for (int b = 0; b < n; ++b) {"
          lines[#lines + 1] = string.format("memcpy(s->y0 + (size_t)b * %s, %s + (size_t)b * %d + %d, "
            .. "sizeof(%s) * %s);", per, src, src_stride, src_off, real, per)
          lines[#lines + 1] = string.format("memcpy(s->t0 + (size_t)b * %s, target + (size_t)b * %d + %d, "
            .. "sizeof(%s) * %s);", tper, config.target_size, part.target_offset, real, tper)
          lines[#lines + 1] = "}"
        end
        if not backward then dpred = "NULL" end
        local row_weights, denom = "NULL", string.format("(double)n * %s", rows_here)
        if part.masked then
          -- Keras 3's apply_mask (keras/src/losses/loss.py): the mask becomes
          -- the rows' weights, scaled by total / (valid + epsilon), and
          -- sum_over_batch_size divides by the total: the weighted sum over
          -- valid + 1e-7 (backend.epsilon()), valid the unmasked rows of the
          -- batch. Sample weights multiply the mask.
          local mv = unit.output_masks[k]
          if mv.dims[2] ~= 1 then error("internal: a mask is one column") end
          lines[#lines + 1] = "double valid = 0;"
          local mask = string.format("s->mask%d", k - 1)
          lines[#lines + 1] = string.format("for (int b = 0; b < n; ++b) for (int i = 0; i < %s; ++i) { "
            .. "%s[b * %s + i] = s->%s[b][%d + i * %d]; valid += (double)%s[b * %s + i]; }",
            rows_here, mask, rows_here, names[mv.buf], mv.off, mv.strides[1], mask, rows_here)
          row_weights, denom = mask, "valid + 1e-7"
        end
        lines[#lines + 1] = string.format("double l = rnnc_loss_eval_sw_%s(&loss_config, %s, %s, %s, "
          .. "(size_t)n * %s, %d, %s, %s, (size_t)%s, %s);", info.suffix, pred, tgt, row_weights, rows_here,
          part.cols, denom, sample_weight or "NULL", rows_here, dpred)
        lines[#lines + 1] = "if (isnan(l)) return l;"
        lines[#lines + 1] = string.format("s->losses[%d] = l;", k - 1)
        local w = part.weight
        lines[#lines + 1] = w == 1 and "loss += l;"
          or string.format("loss += %s * l;", syntax.real_literal(w, "float64"))
        if backward and (gathered or w ~= 1) then
          -- the gradient, weighted, in the output's place
          local scale = w == 1 and "" or (" * " .. syntax.real_literal(w, opts.dtype))
          if gathered then
            lines[#lines + 1] = string.format("for (int b = 0; b < n; ++b) for (size_t i = 0; i < %s; ++i) "
              .. "s->dloss[(size_t)b * %d + %d + i] = s->dloss0[(size_t)b * %s + i]%s;", per, out_size,
              part.output_offset, per, scale)
          else
            lines[#lines + 1] = string.format("for (size_t i = 0; i < (size_t)n * %s; ++i) s->dloss[i] *= %s;", per,
              syntax.real_literal(w, opts.dtype))
          end
        end
        lines[#lines + 1] = "}"
      end
    end
    for _, a in ipairs(unit.activity or {}) do
      -- Keras's activity_regularizer: l1 sum|h| + l2 sum h^2 of the call's
      -- output, over the samples, divided by their count (tf.keras 2.x's
      -- base_layer; Keras 3's Layer.__call__ since keras PR 22021); its
      -- gradient, written here, is a seed of the backward pass (autodiff)
      -- (at a variable length: the first L rows of a sequence, a view at
      -- row L of the last step; the gradient past them stays zero)
      local v = a.view
      if v.toff ~= 0 then error("internal: an activity view moves with t") end
      lines[#lines + 1] = string.format("{ /* %s: activity_regularizer, l1 %g, l2 %g, over the call's samples */",
        a.name, a.l1, a.l2)
      lines[#lines + 1] = "double penalty = 0;"
      local grad = backward and names[a.grad.buf]
      if grad and a.per_length then
        lines[#lines + 1] = string.format("memset(s->%s, 0, sizeof s->%s);", grad, grad)
      end
      lines[#lines + 1] = string.format("for (int b = 0; b < n; ++b) penalty += "
        .. "rnnc_activity_penalty_%s(&s->%s[b][%s], %s, %d, %d, %d, %.17g, %.17g, 1.0 / n, %s);",
        info.suffix, names[v.buf], v.loff ~= 0 and string.format("%d + L * %d", v.off, v.loff) or tostring(v.off),
        a.per_length and "(size_t)L" or tostring(v.dims[1]), v.dims[2], v.strides[1], v.strides[2], a.l1, a.l2,
        grad and string.format("s->%s[b]", grad) or "NULL")
      lines[#lines + 1] = "loss += penalty / n;"
      lines[#lines + 1] = "}"
    end
    if backward then lines[#lines + 1] = string.format("%s(p, s, s->dloss, grad, dx, n);", backward) end
    if regularized then
      -- the weight regularizers' penalty and its gradient (layers/rules.lua:
      -- Keras's compute_loss adds them in training and evaluation alike)
      lines[#lines + 1] = string.format("loss += rnnc_regularize_%s(%s_tensors, %d, p->flat, %s, %d);", info.suffix,
        name, #iface.params, backward and "grad ? grad->flat : NULL" or "NULL", iface.n_params)
    end
    lines[#lines + 1] = string.format("if (y_pred) memcpy(y_pred, s->y, sizeof(%s) * (size_t)n * %d);", real,
      out_size)
    lines[#lines + 1] = "return loss;"
    return table.concat(lines, "\n")
  end
  local train = unit.forward_train ~= nil
  if not loss then
    loss_grad = table.concat({
      "(void)p; (void)s; (void)x; (void)target; (void)sample_weight; (void)grad; (void)dx; (void)y_pred; (void)n;",
      "return NAN; /* the model was not compiled with a loss */",
    }, "\n")
  else
    loss_grad = loss_body(name .. (train and "_forward_train" or "_forward"),
      name .. (train and "_backward_train_loss" or "_backward_loss"), "sample_weight")
  end
  -- A unit whose layers compute differently in training (BatchNormalization)
  local training_fns, stats_desc, stats_decl, update_call = "", "NULL, NULL", "", ""
  local noise_desc, noise_decl, noise_step = "NULL", "", ""
  local eval_weighted_desc = "NULL"
  if train then
    local parts = {}
    local function fn(text, ...)
      parts[#parts + 1] = string.format(text, ...)
    end
    if loss then -- (loss_grad is its only caller)
      local ftrain = batch_body(unit, names, unit.forward_train, opts, { y = "y", copy_input = true },
        { [unit.x.buf] = true }, helpers)
      fn("\n/* The forward pass of training: BatchNormalization with the batch's statistics, the noise "
        .. "layers' masks. */\n"
        .. "static void %s_forward_train(const %s_params *p, %s_scratch *s, const %s *x, %s *y, int n) {\n%s\n}\n",
        name, name, name, xtype, real, ftrain)
    end
    if unit.backward_train_loss then
      fn("\n/* Backward of forward_train from the losses (loss_grad's): dloss as in backward_loss. */\n"
        .. "static void %s_backward_train_loss(const %s_params *p, %s_scratch *s, const %s *dloss, "
        .. "%s_params *grad, %s *dx, int n) {\n%s\n}\n", name, name, name, real, name, real,
        zero_grad(batch_body(unit, names, unit.backward_train_loss, opts, { dloss = "dloss", dx = dx_ptr },
          nil, helpers)))
    end
    local eval = loss and loss_body(name .. "_forward", nil, "sample_weight") or table.concat({
      "(void)p; (void)s; (void)x; (void)target; (void)sample_weight; (void)y_pred; (void)n;",
      "return NAN; /* the model was not compiled with a loss */" }, "\n")
    fn("\ndouble %s_eval_loss_weighted(const %s_params *p, %s_scratch *s, const %s *x, const %s *target, "
      .. "const %s *sample_weight, %s *y_pred, int n) {\n%s\n}\n", name, name, name, xtype, real, real, real, eval)
    fn("\ndouble %s_eval_loss(const %s_params *p, %s_scratch *s, const %s *x, const %s *target, %s *y_pred, "
      .. "int n) {\n  return %s_eval_loss_weighted(p, s, x, target, NULL, y_pred, n);\n}\n", name, name, name, xtype,
      real, real, name)
    local copies = {}
    local stats = unit.stat_updates and #unit.stat_updates > 0
    for _, st in ipairs(unit.stat_updates or {}) do
      copies[#copies + 1] = string.format("memcpy(%s, s->%s, sizeof(%s) * %d); /* %s */",
        weight_field("p", st.param), names[st.buf], real, st.param.size, st.param.name)
    end
    if stats then
      fn("\nvoid %s_update_stats(%s_params *p, const %s_scratch *s) {\n%s\n}\n", name, name, name,
        table.concat(copies, "\n"))
    end
    fn("static double %s_eval_loss_any(const void *p, void *s, const void *x, const void *target, void *y_pred, "
      .. "int n) {\n  return %s_eval_loss((const %s_params *)p, (%s_scratch *)s, (const %s *)x, (const %s *)target, "
      .. "(%s *)y_pred, n);\n}\n", name, name, name, name, xtype, real, real)
    fn("static double %s_eval_loss_weighted_any(const void *p, void *s, const void *x, const void *target, "
      .. "const void *sample_weight, void *y_pred, int n) {\n  return %s_eval_loss_weighted((const %s_params *)p, "
      .. "(%s_scratch *)s, (const %s *)x, (const %s *)target, (const %s *)sample_weight, (%s *)y_pred, n);\n}\n",
      name, name, name, name, xtype, real, real, real)
    eval_weighted_desc = string.format("%s_TRAINING_(%s_eval_loss_weighted_any)", name, name)
    if stats then
      fn("static void %s_update_stats_any(void *p, const void *s) {\n  %s_update_stats((%s_params *)p, "
        .. "(const %s_scratch *)s);\n}\n", name, name, name, name)
    end
    if has_noise then
      fn("\nvoid %s_set_noise(%s_scratch *s, uint64_t seed, long step, long first_sample) {\n"
        .. "  s->noise_seed = seed;\n  s->noise_step = step;\n  s->noise_first = first_sample;\n}\n", name, name)
      fn("static void %s_set_noise_any(void *s, uint64_t seed, long step, long first_sample) {\n"
        .. "  %s_set_noise((%s_scratch *)s, seed, step, first_sample);\n}\n", name, name, name)
      noise_desc = string.format("%s_TRAINING_(%s_set_noise_any)", name, name)
      noise_step = "\n  s->noise_step = opt->step; /* this update's masks: keyed by the updates before it */"
        .. "\n  s->noise_first = 0;"
      noise_decl = table.concat({
        "/* The key of the masks of its noise layers (Dropout, GaussianNoise, ...) in the",
        " * next loss_grad on this scratch: the seed (a layer's own seed wins), the",
        " * optimizer step (the updates before this one; train_step sets it from",
        " * opt->step) and the index of the call's first sample in the step's whole",
        " * batch (a micro-batch's offset). A zeroed scratch: seed 0, step 0, first 0.",
        " * forward, eval_loss and the stream are the identity of those layers. */",
        string.format("void %s_set_noise(%s_scratch *s, uint64_t seed, long step, long first_sample);", name, name),
        "",
      }, "\n")
    end
    training_fns = table.concat(parts)
    stats_desc = string.format("%s_TRAINING_(%s_eval_loss_any), %s", name, name,
      stats and string.format("%s_TRAINING_(%s_update_stats_any)", name, name) or "NULL")
    if stats then
      update_call = string.format("\n  %s_update_stats(p, s); /* the moving statistics of this batch */", name)
    end
    local decl = {
      "/* Its layers compute differently in training (BatchNormalization: the batch's",
      " * statistics; the noise layers: their masks) and at inference (the moving",
      " * statistics; the identity): loss_grad and train_step run the training",
      " * computation, forward the inference one.",
      " * eval_loss: forward and the compiled loss, no gradient (Keras's evaluate).",
    }
    if stats then
      decl[#decl + 1] = " * update_stats: the moving statistics the last loss_grad on this scratch"
      decl[#decl + 1] = " * computed, into p (train_step calls it after the optimizer's update). */"
    else
      decl[#decl + 1] = " */"
    end
    decl[#decl + 1] = string.format("double %s_eval_loss(const %s_params *p, %s_scratch *s, const %s *x, "
      .. "const %s *target,", name, name, name, xtype, real)
    decl[#decl + 1] = string.format("                  %s *y_pred, int n);", real)
    decl[#decl + 1] = "/* eval_loss with per-sample weights (n reals; NULL: all 1), as loss_grad_weighted. */"
    decl[#decl + 1] = string.format("double %s_eval_loss_weighted(const %s_params *p, %s_scratch *s, const %s *x, "
      .. "const %s *target,", name, name, name, xtype, real)
    decl[#decl + 1] = string.format("                           const %s *sample_weight, %s *y_pred, int n);", real,
      real)
    if stats then
      decl[#decl + 1] = string.format("void %s_update_stats(%s_params *p, const %s_scratch *s);", name, name, name)
    end
    decl[#decl + 1] = ""
    stats_decl = table.concat(decl, "\n") .. noise_decl
  end

  local tensors = {}
  for _, wt in ipairs(iface.params) do
    local r = wt.rule
    local rule = r and string.format("{%.17g, %.17g, %s, %du, %.17g, %.17g, %.17g}", r.l1, r.l2, r.constraint, r.axes,
      r.min_value, r.max_value, r.rate) or "{0, 0, 0, 0, 0, 0, 0}"
    tensors[#tensors + 1] = string.format('    {"%s", %d, {%s}, %d, %d, %s, %d, %s},', wt.name, #wt.shape,
      dims_list(wt.shape), wt.offset, wt.size, catalog.init_enum(wt.init), wt.trainable == false and 1 or 0, rule)
  end
  local opt_config, opt_name, slots_per_param = optimizer_config(config.optimizer), config.optimizer.class,
    config.optimizer.slots_per_param
  local target_size = config.target_size or 0
  local out_shape = iface.y_shape
  -- Where each input and output lies in a sample's x and y.
  local io = {}
  for _, set in ipairs({ { "IN", "x", iface.inputs }, { "OUT", "y", iface.outputs } }) do
    if #set[3] > 1 then
      io[#io + 1] = string.format("/* The %s per sample, one after the other in %s: */",
        set[1] == "IN" and "inputs" or "outputs", set[2])
      for _, d in ipairs(set[3]) do
        local macro = string.format("%s_%s_%s", name:upper(), set[1], syntax.ident(d.name):upper())
        io[#io + 1] = string.format("#define %s_OFFSET %d /* %s: %s */", macro, d.offset, d.name,
          table.concat(d.shape, " x "))
        io[#io + 1] = string.format("#define %s_SIZE %d", macro, d.size)
      end
    end
  end
  local vars = {
    IO_MACROS = table.concat(io, "\n"),
    PROVENANCE = opts.provenance,
    NAME = name,
    UPPER = name:upper(),
    GUARD = name:upper() .. "_H",
    REAL = real,
    XTYPE = xtype,
    X_DOC = unit.x.buf.int and string.format("int32_t tokens, each in [0, %d)", unit.x.buf.int) or "reals",
    BATCH = iface.batch,
    INPUT_SIZE = in_size,
    OUTPUT_SIZE = out_size,
    TARGET_SIZE = target_size,
    N_PARAMS = iface.n_params,
    PARAM_FIELDS = table.concat(param_fields, "\n"),
    SCRATCH_FIELDS = table.concat(scratch_fields, "\n"),
    OPTIMIZER = opt_name,
    OPT_SLOTS = math.max(1, slots_per_param * iface.n_params),
    LOSS = loss or "none",
    MAX_STEPS_DOC = iface.max_steps,
  }
  local stream_def, stream_desc
  vars.STREAM_DECL, stream_def, stream_desc = stream_code(unit, opts, helpers)
  vars.STATS_DECL = stats_decl
  local h = template.render(template.load(opts.templates, "unit.h.in"), vars, "unit.h.in")
  vars.GUARD, vars.UPPER, vars.PARAM_FIELDS, vars.SCRATCH_FIELDS, vars.OPTIMIZER, vars.OPT_SLOTS, vars.LOSS =
    nil, nil, nil, nil, nil, nil, nil
  vars.IO_MACROS, vars.X_DOC = nil, nil
  vars.MAX_STEPS_DOC, vars.STREAM_DECL = nil, nil
  vars.STREAM_DEF, vars.STREAM_DESC = stream_def, stream_desc
  vars.STATS_DECL = nil
  vars.TRAINING_FUNCTIONS = training_fns
  vars.STATS_DESC = stats_desc
  vars.UPDATE_STATS = update_call
  vars.NOISE_STEP = noise_step
  vars.NOISE_DESC = noise_desc
  vars.MAX_STEPS = iface.max_steps
  vars.STEPS_OUT_OF_RANGE = iface.variable and string.format("steps < 1 || steps > %d", iface.max_steps)
    or string.format("steps != %d", iface.max_steps)
  vars.VARIABLE_STEPS = iface.variable and 1 or 0
  vars.HELPERS = helper_functions(helpers, opts.dtype)
  vars.N_TENSORS = #iface.params
  vars.TENSORS = table.concat(tensors, "\n")
  vars.SPEC = syntax.c_text(opts.spec)
  vars.SUMMARY = syntax.c_text(opts.summary)
  vars.SUFFIX = info.suffix
  vars.INPUT_VOCAB = unit.x.buf.int or 0
  vars.FORWARD = fwd
  vars.BACKWARD = bwd
  vars.BACKWARD_LOGITS = bwd_loss
  vars.LOSS_GRAD = loss_grad
  vars.OPTIMIZER_CONFIG = opt_config
  vars.DTYPE_ENUM = info.enum
  vars.INPUT_RANK = #iface.x_shape
  vars.INPUT_SHAPE = dims_list(iface.x_shape)
  vars.OUTPUT_RANK = #out_shape
  vars.OUTPUT_SHAPE = dims_list(out_shape)
  vars.OUTPUT_ROWS = rows
  vars.OUTPUT_COLS = cols
  vars.N_OUTPUTS = #iface.outputs
  local function part_desc(d)
    return string.format('{%d, {%s}, %d, %d, "%s"}', #d.shape, dims_list(d.shape), d.offset, d.size, d.name)
  end
  local outs = {}
  for _, o in ipairs(iface.outputs) do
    outs[#outs + 1] = part_desc(o)
  end
  vars.OUTPUTS = table.concat(outs, ", ")
  vars.N_INPUTS = #iface.inputs
  local ins = {}
  for _, d in ipairs(iface.inputs) do
    ins[#ins + 1] = part_desc(d)
  end
  vars.INPUTS = table.concat(ins, ", ")
  vars.LOSS_ENUM = loss and catalog.loss_enum(loss) or "RNNC_LOSS_NONE"
  local parts = {}
  for k, o in ipairs(iface.outputs) do
    local part = (config.losses or {})[k]
    if part and part.kind then
      parts[k] = string.format("    {%s, %d, %s, %d, %d, %d, %d}, /* %s */", catalog.loss_enum(part.kind),
        part.from_logits and 1 or 0, syntax.real_literal(part.weight, "float64"), part.target_offset,
        part.target_size, part.rows, part.cols, o.name)
    else
      parts[k] = string.format("    {RNNC_LOSS_NONE, 0, 0.0, 0, 0, %d, %d}, /* %s: no loss */", o.rows, o.cols, o.name)
    end
  end
  vars.LOSS_PARTS = table.concat(parts, "\n")
  vars.LOSSES_OFFSET = loss and string.format("offsetof(%s_scratch, losses)", name) or "0"
  vars.MASKED_LOSS = #mask_cases > 0 and "1" or "0"
  if #mask_cases > 0 then
    vars.OUTPUT_MASK_FN = string.format("\n/* The mask of an output in the last loss on this scratch (n x rows: 1 "
      .. "keeps a row), or NULL. */\nstatic const void *%s_output_mask_any(const void *s, int output) {\n"
      .. "  switch (output) {\n%s\n  default:\n    return NULL;\n  }\n}\n", name, table.concat(mask_cases, "\n"))
    vars.OUTPUT_MASK_DESC = string.format("%s_TRAINING_(%s_output_mask_any)", name, name)
  else
    vars.OUTPUT_MASK_FN, vars.OUTPUT_MASK_DESC = "", "NULL"
  end
  vars.EVAL_WEIGHTED_DESC = eval_weighted_desc
  -- compile{}'s metrics reach the driver's fit and evaluate with fit{}'s
  -- defaults: with several outputs as output:metric, Keras's per output
  local defaults = {}
  for _, key in ipairs({ "metrics", "weighted_metrics" }) do
    local compile_metrics = {}
    for _, part in ipairs(config.losses or {}) do
      for _, m in ipairs(part[key] or {}) do
        compile_metrics[#compile_metrics + 1] = #iface.outputs > 1 and (part.name .. ":" .. m) or m
      end
    end
    if #compile_metrics > 0 then
      defaults[#defaults + 1] = key:gsub("_", "-") .. "=" .. table.concat(compile_metrics, ",")
    end
  end
  local fit = config.fit_defaults
  if fit ~= "" then defaults[#defaults + 1] = fit end
  vars.FIT_DEFAULTS = syntax.c_string(table.concat(defaults, " "))
  local metrics = config.loss and config.loss.metrics or {}
  local has_accuracy = false
  for _, m in ipairs(metrics) do
    if m == "accuracy" then has_accuracy = true end
  end
  vars.METRIC_ACCURACY = has_accuracy and 1 or 0
  local c = template.render(template.load(opts.templates, "unit.c.in"), vars, "unit.c.in")
  local main = template.render(template.load(opts.templates, "main.c.in"),
    { PROVENANCE = opts.provenance, NAME = name }, "main.c.in")
  return { [name .. ".h"] = h, [name .. ".c"] = c, [name .. "_main.c"] = main }
end

return cwriter