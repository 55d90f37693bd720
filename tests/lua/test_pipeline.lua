-- The generator's pipeline: data flows one way (description -> built model
-- -> IR -> autodiff -> simplify -> layout -> C), each pass returns a new
-- unit, the C writer reads only the unit record, and --dump-ir shows the IR
-- after every pass.
local T = require("testlib")
local dsl = require("dsl")
local pipeline = require("pipeline")
local generate = require("generate")

local tests = {}

---------------------------------------------------------------- the require graph

-- module name -> the modules it requires, from the sources.
local function require_graph()
  local graph = {}
  local p = io.popen("cd " .. T.root .. "/generator && find . -name '*.lua' | sort")
  for file in p:lines() do
    local name = file:gsub("^%./", ""):gsub("%.lua$", ""):gsub("/", ".")
    local deps = {}
    for dep in T.read(T.root .. "/generator/" .. file:gsub("^%./", "")):gmatch('require%("([%w_%.]+)"%)') do
      deps[#deps + 1] = dep
    end
    graph[name] = deps
  end
  p:close()
  return graph
end

-- Where each module stands in the one direction data flows; a module may
-- require only modules of its own stage or earlier ones.
local STAGE = {
  util = 0, region = 0, ir = 0, template = 0, catalog = 0, catalog_c = 7, runtime_cache = 8,
  ["layers.common"] = 1, ["layers.registry"] = 1, builder = 1, training = 1, functional = 1, dsl = 2,
  summary = 2, spec = 2,
  lower = 3, autodiff = 4, simplify = 4, layout = 5, pipeline = 6, irtext = 6,
  ["cwriter.syntax"] = 7, ["cwriter.gemm"] = 7, ["cwriter.ops"] = 7, ["cwriter.unit"] = 7, cwriter = 7,
  generate = 8, cli = 9,
  -- rnnc import: a Keras file to a description (read by dsl.lua) and weights
  cjson = 0, ["import.dump"] = 2, ["import.keras"] = 2, ["import.compile"] = 2, ["import.describe"] = 2,
  ["import.weights"] = 2, ["import.command"] = 8,
}
local function stage(name)
  if name:match("^layers%.") and not STAGE[name] then return 1 end
  return STAGE[name]
end

tests["generator: no require runs against the flow of data"] = function()
  local graph = require_graph()
  local edges = 0
  for mod, deps in pairs(graph) do
    T.truthy(stage(mod), "every module has a stage: " .. mod)
    for _, dep in ipairs(deps) do
      edges = edges + 1
      T.truthy(stage(dep), mod .. " requires an unknown module " .. dep)
      T.truthy(stage(dep) <= stage(mod), string.format("%s (stage %d) requires %s (stage %d): an arrow backwards",
        mod, stage(mod), dep, stage(dep)))
    end
  end
  T.truthy(edges > 40, "edges: " .. edges)
  -- the C writer never sees the description, the layers or the passes
  for mod, deps in pairs(graph) do
    if mod:match("^cwriter") then
      for _, dep in ipairs(deps) do
        T.truthy(not dep:match("^layers") and dep ~= "dsl" and dep ~= "lower" and dep ~= "training",
          mod .. " requires " .. dep)
      end
    end
  end
end

tests["the C writer reads the unit record, not the model"] = function()
  local model = dsl.load(T.path("examples/lstm_tagger.lua"))
  local unit = pipeline.run(model, {})
  T.eq(unit.model, nil, "the unit holds no model")
  -- the training configuration is plain data
  local config = unit.interface.training
  T.eq(config.loss, { kind = "sparse_categorical_crossentropy", from_logits = false, fused = true, name = "dense",
    weight = 1, metrics = { "accuracy" }, weighted_metrics = {}, rows = 3, cols = 3, output_offset = 0,
    sequence = false, target_offset = 0,
    target_size = 3, params = { label_smoothing = 0, delta = 1.0 } }, "loss")
  T.eq(config.losses, { config.loss }, "one output, one loss")
  T.eq(config.optimizer.kind, "adam", "optimizer")
  T.truthy(config.optimizer.slots_per_param == 2, "Adam keeps two values per parameter")
  -- the model's weight records are untouched by lowering
  for _, layer in ipairs(model.layers) do
    for _, w in ipairs(layer.weights or {}) do
      T.eq(w.offset, nil, "no offset written onto " .. w.name)
    end
  end
  local offsets = {}
  for _, p in ipairs(unit.interface.params) do
    offsets[#offsets + 1] = p.offset
  end
  T.eq(offsets[1], 0, "the first weight at offset 0")
end

tests["each pass returns a new unit and leaves its input as it was"] = function()
  local model = dsl.load(T.path("examples/seeds/seed13.lua"))
  local st = pipeline.stages(model, {})
  T.truthy(st.built ~= st.autodiff and st.autodiff ~= st.simplify and st.simplify ~= st.layout, "new units")
  T.eq(st.built.backward, nil, "built: no backward yet")
  T.truthy(st.autodiff.backward ~= nil, "autodiff: a backward program")
  local n_built = #st.built.prog.buffers
  T.truthy(#st.autodiff.prog.buffers > n_built, "autodiff adds gradient buffers to its own program")
  T.eq(#st.built.prog.buffers, n_built, "the built program's buffers are unchanged")
  local wtrans = 0
  for _, b in ipairs(st.layout.prog.buffers) do
    if b.kind == "wtrans" then wtrans = wtrans + 1 end
  end
  T.eq(wtrans, 3, "layout adds the transposed copies")
  for _, b in ipairs(st.simplify.prog.buffers) do
    T.truthy(b.kind ~= "wtrans", "not to the program it was given")
  end
end

---------------------------------------------------------------- --dump-ir

tests["--dump-ir shows the IR after every pass"] = function()
  local path = T.path("examples/seeds/seed13.lua")
  local built = generate.dump(path, "built", {})
  T.contains(built, "# after built: batch 32, 3 steps, 108 parameters")
  T.contains(built, "lstm: z[0] += h0 @ recurrent_kernel  # the recurrent product")
  T.truthy(not built:find("backward", 1, true), "no backward before autodiff")
  local after = generate.dump(path, "simplify", {})
  T.truthy(not after:find("h0 @", 1, true), "the product with the zero state is gone after simplify")
  T.contains(after, "for t = 1..2:\n    lstm: z[t] += h[t-1] @ recurrent_kernel  # the recurrent product")
  T.contains(after, "for t = 2 down to 1:")
  T.contains(after, "lstm (backward): dh[t-1] += dz[t] @ recurrent_kernel^T")
  local auto = generate.dump(path, "autodiff", {})
  T.contains(auto, "backward (from dy):")
  T.truthy(#auto > #after, "autodiff's backward is longer than the simplified one")
  local laid = generate.dump(path, "layout", {})
  T.contains(laid, "wtrans   wtrans:lstm/recurrent_kernel")
  T.contains(laid, "lstm (backward): drecurrent_kernel += h[0:2]^T @ dz[1:3]  # the recurrent product")
  T.contains(laid, "forward: 243 multiply-adds")
  -- a unit of variable length names L
  local var = generate.dump(T.path("examples/variable_tagger.lua"), "simplify", { timesteps = 9 })
  T.contains(var, "any length up to 9 steps")
  T.contains(var, "for t = L-1 down to 1:")
end

tests["rnnc generate --dump-ir: a bad pass is a usage error, and nothing is written"] = function()
  local out = os.tmpname()
  os.remove(out)
  local p = io.popen(string.format("cd %s && lua5.4 bin/rnnc generate examples/tagger.lua --dump-ir simplify -o %s "
    .. "2>&1; echo status $?", T.root, out))
  local text = p:read("a")
  p:close()
  T.contains(text, "forward: ")
  T.contains(text, "status 0")
  T.eq(io.open(out, "r"), nil, "no directory written")
  p = io.popen(string.format("cd %s && lua5.4 bin/rnnc generate examples/tagger.lua --dump-ir codegen 2>&1; "
    .. "echo status $?", T.root))
  text = p:read("a")
  p:close()
  T.contains(text, "--dump-ir takes a pass: built, autodiff, simplify, layout")
  T.contains(text, "status 2")
end

tests["layout joins neighbouring gate blocks; streaming updates states in place"] = function()
  local path = T.path("examples/seeds/seed13.lua")
  local laid = generate.dump(path, "layout", {})
  local simplified = generate.dump(path, "simplify", {})
  -- LSTM's gates i and f: one op over both blocks after layout, two before
  T.contains(laid, "lstm: gates[t, 0:6] = sigmoid(z[t, 0:6] + bias[0:6])  # gate i, gate f")
  T.contains(simplified, "lstm: gates[t, 0:3] = sigmoid(z[t, 0:3] + bias[0:3])  # gate i")
  T.contains(simplified, "lstm: gates[t, 3:6] = sigmoid(z[t, 3:6] + bias[3:6])  # gate f")
  -- gate o is not next to f (the candidate is between): it stays apart
  T.contains(laid, "lstm: gates[t, 9:12] = sigmoid(z[t, 9:12] + bias[9:12])  # gate o")
  -- the streaming step writes h and c over the states it read: no copies
  local stream = laid:match("stream_step.*$")
  T.contains(stream, "lstm: state[3:6] = gates[3:6] * state[3:6] + gates[0:3] * gates[6:9]")
  T.contains(stream, "lstm: state[0:3] = gates[9:12] * tanh(state[3:6])")
  T.not_contains(stream, "keep the new state")
  -- a layer that reads its state after writing it would be wrong in place:
  -- every recurrent layer's stream writes each state once, after its reads
  for _, m in ipairs({ "examples/gru_tagger.lua", "examples/tagger.lua" }) do
    T.not_contains(generate.dump(T.path(m), "layout", {}):match("stream_step.*$"), "keep the new state", m)
  end
end

return tests
