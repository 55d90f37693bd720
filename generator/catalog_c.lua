-- Writes generator/catalog.lua as C X-macro lists: runtime/rnnc_catalog.h.
--   lua5.4 generator/catalog_c.lua > runtime/rnnc_catalog.h    (make catalog)
-- `make check-generated` fails when the committed header differs.
package.path = (arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "generator") .. "/?.lua;" .. package.path
local catalog = require("catalog")

local out = {}
local function emit(s)
  out[#out + 1] = s
end

-- A C double literal that reads back as the same value.
local function real(v)
  if v == true then return "1" end
  if v == false then return "0" end
  for digits = 1, 17 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then
      if not s:find("[%.eE]") then s = s .. ".0" end
      return s
    end
  end
  error("no literal for " .. tostring(v))
end

local function c_string(s)
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

-- One X-macro list: `#define NAME(X) \` then a row per entry.
local function list(doc, name, rows)
  emit("")
  for line in doc:gmatch("[^\n]+") do
    emit(line)
  end
  emit("#define " .. name .. "(X)" .. (#rows > 0 and " \\" or ""))
  for i, r in ipairs(rows) do
    emit("  X(" .. table.concat(r, ", ") .. ")" .. (i < #rows and " \\" or ""))
  end
end

emit("/* rnnc's vocabularies as X-macro lists. Written by generator/catalog_c.lua from")
emit(" * generator/catalog.lua (make catalog): edit the catalog, not this file.")
emit(" *")
emit(" * A list RNNC_THINGS(X) expands X(...) once per entry; rnnc.h makes the")
emit(" * enums of them, the runtime its dispatch and names, the driver its options")
emit(" * and usage text, the reference runtime its parser. */")
emit("#ifndef RNNC_CATALOG_H")
emit("#define RNNC_CATALOG_H")

local rows = {}
for _, o in ipairs(catalog.optimizers) do
  rows[#rows + 1] = { tostring(o.id), o.name:upper(), o.name, c_string(o.class) }
end
list("/* Optimizers: X(id, NAME, name, \"Class\"): RNNC_OPT_NAME = id; the update rule\n"
  .. " * is step_name in optim_impl.h. */", "RNNC_OPTIMIZERS", rows)

rows = {}
local keras_to_c = {}
for _, f in ipairs(catalog.optimizer_fields) do
  rows[#rows + 1] = { (f.flag or f.int) and "int" or "double", f.c, c_string(f.option), f.flag and "1" or "0",
    c_string(f.doc) }
  if f.keras then keras_to_c[f.keras] = f.c end
end
list("/* rnnc_optimizer's fields after `kind`, in order: X(type, field, \"option\", flag,\n"
  .. " * \"doc\"); option is the driver's --option, flag 1 for an int that is 0 or 1. */",
  "RNNC_OPTIMIZER_FIELDS", rows)
emit("")
emit("/* PiecewiseConstantDecay's boundaries at most (rnnc_optimizer.boundaries). */")
emit("#define RNNC_MAX_BOUNDARIES " .. catalog.max_boundaries)

rows = {}
for _, o in ipairs(catalog.optimizers) do
  for _, f in ipairs(catalog.optimizer_fields) do
    local v = f.keras and o.defaults[f.keras]
    if v ~= nil and v ~= 0 and v ~= false then
      rows[#rows + 1] = { o.name:upper(), f.c, real(v) }
    end
  end
end
list("/* Keras's defaults, the fields not listed 0: X(NAME, field, value). */", "RNNC_OPTIMIZER_DEFAULTS", rows)

rows = {}
for _, o in ipairs(catalog.optimizers) do
  for _, s in ipairs(o.slots) do
    local count, field, test = s[1], s[2], s[3]
    local cond = "1"
    if field then
      local c = keras_to_c[field]
      cond = test == "~=" and ("opt->" .. c .. " != 0") or test == ">" and ("opt->" .. c .. " > 0") or ("opt->" .. c)
    end
    rows[#rows + 1] = { o.name:upper(), tostring(count), cond }
  end
end
list("/* State, reals per parameter: X(NAME, count, condition on `opt`), counted when\n"
  .. " * the condition holds; the slots are in this order. */", "RNNC_OPTIMIZER_SLOTS", rows)

rows = {}
for _, l in ipairs(catalog.losses) do
  rows[#rows + 1] = { tostring(l.id), l.name:upper(), l.name, c_string(l.name),
    c_string(table.concat(l.aliases or {}, " ")), l.labels and "1" or "0", c_string(l.fused or ""),
    l.from_logits and "1" or "0" }
end
list("/* Losses: X(id, NAME, name, \"name\", \"aliases\", labels, \"fused\", logits):\n"
  .. " * RNNC_LOSS_NAME = id; its rule is row_name in loss_impl.h; labels 1 when\n"
  .. " * the targets are class indices; fused the output activation Keras computes\n"
  .. " * it from the logits of; logits 1 when it has a from-logits form. */",
  "RNNC_LOSSES", rows)

rows = {}
for _, p in ipairs(catalog.loss_params) do
  rows[#rows + 1] = { p.name, real(p.default), c_string(p.doc) }
end
list("/* rnnc_loss_config's parameters after kind and from_logits: X(field, default,\n"
  .. " * \"doc\"). */", "RNNC_LOSS_PARAMS", rows)

rows = {}
for _, m in ipairs(catalog.metrics) do
  rows[#rows + 1] = { m.name:upper(), c_string(m.name), c_string(table.concat(m.aliases or {}, " ")),
    m.labels and "1" or "0" }
end
list("/* Metrics: X(NAME, \"name\", \"aliases\", labels); accuracy is Keras's, the variant\n"
  .. " * chosen from the loss; labels 1 when it takes class labels. */", "RNNC_METRICS", rows)

rows = {}
for _, a in ipairs(catalog.activations) do
  rows[#rows + 1] = { a.name:upper(), c_string(a.name), a.elementwise and "1" or "0" }
end
list("/* Activations: X(NAME, \"name\", elementwise); softmax acts on a row. */", "RNNC_ACTIVATIONS", rows)

rows = {}
for _, i in ipairs(catalog.initializers) do
  rows[#rows + 1] = { tostring(i.id), i.name:upper(), c_string(i.name), c_string(i.doc) }
end
list("/* Initializers: X(id, NAME, \"name\", \"doc\"): RNNC_INIT_NAME = id. */", "RNNC_INITIALIZERS", rows)

emit("")
emit("#endif")
io.write(table.concat(out, "\n"), "\n")
