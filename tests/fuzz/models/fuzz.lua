#!/usr/bin/env lua5.4
-- The model-description fuzzer: feeds `rnnc generate` mutated example models,
-- random layer stacks and hostile Lua (cases.lua) for a bounded time, and
-- classifies what happens to each input:
--   error      exit status 1 and a message "FILE:LINE: ..." naming the case's
--              file and a line (and the layer, for a fault put in a layer's
--              argument): the right answer to a bad description
--   usage      exit status 2 for a bad command line the case asked for
--   diff ok    C that compiles warning-free (-std=c99 -Wall -Wextra -Werror
--              -pedantic) and whose driver's `diff` against the reference
--              runtime passes on `sample` data
--   compiled   as diff ok, but too big to run here (the C still compiled)
-- Anything else is a FINDING: a Lua traceback or an error from inside the
-- generator, an error without FILE:LINE, a crash, a hang past the time bound,
-- memory past the bound, C that fails to compile, a failing diff. Findings
-- are kept in OUT/findings/ (the case, the command, its output).
--
--   lua5.4 tests/fuzz/models/fuzz.lua [--seconds S] [--seed N] [--out DIR]
--          [--cases N] [--keep] [-v]
--
-- --seconds bounds the wall time (default 60; a case under way finishes),
-- --seed picks the cases (default: the time; printed, so a run can be
-- repeated), --cases stops after N cases, --keep keeps every case's files.
-- Needs build/librnnc.a (make runtime). The exit status is 1 on any finding.
-- The last line is "N passed, M failed" (cases without and with a finding).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
do -- absolute, so that the paths in messages are plain
  local p = io.popen("cd '" .. here:gsub("'", "'\\''") .. "' && pwd")
  here = p:read("l") or here
  p:close()
end
local root = here:match("^(.*)/tests/fuzz/models$") or (here .. "/../../..")
package.path = here .. "/?.lua;" .. package.path
local cases = require("cases")

local opts = { seconds = 60, out = root .. "/build/fuzz-models", seed = os.time(), keep = false, verbose = false }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--seconds" then
      i = i + 1
      opts.seconds = tonumber(arg[i])
    elseif a == "--seed" then
      i = i + 1
      opts.seed = math.tointeger(tonumber(arg[i]))
    elseif a == "--out" then
      i = i + 1
      opts.out = arg[i]
    elseif a == "--cases" then
      i = i + 1
      opts.cases = math.tointeger(tonumber(arg[i]))
    elseif a == "--keep" then
      opts.keep = true
    elseif a == "-v" then
      opts.verbose = true
    else
      io.stderr:write("usage: lua5.4 tests/fuzz/models/fuzz.lua [--seconds S] [--seed N] [--out DIR] [--cases N] "
        .. "[--keep] [-v]\n")
      os.exit(2)
    end
    i = i + 1
  end
  if not opts.seconds or not opts.seed or not opts.out then
    io.stderr:write("fuzz.lua: --seconds, --seed and --out need a value\n")
    os.exit(2)
  end
end

-- Bounds of one generator run, wider than the generator's own (dsl.lua,
-- generate.lua, cli.lua): reaching them is a finding.
local GENERATE_SECONDS = 150
local GENERATE_MEMORY_KIB = 8 * 1024 * 1024
-- Compiling and running the generated program.
local COMPILE_SECONDS = 300
local RUN_SECONDS = 120
-- Units bigger than this compile but are not run (the reference runtime's
-- diff of a big model takes long).
local RUN_MAX_PARAMS = 200000

local CC = os.getenv("CC") or "cc"
local LIB = os.getenv("RNNC_RUNTIME_LIB") or (root .. "/build/librnnc.a")
-- the reference runtime and the driver, next to it
local LIB_REF = (LIB:match("^(.*)/[^/]*$") or ".") .. "/librnnc_ref.a"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function sh(command)
  local ok, how, code = os.execute(command)
  if ok then return 0 end
  if how == "signal" then return 128 + code end
  return code
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- A random source of our own over Lua 5.4's generator, seeded once.
math.randomseed(opts.seed)
local R = {
  int = function(a, b)
    return math.random(a, b)
  end,
  float = function()
    return math.random()
  end,
  pick = function(list)
    return list[math.random(1, #list)]
  end,
}

local function example_models()
  local list = {}
  local p = io.popen("find " .. quote(root .. "/examples") .. " -name '*.lua' | sort")
  for path in p:lines() do
    list[#list + 1] = { path = path:sub(#root + 2), text = read(path) }
  end
  p:close()
  return list
end

local function escape(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- Judges the message of a failed generation (exit status 1). Returns nil
-- when it is a proper error, else what is wrong with it.
local function judge_error(c, path, stderr)
  local first = stderr:match("^[^\n]*") or ""
  local line, message = first:match("^rnnc: " .. escape(path) .. ":(%-?%d+): (.*)$")
  if not line then return "an error without FILE:LINE: " .. first:sub(1, 300) end
  if tonumber(line) < 1 then return "an error at line " .. line .. ": " .. first:sub(1, 300) end
  -- a Lua error raised inside the generator (its file and line in the text)
  if message:match("generator/[%w_/]+%.lua:%d+") or message:match("internal") or stderr:match("traceback") then
    return "an error from inside the generator: " .. first:sub(1, 300)
  end
  if message:match("stopped by signal") then return "the operating system's limit stopped it: " .. first end
  if c.needs_layer and not message:match("layer '") then
    return "an error about a layer's argument that does not name the layer: " .. first:sub(1, 300)
  end
  return nil
end

local counts, order = {}, {}
local function count(class)
  if not counts[class] then
    counts[class] = 0
    order[#order + 1] = class
  end
  counts[class] = counts[class] + 1
end

local findings, failed_cases = 0, 0
local function finding(c, dir, class, detail, command)
  findings = findings + 1
  if not c.found then failed_cases = failed_cases + 1 end
  c.found = true
  count("FINDING: " .. class)
  local fdir = opts.out .. "/findings"
  sh("mkdir -p " .. quote(fdir))
  local base = string.format("%s/%s", fdir, c.id)
  write(base .. ".lua", c.text)
  write(base .. ".txt", table.concat({
    "class: " .. class,
    "case: " .. c.what,
    "command: " .. command,
    "detail: " .. detail,
    "stderr:",
    read(dir .. "/generate.err"),
  }, "\n") .. "\n")
  io.write(string.format("FINDING %s (%s): %s\n  %s\n  kept in %s.{lua,txt}\n", c.id, class, c.what,
    detail:sub(1, 400), base))
  io.flush()
end

-- Compiles the unit in `dir` and runs its driver's init, sample and diff.
-- Returns "ok", "large" (compiled, too big to run here) or the class of
-- the failure and its detail.
local function compile_and_diff(dir, name)
  local exe = dir .. "/" .. name
  local compile = string.format("timeout -s KILL %d %s -std=c99 -O0 -Wall -Wextra -Werror -pedantic -I%s -I%s -I%s "
    .. "%s %s %s %s -lm -o %s >%s 2>&1", COMPILE_SECONDS, CC, quote(root .. "/runtime"),
    quote(root .. "/runtime/reference"), quote(dir), quote(dir .. "/" .. name .. ".c"),
    quote(dir .. "/" .. name .. "_main.c"), quote(LIB_REF), quote(LIB), quote(exe), quote(dir .. "/compile.log"))
  if sh(compile) ~= 0 then return "C that fails to compile", read(dir .. "/compile.log"):sub(1, 2000) end
  local params = tonumber((read(dir .. "/../generate.err"):match("([%d,]+) parameters") or "0"):gsub(",", ""), 10)
  if params > RUN_MAX_PARAMS then return "large" end
  -- a model with initial-state inputs takes them as --x1, --x2, ... (sample
  -- writes them next to x.npy as x_1.npy, x_2.npy, ...)
  local function more_inputs()
    local words = {}
    for k = 1, 64 do
      local path = string.format("%s/x_%d.npy", dir, k)
      if sh("test -f " .. quote(path)) ~= 0 then break end
      words[#words + 1] = string.format("--x%d %s", k, quote(path))
    end
    return table.concat(words, " ")
  end
  local steps = {
    function()
      return string.format("%s init --seed 1 --out %s", quote(exe), quote(dir .. "/w.safetensors"))
    end,
    function()
      return string.format("%s sample --seed 2 --n 3 --x %s --y %s", quote(exe), quote(dir .. "/x.npy"),
        quote(dir .. "/y.npy"))
    end,
    function()
      return string.format("%s diff --weights %s --x %s %s --y %s", quote(exe), quote(dir .. "/w.safetensors"),
        quote(dir .. "/x.npy"), more_inputs(), quote(dir .. "/y.npy"))
    end,
  }
  for _, make_step in ipairs(steps) do
    local step = make_step()
    local status = sh(string.format("timeout -s KILL %d %s >%s 2>&1", RUN_SECONDS, step, quote(dir .. "/run.log")))
    if status ~= 0 then
      local what = status == 137 and "the generated program hung" or
        (step:match(" diff ") and "diff against the reference failed" or "the generated program failed")
      return what, "status " .. status .. " of " .. step .. "\n" .. read(dir .. "/run.log"):sub(1, 3000)
    end
  end
  return "ok"
end

-- The worst relative difference a failed diff printed.
local function worst_difference(detail)
  return tonumber(detail:match("worst relative difference ([%d%.e%+%-]+)") or "")
end

-- Whether every tensor a diff failed on differs by rounding noise only: diff
-- compares relative to the reference tensor's largest magnitude, so a
-- gradient that is zero in exact arithmetic (a softmax over equal columns)
-- fails on differences of 1e-19.
local function only_noise(detail, float32)
  local floor = float32 and 1e-6 or 1e-13
  local any = false
  for line in detail:gmatch("[^\n]+") do
    if line:match("  FAIL$") then
      any = true
      local abs = tonumber(line:match("max abs (%S+)") or "")
      if not abs or abs ~= abs or abs > floor then return false end
    end
  end
  return any
end

-- Checks the unit generated in dir/out and counts the outcome.
local function check_generated(c, dir, name, command)
  local class, detail = compile_and_diff(dir .. "/out", name)
  if class == "diff against the reference failed" and only_noise(detail, command:find("'float32'", 1, true)) then
    count("generated, compiled, diff ok (failed only on a zero tensor's rounding noise)")
    return
  end
  if class == "diff against the reference failed" and command:find("'float32'", 1, true) then
    -- float32 against the double-precision reference: accumulated rounding
    -- on an ill-conditioned model can pass the tolerance. The same case in
    -- float64 must pass, and float32 stay within 1e-2.
    local worst = worst_difference(detail)
    local command64 = command:gsub("'float32'", "'float64'"):gsub("/out'", "/out64'")
    if worst and worst < 1e-2 and sh(command64 .. " >/dev/null 2>&1") == 0 then
      local class64, detail64 = compile_and_diff(dir .. "/out64", name)
      if class64 == "ok" then
        count("generated, compiled, diff ok (float32 rounding over 1e-5; float64 diff ok)")
        return
      end
      class, detail = class64, "float64: " .. (detail64 or "")
    end
  end
  if class == "ok" then
    count("generated, compiled, diff ok")
  elseif class == "large" then
    count("compiled (not run: over " .. RUN_MAX_PARAMS .. " parameters)")
  else
    finding(c, dir, class, detail, command)
  end
end

local function run_case(c)
  local dir = opts.out .. "/work/" .. c.id
  sh("rm -rf " .. quote(dir) .. " && mkdir -p " .. quote(dir))
  local path = dir .. "/" .. c.id .. ".lua"
  write(path, c.text)
  local args = {}
  for _, a in ipairs(c.cli) do
    args[#args + 1] = quote(a)
  end
  local format = R.float() < 0.1 and "" or "--no-format"
  local command = string.format("lua5.4 %s generate %s -o %s %s %s", quote(root .. "/bin/rnnc"), quote(path),
    quote(dir .. "/out"), table.concat(args, " "), format)
  local started = now()
  local status = sh(string.format("ulimit -v %d; timeout -s KILL %d %s >%s 2>%s", GENERATE_MEMORY_KIB,
    GENERATE_SECONDS, command, quote(dir .. "/generate.out"), quote(dir .. "/generate.err")))
  local secs = now() - started
  local stderr = read(dir .. "/generate.err")
  if opts.verbose then
    io.write(string.format("%s %-8s %5.1fs status %d  %s\n    %s\n", c.id, c.kind, secs, status, c.what,
      (stderr:match("^[^\n]*") or ""):sub(1, 200)))
  end
  if status == 0 then
    local name = c.id
    for i, a in ipairs(c.cli) do
      if a == "--name" then name = c.cli[i + 1] end
    end
    check_generated(c, dir, name, command)
  elseif status == 1 then
    local wrong = judge_error(c, path, stderr)
    if wrong then finding(c, dir, "a bad error", wrong, command) else count("error (FILE:LINE)") end
  elseif status == 2 and c.bad_cli and stderr:match("^rnnc: ") then
    count("usage error (bad command line)")
  elseif status == 137 then
    finding(c, dir, "hang", string.format("killed after %.0f s (bound %d s)", secs, GENERATE_SECONDS), command)
  else
    finding(c, dir, "crash or unexpected exit", "status " .. status .. ": " .. stderr:sub(1, 1000), command)
  end
  if secs > 60 then finding(c, dir, "slow", string.format("generation took %.0f s", secs), command) end
  if not opts.keep then sh("rm -rf " .. quote(dir)) end
end

-- Make sure the runtime library is there.
if sh("test -f " .. quote(LIB)) ~= 0 then
  io.stderr:write("fuzz.lua: " .. LIB .. " is missing: run make runtime\n")
  os.exit(2)
end
sh("rm -rf " .. quote(opts.out .. "/work") .. " " .. quote(opts.out .. "/findings") .. " && mkdir -p "
  .. quote(opts.out .. "/work"))
local examples = example_models()
io.write(string.format("models fuzz: seed %d, %s s, %d example models, out %s\n", opts.seed, opts.seconds,
  #examples, opts.out))
io.flush()

local started = now()
local n, by_kind = 0, {}
while now() - started < opts.seconds and (not opts.cases or n < opts.cases) do
  n = n + 1
  local r = R.float()
  local c
  if r < 0.45 then
    c = cases.mutation(R, examples)
  elseif r < 0.8 then
    c = cases.stack(R)
  else
    c = cases.hostile(R)
  end
  c.id = string.format("case%06d", n)
  c.cli = cases.options(R, c)
  by_kind[c.kind] = (by_kind[c.kind] or 0) + 1
  run_case(c)
end
local elapsed = now() - started

io.write(string.format("models fuzz: %d cases in %.0f s (seed %d): %d mutations, %d random stacks, %d hostile\n", n,
  elapsed, opts.seed, by_kind.mutation or 0, by_kind.stack or 0, by_kind.hostile or 0))
table.sort(order)
for _, class in ipairs(order) do
  io.write(string.format("  %6d  %s\n", counts[class], class))
end
if findings > 0 then io.write("findings are in " .. opts.out .. "/findings/\n") end
io.write(string.format("%d passed, %d failed\n", n - failed_cases, failed_cases))
os.exit(findings == 0 and 0 or 1)
