-- The inputs of the model-description fuzzer (fuzz.lua): mutations of the
-- example models, random layer stacks (Sequential and functional) and hostile
-- Lua. Every maker takes a random source `R` (R.int(a, b), R.float(),
-- R.pick(list)) and returns a case:
--   text          the model file
--   kind          "mutation", "stack" or "hostile"
--   what          one line saying what was done (for the findings report)
--   args          extra command-line words for `rnnc generate`
--   needs_layer   an error must name the layer (a fault in a layer's argument)
--   bad_cli       a usage error (exit status 2) is the right answer
local cases = {}

---------------------------------------------------------------- values

-- Numbers that break things: zero, negatives, huge, not integers, NaN, inf.
cases.NUMBERS = {
  "0", "-1", "-7", "1e9", "2^31", "2147483648", "2^53", "9007199254740993", "math.maxinteger", "math.mininteger",
  "(0/0)", "(1/0)", "(-1/0)", "0.5", "2.5", "1e-300", "65536", "65537", "3.0", "1e308", "-0.0", "0x7fffffff",
}

-- Strings: empty, wrong, long, odd bytes, format directives, other names.
cases.STRINGS = {
  '""', '"x"', '"relu"', '"softmax"', '"tanh"', '"none"', '"linear"', '"concat"', '"glorot_uniform"', '"mse"',
  '"adam"', '"sigmoid"', '"hard_sigmoid"', '"zeros"', '"orthogonal"', '"a b"', '"%s%d%n"', '"\\0"', '"\\n"',
  '"\'"', '"\\\\"', '"é"', '"' .. string.rep("a", 300) .. '"', 'string.rep("w", 100000)', '"1abc"', '"_"',
  '"float16"', '"sparse_categorical_crossentropy"', '"binary_crossentropy"', '"accuracy"',
}

-- Values of the wrong type.
cases.WRONG_TYPES = {
  "{}", "{ 1, 2 }", "true", "false", "None", "nil", "Dense { 1 }", "function() end", "Input { shape = { 2 } }",
  "SimpleRNN { 2 }", "{ {} }", "{ None }", "{ 0 }", "{ -1, 2 }", "{ 2, 3, 4, 5 }", "Adam {}", "math",
}

local function any_value(R)
  local r = R.float()
  if r < 0.45 then return R.pick(cases.NUMBERS) end
  if r < 0.75 then return R.pick(cases.STRINGS) end
  return R.pick(cases.WRONG_TYPES)
end
cases.any_value = any_value

---------------------------------------------------------------- mutations of the examples

local CLASSES = { "SimpleRNN", "LSTM", "GRU", "Dense", "TimeDistributed", "Bidirectional", "Input", "Model",
  "Sequential", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax",
  -- the convolutional front ends, pooling, shape and normalisation layers
  "Conv1D", "SeparableConv1D", "DepthwiseConv1D", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
  "GlobalAveragePooling1D", "ZeroPadding1D", "Cropping1D", "UpSampling1D", "Flatten", "Reshape", "Permute",
  "RepeatVector", "LayerNormalization", "BatchNormalization", "Embedding",
  -- masks (issue 13)
  "Masking",
  -- the noise layers
  "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout" }

local EXTRA_ARGS = {
  "return_state = true", "return_sequences = true", "return_sequences = false", "go_backwards = true",
  "merge_mode = None", 'merge_mode = "sum"', 'merge_mode = "ave"', 'merge_mode = "mul"', "use_bias = false",
  "unroll = true", 'activation = "softmax"', 'activation = "relu"', 'recurrent_activation = "hard_sigmoid"',
  "reset_after = false", "unit_forget_bias = false", "batch_size = 3", "input_dim = 4", "input_length = 5",
  'name = "x"', 'name = "dense"', 'dtype = "float16"', "stateful = true", "dropout = 0.5", "time_major = true",
  "trainable = false", "input_shape = { 3, 2 }", "input_shape = { None, 2 }", "batch_input_shape = { 2, 3, 2 }",
  "input_shape = { 2 }", 'kernel_initializer = "he_normal"', 'bias_initializer = "ones"',
  'recurrent_initializer = "identity"', "units = 2", "from_logits = true", "layer = Dense { 2 }",
  -- the front-end layers' arguments
  'padding = "causal"', 'padding = "same"', "strides = 2", "dilation_rate = 3", "groups = 2", "kernel_size = { 3 }",
  "pool_size = 4", "depth_multiplier = 2", 'data_format = "channels_first"', "keepdims = true", "epsilon = 0",
  "momentum = 1.5", "rms_scaling = true", "center = false", 'kernel_regularizer = "l2"', "target_shape = { -1, 2 }",
  "dims = { 2, 1 }", "cropping = { 3, 3 }", "size = 3",
  'activation = "gelu"', 'activation = "log_softmax"', 'recurrent_activation = "hard_sigmoid_keras2"',
  "max_value = 6", "negative_slope = 0.2", "threshold = 0.5", "alpha = 0.3", "shared_axes = { 1 }", "axis = 1",
  "mask_value = 0.5", "mask_value = -1", "zero_output_for_mask = true",
  -- weight regularizers and constraints
  "recurrent_regularizer = L1L2 { l1 = 0.01, l2 = -1 }", 'bias_constraint = "max_norm"',
  "kernel_constraint = MaxNorm { axis = { 0, 5 } }", "kernel_constraint = MinMaxNorm { 2, 1 }",
  "gamma_regularizer = L2 { 1e308 }", 'activity_regularizer = "l1"', "alpha_constraint = NonNeg {}",
  -- Embedding's (issue 13)
  "mask_zero = true", "output_dim = 0", 'embeddings_initializer = "uniform"', "embeddings_regularizer = L2 { 0.1 }",
  'embeddings_constraint = "unit_norm"', "input_length = 0",
  -- the noise layers and the recurrent layers' dropout
  "rate = 1", "rate = 0", "stddev = -1", "seed = 3", "seed = -2", "seed = 1e300", "noise_shape = { None, 1, None }",
  "noise_shape = { 2, 3 }", "noise_shape = { None, 0, None }", "recurrent_dropout = 0.3", "recurrent_dropout = 1",
  "dropout = 0.999", "implementation = 1", "implementation = 0",
}

-- Spans of number and string literals in `text` (comments skipped).
local function literals(text)
  local spans = {}
  local i, n = 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if text:sub(i, i + 1) == "--" then
      local e = text:find("\n", i, true) or n
      i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and text:sub(j, j) ~= c do
        if text:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      spans[#spans + 1] = { kind = "string", from = i, to = j }
      i = j + 1
    elseif c:match("%d") and not text:sub(i - 1, i - 1):match("[%w_]") then
      local j = i
      while j <= n and text:sub(j, j):match("[%w%.]") do
        j = j + 1
      end
      spans[#spans + 1] = { kind = "number", from = i, to = j - 1 }
      i = j
    else
      i = i + 1
    end
  end
  return spans
end

local function replace(text, span, value)
  return text:sub(1, span.from - 1) .. value .. text:sub(span.to + 1)
end

local function lines_of(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  if lines[#lines] == "" then lines[#lines] = nil end
  return lines
end

-- "key = value" arguments in table constructors (the value up to the next
-- comma or closing brace at the same depth).
local function keyword_args(text)
  local found = {}
  for from, key in text:gmatch("()([%a_][%w_]*)%s*=%s*[^=]") do
    if not text:sub(from - 1, from - 1):match("[%w_%.]") and key ~= "local" then
      local depth, j = 0, text:find("=", from, true) + 1
      while j <= #text do
        local c = text:sub(j, j)
        if c == "{" or c == "(" then
          depth = depth + 1
        elseif c == "}" or c == ")" then
          if depth == 0 then break end
          depth = depth - 1
        elseif c == "," and depth == 0 then
          break
        elseif c == "\n" and depth == 0 then
          break
        end
        j = j + 1
      end
      found[#found + 1] = { from = from, to = j - 1, key = key }
    end
  end
  return found
end

local MUTATORS = {
  function(R, text) -- a number literal
    local spans = {}
    for _, s in ipairs(literals(text)) do
      if s.kind == "number" then spans[#spans + 1] = s end
    end
    if #spans == 0 then return nil end
    local s, v = R.pick(spans), R.pick(cases.NUMBERS)
    return replace(text, s, v), "number " .. text:sub(s.from, s.to) .. " -> " .. v
  end,
  function(R, text) -- a string literal
    local spans = {}
    for _, s in ipairs(literals(text)) do
      if s.kind == "string" then spans[#spans + 1] = s end
    end
    if #spans == 0 then return nil end
    local s, v = R.pick(spans), R.pick(cases.STRINGS)
    return replace(text, s, v), "string " .. text:sub(s.from, s.to) .. " -> " .. v:sub(1, 40)
  end,
  function(R, text) -- any literal to a value of another type
    local spans = literals(text)
    if #spans == 0 then return nil end
    local s, v = R.pick(spans), R.pick(cases.WRONG_TYPES)
    return replace(text, s, v), "literal " .. text:sub(s.from, s.to) .. " -> " .. v
  end,
  function(R, text) -- drop a keyword argument
    local args = keyword_args(text)
    if #args == 0 then return nil end
    local a = R.pick(args)
    return text:sub(1, a.from - 1) .. text:sub(a.to + 1), "drop " .. a.key
  end,
  function(R, text) -- duplicate a keyword argument
    local args = keyword_args(text)
    if #args == 0 then return nil end
    local a = R.pick(args)
    local arg_text = text:sub(a.from, a.to)
    return text:sub(1, a.to) .. ", " .. arg_text .. text:sub(a.to + 1), "duplicate " .. a.key
  end,
  function(R, text) -- a keyword argument's value
    local args = keyword_args(text)
    if #args == 0 then return nil end
    local a = R.pick(args)
    local v = any_value(R)
    return text:sub(1, a.from - 1) .. a.key .. " = " .. v .. text:sub(a.to + 1), a.key .. " = " .. v:sub(1, 40)
  end,
  function(R, text) -- add an argument to a constructor
    local opens = {}
    for pos in text:gmatch("[%a_][%w_]*%s*(){") do
      opens[#opens + 1] = pos
    end
    if #opens == 0 then return nil end
    local at, extra = R.pick(opens), R.pick(EXTRA_ARGS)
    return text:sub(1, at) .. " " .. extra .. ", " .. text:sub(at + 1), "add " .. extra
  end,
  function(R, text) -- swap two lines
    local lines = lines_of(text)
    if #lines < 2 then return nil end
    local i, j = R.int(1, #lines), R.int(1, #lines)
    lines[i], lines[j] = lines[j], lines[i]
    return table.concat(lines, "\n") .. "\n", string.format("swap lines %d and %d", i, j)
  end,
  function(R, text) -- duplicate a line (a layer twice)
    local lines = lines_of(text)
    if #lines == 0 then return nil end
    local i = R.int(1, #lines)
    table.insert(lines, i, lines[i])
    return table.concat(lines, "\n") .. "\n", "duplicate line " .. i
  end,
  function(R, text) -- delete a line
    local lines = lines_of(text)
    if #lines == 0 then return nil end
    local i = R.int(1, #lines)
    table.remove(lines, i)
    return table.concat(lines, "\n") .. "\n", "delete line " .. i
  end,
  function(R, text) -- another class
    local found = {}
    for pos, word in text:gmatch("()(%u[%a]+)") do
      for _, c in ipairs(CLASSES) do
        if c == word then found[#found + 1] = { from = pos, to = pos + #word - 1, word = word } end
      end
    end
    if #found == 0 then return nil end
    local f, c = R.pick(found), R.pick(CLASSES)
    return replace(text, f, c), f.word .. " -> " .. c
  end,
  function(R, text) -- truncate the file
    if #text < 2 then return nil end
    local at = R.int(1, #text - 1)
    return text:sub(1, at), "truncate at byte " .. at
  end,
}

-- A mutation of one of `examples` ({ path, text } pairs): one to three edits.
function cases.mutation(R, examples)
  local ex = R.pick(examples)
  local text, done = ex.text, {}
  for _ = 1, R.int(1, 3) do
    local new, what = R.pick(MUTATORS)(R, text)
    if new then
      text = new
      done[#done + 1] = what
    end
  end
  local c = { kind = "mutation", text = text, what = ex.path .. ": " .. table.concat(done, "; "), args = {} }
  if ex.path:match("variable") or text:find("None", 1, true) then c.args = { "--timesteps", "4" } end
  return c
end

---------------------------------------------------------------- random stacks

local ACTIVATIONS = { "tanh", "relu", "sigmoid", "linear", "hard_sigmoid", "hard_sigmoid_keras2", "elu", "selu",
  "gelu", "gelu_approximate", "swish", "silu", "softplus", "softsign", "leaky_relu", "relu6", "mish", "hard_silu" }
local INITIALIZERS = { "zeros", "ones", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
  "lecun_uniform", "lecun_normal", "orthogonal", "random_normal", "random_uniform" }
local OPTIMIZERS = { '"adam"', '"sgd"', '"rmsprop"', '"adamw"', '"adagrad"', "Adam { learning_rate = 0.01 }",
  "SGD { learning_rate = 0.1, momentum = 0.9, nesterov = true }", "RMSprop { centered = true }",
  "AdamW { weight_decay = 0.01, amsgrad = true }", "Adagrad { initial_accumulator_value = 0.2 }",
  "Adam { learning_rate = ExponentialDecay { initial_learning_rate = 0.01, decay_steps = 5, decay_rate = 0.9 } }",
  "SGD { clipnorm = 1.0 }", "Adam { clipvalue = 0.5 }", "Adam { global_clipnorm = 2 }",
  -- issue 13
  '"nadam"', '"adamax"', '"adadelta"', '"ftrl"', '"lion"', "Ftrl { l1_regularization_strength = 0.01, beta = 0.5 }",
  "Nadam { learning_rate = PiecewiseConstantDecay { boundaries = { 2, 4 }, values = { 0.1, 0.01, 0.001 } } }",
  "Adamax { learning_rate = InverseTimeDecay { initial_learning_rate = 0.01, decay_steps = 2, decay_rate = 0.5 } }",
  "Lion { learning_rate = CosineDecay { initial_learning_rate = 0.001, decay_steps = 5, warmup_target = 0.01, "
    .. "warmup_steps = 2 } }",
  "Adadelta { learning_rate = PolynomialDecay { initial_learning_rate = 1, decay_steps = 3, cycle = true } }",
  "SGD { learning_rate = CosineDecayRestarts { initial_learning_rate = 0.01, first_decay_steps = 2 } }" }

-- Mostly small units; now and then one that is large or absurd.
local function units(R)
  local r = R.float()
  if r < 0.9 then return R.int(1, 8) end
  if r < 0.97 then return R.int(9, 48) end
  return R.pick({ 0, -3, 65536, 70000, 4096, 2 ^ 31, 1e9, 2.5, 3.0 })
end

local function quoted(s)
  return '"' .. s .. '"'
end

-- One layer's arguments as text, and its class. `seq`: the input is a
-- sequence (rank 3). `last`: the last layer. Returns text, class, whether it
-- returns a sequence, its number of outputs.
-- A front-end layer (convolution, pooling, shape, normalisation) on a
-- sequence (seq) or a vector: class, arguments, whether it returns a
-- sequence. Sizes are small, now and then absurd.
local function front_layer_text(R, seq)
  local function small()
    return R.float() < 0.92 and R.int(1, 4) or R.pick({ 0, -2, 65537, 2.5, 1000 })
  end
  if not seq then
    local class = R.pick({ "RepeatVector", "LayerNormalization", "BatchNormalization", "Reshape" })
    if class == "RepeatVector" then return class, { tostring(small()) }, true end
    if class == "Reshape" then return class, { "{ 1, -1 }" }, true end
    return class, {}, false
  end
  local class = R.pick({ "Conv1D", "Conv1D", "SeparableConv1D", "DepthwiseConv1D", "MaxPooling1D",
    "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "ZeroPadding1D", "Cropping1D",
    "UpSampling1D", "Flatten", "Permute", "LayerNormalization", "BatchNormalization", "Masking", "Masking" })
  local parts, returns_seq = {}, true
  local function opt(p, text)
    if R.float() < p then parts[#parts + 1] = text end
  end
  if class == "Conv1D" or class == "SeparableConv1D" then
    parts = { tostring(small()), tostring(small()) }
  elseif class == "DepthwiseConv1D" then
    parts = { tostring(small()) }
  elseif class == "MaxPooling1D" or class == "AveragePooling1D" then
    parts = { tostring(small()) }
    opt(0.3, "strides = " .. small())
  elseif class == "ZeroPadding1D" or class == "Cropping1D" then
    parts = { string.format("{ %d, %d }", R.int(0, 2), R.int(0, 2)) }
  elseif class == "Permute" then
    parts = { "{ 2, 1 }" }
  elseif class == "Masking" then
    opt(0.5, "mask_value = " .. R.pick({ "0", "0.5", "-1" }))
  elseif class == "Flatten" or class:match("^Global") then
    returns_seq = false
  end
  if class:match("Conv1D$") then
    opt(0.5, "padding = " .. quoted(R.pick({ "valid", "same", "causal" })))
    opt(0.2, "dilation_rate = " .. small())
    opt(0.2, "strides = " .. small())
    opt(0.3, "activation = " .. quoted(R.pick(ACTIVATIONS)))
    opt(0.15, "use_bias = false")
  elseif class:match("Pooling1D$") and not class:match("^Global") then
    opt(0.4, 'padding = "same"')
  elseif class:match("Normalization$") then
    opt(0.2, "center = false")
    opt(0.2, "scale = false")
    if class == "LayerNormalization" then opt(0.2, "rms_scaling = true") end
    if class == "BatchNormalization" then opt(0.2, "momentum = 0.9") end
  end
  return class, parts, returns_seq
end

local function layer_text(R, seq, last, functional, first_args)
  local kinds = seq
      and { "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Dense", "TimeDistributed", "front", "activation" }
    or { "Dense", "Dense", "SimpleRNN", "front", "activation" }
  local class = R.pick(kinds)
  if class == "activation" then
    -- an activation layer (issue 13): its arguments, the shape unchanged
    class = R.pick({ "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Dropout", "SpatialDropout1D",
      "GaussianNoise", "GaussianDropout" })
    if class == "SpatialDropout1D" and not seq then class = "Dropout" end
    local parts = ({
      Activation = { quoted(R.pick(ACTIVATIONS)) },
      ReLU = { "max_value = " .. R.pick({ "6", "1", "0.5" }), "negative_slope = " .. R.pick({ "0", "0.1" }) },
      LeakyReLU = { "negative_slope = " .. R.pick({ "0.3", "0.01" }) },
      ELU = { "alpha = " .. R.pick({ "1.0", "0.5" }) },
      PReLU = R.float() < 0.5 and { "shared_axes = { 1 }" } or {},
      Softmax = {},
      -- the noise layers (trained with masks, the identity at inference)
      Dropout = { R.pick({ "0.5", "0", "0.2" }), R.float() < 0.3 and (seq and "noise_shape = { None, 1, None }"
        or "noise_shape = { None, None }") or "seed = 7" },
      SpatialDropout1D = { "0.3" },
      GaussianNoise = { R.pick({ "0.1", "1" }) },
      GaussianDropout = { R.pick({ "0.4", "0" }) },
    })[class]
    for _, a in ipairs(first_args or {}) do
      parts[#parts + 1] = a
    end
    return class, parts, seq, 1
  end
  if class == "front" and not last then
    local fclass, fparts, fseq = front_layer_text(R, seq)
    for _, a in ipairs(first_args or {}) do
      fparts[#fparts + 1] = a
    end
    return fclass, fparts, fseq, 1
  elseif class == "front" then
    class = "Dense"
  end
  local parts = { tostring(units(R)) }
  local returns_seq, outputs = seq, 1
  local function opt(p, text)
    if R.float() < p then parts[#parts + 1] = text end
  end
  local recurrent = class == "SimpleRNN" or class == "LSTM" or class == "GRU" or class == "Bidirectional"
  if recurrent then
    local inner = class == "Bidirectional" and R.pick({ "SimpleRNN", "LSTM", "GRU" }) or class
    local iparts = { tostring(units(R)) }
    local function iopt(p, text)
      if R.float() < p then iparts[#iparts + 1] = text end
    end
    returns_seq = not last and R.float() < 0.8 or (last and R.float() < 0.3)
    if returns_seq then iparts[#iparts + 1] = "return_sequences = true" end
    iopt(0.3, "activation = " .. quoted(R.pick(ACTIVATIONS)))
    if inner ~= "SimpleRNN" then
      iopt(0.3, "recurrent_activation = " .. quoted(R.pick({ "sigmoid", "hard_sigmoid" })))
    end
    iopt(0.2, "use_bias = false")
    iopt(0.2, "go_backwards = true")
    iopt(0.15, "kernel_initializer = " .. quoted(R.pick(INITIALIZERS)))
    iopt(0.15, "recurrent_initializer = " .. quoted(R.pick(INITIALIZERS)))
    if inner == "LSTM" then iopt(0.2, "unit_forget_bias = false") end
    if inner == "GRU" then iopt(0.3, "reset_after = false") end
    iopt(0.15, "dropout = " .. R.pick({ "0.2", "0.5" }))
    iopt(0.15, "recurrent_dropout = " .. R.pick({ "0.3", "0.1" }))
    if inner ~= "SimpleRNN" then iopt(0.1, "implementation = 1") end
    if functional and last and R.float() < 0.4 then
      iparts[#iparts + 1] = "return_state = true"
      outputs = 1 + (inner == "LSTM" and 2 or 1) * (class == "Bidirectional" and 2 or 1)
    end
    if class == "Bidirectional" then
      local mode = R.pick({ '"concat"', '"sum"', '"mul"', '"ave"', "None" })
      if mode == "None" and not (functional and last) then mode = '"concat"' end
      if mode == "None" then outputs = outputs + 1 end
      parts = { inner .. " { " .. table.concat(iparts, ", ") .. " }", "merge_mode = " .. mode }
    else
      parts = iparts
    end
  elseif class == "Dense" then
    opt(0.4, "activation = " .. quoted(R.pick({ "tanh", "relu", "sigmoid", "linear", "softmax" })))
    opt(0.2, "use_bias = false")
    opt(0.15, "kernel_initializer = " .. quoted(R.pick(INITIALIZERS)))
  else -- TimeDistributed
    local dense = { tostring(units(R)) }
    if R.float() < 0.4 then dense[2] = "activation = " .. quoted(R.pick({ "tanh", "relu", "sigmoid", "softmax" })) end
    parts = { "Dense { " .. table.concat(dense, ", ") .. " }" }
  end
  for _, a in ipairs(first_args or {}) do
    parts[#parts + 1] = a
  end
  return class, parts, returns_seq, outputs
end

-- A random chain of layers, Sequential or functional, with a compile{}, and
-- now and then one argument of one layer replaced by a hostile value.
function cases.stack(R)
  -- now and then integer tokens in: an Embedding first (issue 13)
  local tokens = R.float() < 0.15
  local functional = R.float() < 0.4
  local variable = R.float() < 0.15
  local steps = R.float() < 0.95 and R.int(1, 6) or R.pick({ 0, 65536, 1000, 2.5 })
  local features = R.float() < 0.95 and R.int(1, 5) or R.pick({ 0, 65537, 3000 })
  local vector_input = R.float() < 0.1
  local shape = vector_input and string.format("{ %s }", features)
    or string.format("{ %s, %s }", variable and "None" or steps, features)
  local n = R.int(1, 4)
  local layers = {}
  local seq = not vector_input
  local outputs = 1
  local first = 1
  if tokens then
    seq = true
    shape = string.format("{ %s }", variable and "None" or steps)
    local parts = { tostring(R.int(1, 12)), tostring(features) }
    if not functional then
      parts[3] = (R.float() < 0.5 and not variable) and ("input_length = " .. steps) or ("input_shape = " .. shape)
    end
    if R.float() < 0.2 then parts[#parts + 1] = "embeddings_regularizer = \"l2\"" end
    if R.float() < 0.25 then parts[#parts + 1] = "mask_zero = true" end
    layers[1] = { class = "Embedding", parts = parts }
    n, first = n + 1, 2
  end
  for i = first, n do
    local first_args = (not functional and i == 1) and { "input_shape = " .. shape } or nil
    local class, parts, returns_seq, outs = layer_text(R, seq, i == n, functional, first_args)
    layers[i] = { class = class, parts = parts }
    seq, outputs = returns_seq, outs
  end
  local fault
  local with_args = {}
  for _, l in ipairs(layers) do
    if #l.parts > 0 then with_args[#with_args + 1] = l end
  end
  if R.float() < 0.3 and #with_args > 0 then
    local l = R.pick(with_args)
    local idx = R.int(1, #l.parts)
    local v = any_value(R)
    local key = l.parts[idx]:match("^([%a_]+) =")
    if key and R.float() < 0.7 then
      l.parts[idx] = key .. " = " .. v
    else
      key = "units (positional)"
      l.parts[1] = l.parts[1]:match("^%u") and l.parts[1] or v
    end
    fault = string.format("%s: %s -> %s", l.class, key, v:sub(1, 40))
  end
  -- crossentropies after the activation they expect (or from logits), as
  -- Keras models are written; mse and mae after anything
  local last_parts = table.concat(layers[n].parts, " ")
  local losses = { '"mse"', '"mae"', "MeanSquaredError {}", "SparseCategoricalCrossentropy { from_logits = true }",
    "BinaryCrossentropy { from_logits = true }", "CategoricalCrossentropy { from_logits = true }" }
  if last_parts:find('"softmax"', 1, true) then
    losses[#losses + 1] = '"sparse_categorical_crossentropy"'
    losses[#losses + 1] = '"categorical_crossentropy"'
  elseif last_parts:find('"sigmoid"', 1, true) and not last_parts:find("recurrent_activation", 1, true) then
    losses[#losses + 1] = '"binary_crossentropy"'
  end
  local loss = R.pick(losses)
  -- mae reads dense targets: not those of a sparse crossentropy (refused)
  local metrics = loss:find("parse", 1, true) and ', metrics = { "accuracy" }' or ', metrics = { "accuracy", "mae" }'
  local compile = string.format("model:compile { optimizer = %s, loss = %s%s }", R.pick(OPTIMIZERS), loss,
    R.float() < 0.3 and metrics or "")
  local out = {}
  if functional then
    out[#out + 1] = string.format("local x = Input { shape = %s }", shape)
    -- now and then the first layer starts from states the caller gives
    local states, state_inputs = { SimpleRNN = 1, GRU = 1, LSTM = 2 }, {}
    local n_states = states[layers[1].class]
    if n_states and R.float() < 0.3 then
      local units_text = layers[1].parts[1]
      for k = 1, n_states do
        state_inputs[k] = "s0_" .. k
        out[#out + 1] = string.format("local s0_%d = Input { shape = { %s } }", k,
          R.float() < 0.9 and units_text or tostring(units(R)))
      end
    end
    local prev = "x"
    for i, l in ipairs(layers) do
      local call_extra = ""
      if i == 1 and #state_inputs > 0 then
        call_extra = ", { initial_state = { " .. table.concat(state_inputs, ", ") .. " } }"
      end
      local names = { "h" .. i }
      if i == n then
        for k = 2, outputs do
          names[k] = "s" .. k
        end
      end
      out[#out + 1] = string.format("local %s = %s { %s }(%s%s)", table.concat(names, ", "), l.class,
        table.concat(l.parts, ", "), prev, call_extra)
      prev = "h" .. i
    end
    local outs = { "h" .. n }
    for k = 2, outputs do
      outs[k] = "s" .. k
    end
    local inputs = #state_inputs > 0 and ("{ x, " .. table.concat(state_inputs, ", ") .. " }") or "x"
    out[#out + 1] = string.format("local model = Model { inputs = %s, outputs = { %s } }", inputs,
      table.concat(outs, ", "))
  else
    out[#out + 1] = "local model = Sequential {"
    for _, l in ipairs(layers) do
      out[#out + 1] = string.format("  %s { %s },", l.class, table.concat(l.parts, ", "))
    end
    out[#out + 1] = "}"
  end
  if R.float() < 0.8 then out[#out + 1] = compile end
  if R.float() < 0.1 then out[#out + 1] = "model:fit { epochs = 3, batch_size = 2 }" end
  out[#out + 1] = "return model"
  local args = {}
  if variable then args = { "--timesteps", tostring(R.int(1, 6)) } end
  return {
    kind = "stack",
    text = table.concat(out, "\n") .. "\n",
    what = (functional and "functional" or "Sequential") .. (tokens and " token" or "") .. " stack of " .. n
      .. (fault and (", fault " .. fault) or ""),
    args = args,
    needs_layer = fault ~= nil,
  }
end

---------------------------------------------------------------- hostile Lua

local MODEL = "return Sequential { Dense { 2, input_shape = { 3 } } }\n"

-- Each: the code before a valid model (or a whole file when it has no model).
cases.HOSTILE = {
  "while true do end",
  "repeat until false",
  "::top:: goto top",
  "local n = 0 for i = 1, math.maxinteger do n = n + i end",
  "local function f(n) return f(n + 1) end f(1)", -- tail calls: no stack growth, only time
  "local function f(n) return 1 + f(n + 1) end f(1)", -- stack overflow
  "local function f(t) return f({ t }) end f({})",
  "local t = {} for i = 1, 1e12 do t[i] = i end",
  "local t = {} for i = 1, 1e9 do t[#t + 1] = ('x'):rep(1000) .. i end",
  "local t = {} while true do t = { t, t } end",
  "local s = 'x' for _ = 1, 64 do s = s .. s end",
  "local s = 'x' for _ = 1, 30 do s = s .. s .. s .. s .. s .. s .. s .. s end",
  "local s = ('x'):rep(1 << 20) local t = {} for i = 1, 100000 do t[i] = s end local r = table.concat(t)",
  "local s = ('x'):rep(1 << 16) local t = {} for i = 1, 1e6 do t[i] = s end local r = table.concat(t, s)",
  "local s = string.rep('x', 1e10)",
  "local s = ('x'):rep(2^31, ',')",
  "local s = string.rep('abc', 1 << 26, ('x'):rep(100))",
  "local s = ('x'):rep(1 << 20) local r = s:gsub('.', s)",
  "local r = ('a'):rep(40):find('.-.-.-.-.-.-.-.-.-.-.-b')",
  "local r = ('a'):rep(5000):match('(a*)*b')",
  "local s = string.format('%s', setmetatable({}, { __tostring = function() while true do end end }))",
  "os.execute('touch /tmp/rnnc_fuzz_pwned')",
  "io.open('/tmp/rnnc_fuzz_pwned', 'w')",
  "local f = io.popen('id')",
  "require('os')",
  "load('return 1')()",
  "dofile('/etc/passwd')",
  "loadfile('/etc/passwd')",
  "debug.sethook()",
  "collectgarbage('stop')",
  "package.path = '/tmp/?.lua'",
  "coroutine.wrap(function() while true do end end)()",
  "getmetatable('').__index = nil",
  "setmetatable(_ENV, { __index = function() return 1 end })",
  "rawset(_G, 'x', 1)",
  "string.dump(function() end)",
  "_ENV = nil",
  "math.random = nil string.rep = nil table.concat = nil",
  "error({})",
  "error()",
  "error(nil)",
  "error(42)",
  "error(true)",
  "error(Dense { 1 })",
  "error(Input { shape = { 2 } })",
  "error(function() end)",
  "error('plain message', 0)",
  "error('level two', 2)",
  "error(('x'):rep(100000))",
  "assert(false)",
  "assert(false, {})",
  "assert(nil, 'assert message')",
  "local x = table.unpack({}, 1, 1e8)",
  "local x = select(-5, 1)",
  "local x = string.char(256)",
  "local x = ('x'):byte(1, 1e9)",
  "local x = 1 // 0",
  "local x = math.tointeger(2^63) + 1",
  "local x = string.format('%d', 2^63)",
  "local x = string.format('%99999s', 'x')",
  "local d = Dense { 1 } d.units = 3",
  "local d = Dense { 1 } local u = d.args",
  "local x = Dense { 1 } .. 'x'",
  "local x = #Dense { 1 }",
  "local x = Dense { 1 } < Dense { 1 }",
  "local m = Sequential {} m:add(3)",
  "local m = Sequential {} m.layers = {}",
  "for i = 1, 1000 do Dense { 1 } end",
  "local d = Dense { 2 } local s = Sequential { d, Dense { 2, input_shape = { 2 } } }",
  "local t = { string = 1 } for k in pairs(_ENV) do t[k] = _ENV[k] end",
  "local s = tostring(None) .. tostring(Dense { 1 }) .. tostring(Sequential {})",
  "local t = {} for i = 1, 1e7 do t = { t } end",
  "local x = ('x'):rep(100):rep(100):rep(100):rep(100):rep(100)",
  "local x = table.concat({ ('x'):rep(1 << 28), ('x'):rep(1 << 28), ('x'):rep(1 << 28) })",
}

-- Whole files: empty, binary, syntax errors, wrong returns, big models.
cases.HOSTILE_FILES = {
  "",
  "\27Lua\84\0garbage",
  "return",
  "return nil",
  "return 42",
  "return 'model'",
  "return {}",
  "return function() end",
  "return Dense { 1, input_shape = { 2 } }",
  "return Sequential",
  "return None",
  "return Input { shape = { 2 } }",
  "local x = Input { shape = { 2, 3 } }\nreturn Model { inputs = x, outputs = x }",
  "local x = Input { shape = { 2, 3 } }\nlocal y = LSTM { 2 }(x)\nreturn Model { inputs = y, outputs = y }",
  "local x = Input { shape = { 2, 3 } }\nlocal l = LSTM { 2, return_sequences = true }\n"
    .. "local y = l(x)\nlocal z = l(y)\nreturn Model { inputs = x, outputs = z }",
  "local d = Dense { 2 }\nreturn Sequential { TimeDistributed { d, input_shape = { 3, 2 } }, d }",
  "local d = Dense { 2 }\nreturn Sequential { TimeDistributed { d, input_shape = { 3, 2 } }, TimeDistributed { d } }",
  "local r = LSTM { 2, return_sequences = true }\n"
    .. "return Sequential { Bidirectional { r, input_shape = { 3, 2 } }, Bidirectional { r } }",
  "local d = Dense { 2, input_shape = { 2 } }\nreturn Sequential { d, d }",
  "local m = Sequential { Dense { 2, input_shape = { 2 } } }\nreturn Sequential { m }",
  "return Sequential { Sequential { Dense { 2, input_shape = { 2 } } } }",
  "return Sequential { TimeDistributed { TimeDistributed { Dense { 1 } }, input_shape = { 2, 3, 4 } } }",
  "return Sequential { Bidirectional { Bidirectional { LSTM { 1 } }, input_shape = { 2, 3 } } }",
  "return Sequential { Dense { 2, input_shape = { 2, 3, 4 } } }",
  "return Sequential { Dense { 2, input_shape = { 2, 3 } }, LSTM { 3 } }",
  "return Sequential { LSTM { 2, input_shape = { 3 } } }",
  "return Sequential { " .. string.rep("Dense { 1, input_shape = { 1 } }, ", 300) .. "}",
  "local m = Sequential {}\nfor i = 1, 100000 do m:add(Dense { 1, input_shape = { 1 } }) end\nreturn m",
  "local m = Sequential {}\nfor i = 1, 200 do m:add(Dense { 64, input_shape = { 64 } }) end\nreturn m",
  "return Sequential { Dense { 65536, input_shape = { 65536 } } }",
  "return Sequential { Dense { 10000, input_shape = { 10000 } } }",
  "return Sequential { LSTM { 4096, input_shape = { 65536, 4096 } } }",
  "return Sequential { LSTM { 512, input_shape = { 1000, 64 } } }",
  "return Sequential { LSTM { 256, input_shape = { 2000, 16 }, return_sequences = true } }",
  "return Sequential { SimpleRNN { 8, input_shape = { 65536, 2 } } }",
  "return Sequential { SimpleRNN { 8, input_shape = { None, 2 } } }",
  "return Sequential { Dense { 3, batch_input_shape = { 65536, 4096 } } }",
  "return Sequential { name = ('n'):rep(1 << 20), Dense { 1, input_shape = { 1 } } }",
  "return Sequential { Dense { 1, input_shape = { 1 }, name = ('n'):rep(65) } }",
  "local model = Sequential { Dense { 1, input_shape = { 1 } } }\nmodel:fit { callbacks = { "
    .. "ModelCheckpoint { filepath = '\\1\\2\\127' }, CSVLogger { filename = '%s%n' } } }\nreturn model",
  "local model = Sequential { Dense { 1, input_shape = { 1 } } }\nmodel:fit { epochs = 2^53 }\nreturn model",
  "local model = Sequential { Dense { 1, input_shape = { 1 } } }\nmodel:compile { loss = 'mse', optimizer = "
    .. "Adam { learning_rate = 1e308, epsilon = 0, beta_1 = 1e9 } }\nreturn model",
  "local model = Sequential { Dense { 1, input_shape = { 1 } } }\nmodel:compile { loss = 'mse', optimizer = "
    .. "SGD { learning_rate = (0/0) } }\nreturn model",
}

function cases.hostile(R)
  if R.float() < 0.35 then
    local text = R.pick(cases.HOSTILE_FILES)
    local args = text:find("None", 1, true) and R.float() < 0.5 and { "--timesteps", "3" } or {}
    return { kind = "hostile", text = text .. "\n", what = "file: " .. text:sub(1, 60):gsub("\n", " | "),
      args = args }
  end
  local code = R.pick(cases.HOSTILE)
  local text = R.float() < 0.5 and (code .. "\n" .. MODEL)
    or ("local model = Sequential { Dense { 2, input_shape = { 3 } } }\nlocal function f()\n  " .. code
      .. "\nend\nf()\nreturn model\n")
  return { kind = "hostile", text = text, what = "hostile: " .. code:sub(1, 60), args = {} }
end

---------------------------------------------------------------- command lines

-- Extra options for a case: dtype, batch, unroll; sometimes bad ones.
function cases.options(R, c)
  local args = {}
  for _, a in ipairs(c.args or {}) do
    args[#args + 1] = a
  end
  args[#args + 1] = "--dtype"
  args[#args + 1] = R.float() < 0.5 and "float64" or "float32"
  if R.float() < 0.5 then
    args[#args + 1] = "--batch"
    args[#args + 1] = tostring(R.int(1, 5))
  end
  local r = R.float()
  if r < 0.5 then
    args[#args + 1] = "--unroll"
    args[#args + 1] = tostring(R.pick({ 0, 1, 8, 64, 1000, 100000, 1000000000, 9007199254740993 }))
  end
  if R.float() < 0.03 then
    local bad = R.pick({ { "--batch", "0" }, { "--batch", "1e9" }, { "--unroll", "-1" }, { "--timesteps", "x" },
      { "--batch", "70000" }, { "--timesteps", "16777217" }, { "--dtype", "half" }, { "--name", "1x" } })
    args[#args + 1], args[#args + 2] = bad[1], bad[2]
    c.bad_cli = true
  end
  return args
end

return cases
