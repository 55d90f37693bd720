#!/usr/bin/env lua5.4
-- The model-description fuzzer: feeds `rnnc generate` mutated example models,
-- random layer stacks and hostile Lua (cases.lua), and classifies what
-- happens to each input:
--   error      exit status 1 and a message "FILE:LINE: ..." naming the case's
--              file and a line (and the layer, for a fault put in a layer's
--              argument): the right answer to a bad description
--   usage      exit status 2 for a bad command line the case asked for
--   diff ok    C that compiles warning-free (-std=c99 -Wall -Wextra -Werror
--              -pedantic) and whose driver's `diff` against the reference
--              runtime passes on `sample` data
--   compiled   as diff ok, but too big to run here (the C still compiled)
-- Anything else is a FINDING: a Lua traceback or an error from inside the
-- generator, an error without FILE:LINE, a crash, a hang past the CPU-time
-- bound, memory past the bound, C that fails to compile, a failing diff.
-- Findings are kept in OUT/findings/ (the case, its options, the command,
-- the output) and printed with the command that replays them.
--
--   lua5.4 tests/fuzz/models/fuzz.lua --seed N (--cases N | --seconds S)
--          [--out DIR] [--keep] [-v]
--   lua5.4 tests/fuzz/models/fuzz.lua --seed N --case K [--out DIR] [--keep] [-v]
--   lua5.4 tests/fuzz/models/fuzz.lua --replay DIR [--out DIR] [--keep] [-v]
--
-- Case K of seed N is drawn from its own generator state (math.randomseed(N,
-- K)), so it is the same case whatever ran before it: --case K replays it
-- alone. --cases runs cases 1..N: the same set, and so the same verdict, on
-- every run and machine (make test). --seconds explores: cases 1, 2, ... until
-- the time is up (make fuzz-explore). --replay runs the regression cases kept
-- in DIR (NAME.lua and NAME.args: a finding, fixed). No verdict depends on
-- the clock: every bound on a child process is on its CPU time, with a wall
-- limit ten times longer only as a backstop. Needs build/librnnc.a (make
-- runtime). The exit status is 1 on any finding. The last line is "N passed,
-- M failed" (cases without and with a finding).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
do -- absolute, so that the paths in messages are plain
  local p = io.popen("cd '" .. here:gsub("'", "'\\''") .. "' && pwd")
  here = p:read("l") or here
  p:close()
end
local root = here:match("^(.*)/tests/fuzz/models$") or (here .. "/../../..")
package.path = here .. "/?.lua;" .. package.path
local cases = require("cases")

local opts = { out = root .. "/build/fuzz-models", keep = false, verbose = false }
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
    elseif a == "--case" then
      i = i + 1
      opts.case = math.tointeger(tonumber(arg[i]))
    elseif a == "--replay" then
      i = i + 1
      opts.replay = arg[i]
    elseif a == "--keep" then
      opts.keep = true
    elseif a == "-v" then
      opts.verbose = true
    else
      opts.usage = true
    end
    i = i + 1
  end
  local modes = (opts.replay and 1 or 0) + (opts.case and 1 or 0) + ((opts.cases or opts.seconds) and 1 or 0)
  if opts.usage or modes ~= 1 or (not opts.replay and not opts.seed) or not opts.out then
    io.stderr:write("usage: lua5.4 tests/fuzz/models/fuzz.lua --seed N (--cases N | --seconds S | --case K) "
      .. "[--out DIR] [--keep] [-v]\n       lua5.4 tests/fuzz/models/fuzz.lua --replay DIR [--out DIR] [--keep] [-v]\n")
    os.exit(2)
  end
end

-- Bounds of one generator run, wider than the generator's own (dsl.lua,
-- generate.lua, cli.lua): reaching them is a finding. CPU seconds, so that
-- a loaded machine gives the same verdict as an idle one.
local GENERATE_CPU_SECONDS = 150
local GENERATE_MEMORY_KIB = 8 * 1024 * 1024
-- A generation that takes more CPU than this is a finding ("slow").
local SLOW_CPU_SECONDS = 60
-- Compiling and running the generated program (CPU seconds per process).
local COMPILE_CPU_SECONDS = 300
local RUN_CPU_SECONDS = 120
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

-- Runs `command` with its output in `out` and its errors in `err`, each of
-- its processes limited to `cpu` seconds of CPU time (and `memory_kib` of
-- address space when given); a wall-clock limit of ten times that is only a
-- backstop for a process that sleeps. Returns the exit status (128 + the
-- signal: 137 SIGKILL, 152 SIGXCPU) and the CPU seconds the command used.
local function run_bounded(command, cpu, out, err, memory_kib)
  local times = os.tmpname()
  local script = string.format("ulimit -t %d; %s timeout -s KILL %d sh -c %s >%s 2>%s; rc=$?; times >%s; exit $rc",
    cpu, memory_kib and string.format("ulimit -v %d;", memory_kib) or "", cpu * 10, quote(command), quote(out),
    quote(err), quote(times))
  local status = sh("bash -c " .. quote(script))
  -- `times`: the shell's user and system time, then its children's
  local used = 0
  local lines = {}
  for line in read(times):gmatch("[^\n]+") do
    lines[#lines + 1] = line
  end
  os.remove(times)
  for m, s in (lines[2] or ""):gmatch("(%d+)m([%d%.]+)s") do
    used = used + tonumber(m) * 60 + tonumber(s)
  end
  return status, used
end

local function timed_out(status)
  return status == 137 or status == 152
end

-- The random source of one case: its own state, drawn from the run's seed
-- and the case's number, so a case is the same whatever ran before it.
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
  -- NAME.lua + NAME.args: copied to tests/fuzz/models/regressions/, the
  -- case runs in every `make test` from then on
  write(base .. ".lua", c.text)
  local args = { "# " .. c.what, "# found by: " .. c.replay }
  if c.needs_layer then args[#args + 1] = "#! needs_layer" end
  if c.bad_cli then args[#args + 1] = "#! bad_cli" end
  for _, a in ipairs(c.cli) do
    args[#args + 1] = a
  end
  write(base .. ".args", table.concat(args, "\n") .. "\n")
  write(base .. ".txt", table.concat({
    "class: " .. class,
    "case: " .. c.what,
    "replay: " .. c.replay,
    "command: " .. command,
    "detail: " .. detail,
    "stderr:",
    read(dir .. "/generate.err"),
  }, "\n") .. "\n")
  io.write(string.format("FINDING %s: replay with: %s\n  %s: %s\n  %s\n  kept in %s.{lua,args,txt}\n", c.id,
    c.replay, class, c.what, detail:sub(1, 400), base))
  io.flush()
end

-- Compiles the unit in `dir` and runs its driver's init, sample and diff.
-- Returns "ok", "large" (compiled, too big to run here) or the class of
-- the failure and its detail.
local function compile_and_diff(dir, name)
  local exe = dir .. "/" .. name
  local compile = string.format("%s -std=c99 -O0 -Wall -Wextra -Werror -pedantic -I%s -I%s -I%s %s %s %s %s -lm -o %s",
    CC, quote(root .. "/runtime"), quote(root .. "/runtime/reference"), quote(dir), quote(dir .. "/" .. name .. ".c"),
    quote(dir .. "/" .. name .. "_main.c"), quote(LIB_REF), quote(LIB), quote(exe))
  local log = dir .. "/compile.log"
  local compiled = run_bounded(compile, COMPILE_CPU_SECONDS, log, log)
  if compiled ~= 0 then
    return timed_out(compiled) and "the compiler ran out of CPU time" or "C that fails to compile",
      read(log):sub(1, 2000)
  end
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
    local status = run_bounded(step, RUN_CPU_SECONDS, dir .. "/run.log", dir .. "/run.log")
    if status ~= 0 then
      local what = timed_out(status) and "the generated program hung" or
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
  local command = string.format("lua5.4 %s generate %s -o %s %s", quote(root .. "/bin/rnnc"), quote(path),
    quote(dir .. "/out"), table.concat(args, " "))
  local status, secs = run_bounded(command, GENERATE_CPU_SECONDS, dir .. "/generate.out", dir .. "/generate.err",
    GENERATE_MEMORY_KIB)
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
  elseif timed_out(status) then
    finding(c, dir, "hang", string.format("stopped after %.0f s of CPU (bound %d s)", secs, GENERATE_CPU_SECONDS),
      command)
  else
    finding(c, dir, "crash or unexpected exit", "status " .. status .. ": " .. stderr:sub(1, 1000), command)
  end
  if secs > SLOW_CPU_SECONDS then
    finding(c, dir, "slow", string.format("generation took %.0f s of CPU", secs), command)
  end
  if not opts.keep then sh("rm -rf " .. quote(dir)) end
end

-- One case of the run: case k of seed `seed`.
local function make_case(seed, k, examples)
  math.randomseed(seed, k)
  local r = R.float()
  local c
  if r < 0.45 then
    c = cases.mutation(R, examples)
  elseif r < 0.8 then
    c = cases.stack(R)
  else
    c = cases.hostile(R)
  end
  c.id = string.format("case%06d", k)
  c.cli = cases.options(R, c)
  if R.float() >= 0.1 then c.cli[#c.cli + 1] = "--no-format" end
  c.replay = string.format("lua5.4 tests/fuzz/models/fuzz.lua --seed %d --case %d --keep -v", seed, k)
  return c
end

-- The regression cases of a directory: NAME.lua (the description) and
-- NAME.args (a line per command-line word; "#" lines are comments, and
-- "#! needs_layer" / "#! bad_cli" say what the case expects).
local function regression_cases(dir)
  local list = {}
  local p = io.popen("ls " .. quote(dir) .. " 2>/dev/null | grep '\\.lua$' | sort")
  for file in p:lines() do
    local name = file:gsub("%.lua$", "")
    local c = { id = name, kind = "regression", what = "regression " .. name, text = read(dir .. "/" .. file),
      cli = {}, replay = string.format("lua5.4 tests/fuzz/models/fuzz.lua --replay %s --keep -v", dir) }
    for line in read(dir .. "/" .. name .. ".args"):gmatch("[^\n]+") do
      local flag = line:match("^#!%s*(%S+)")
      if flag then
        c[flag] = true
      elseif not line:match("^#") then
        c.cli[#c.cli + 1] = line
      end
    end
    list[#list + 1] = c
  end
  p:close()
  return list
end

-- Make sure the runtime library is there.
if sh("test -f " .. quote(LIB)) ~= 0 then
  io.stderr:write("fuzz.lua: " .. LIB .. " is missing: run make runtime\n")
  os.exit(2)
end
sh("rm -rf " .. quote(opts.out .. "/work") .. " " .. quote(opts.out .. "/findings") .. " && mkdir -p "
  .. quote(opts.out .. "/work"))
local examples = example_models()
local mode
if opts.replay then
  mode = "regression cases of " .. opts.replay
elseif opts.case then
  mode = string.format("seed %d, case %d", opts.seed, opts.case)
elseif opts.cases then
  mode = string.format("seed %d, cases 1..%d", opts.seed, opts.cases)
else
  mode = string.format("seed %d, for %s s", opts.seed, opts.seconds)
end
io.write(string.format("models fuzz: %s, %d example models, out %s\n", mode, #examples, opts.out))
io.flush()

local started = now()
local n, by_kind = 0, {}
local function run(c)
  n = n + 1
  by_kind[c.kind] = (by_kind[c.kind] or 0) + 1
  run_case(c)
end
if opts.replay then
  if sh("test -d " .. quote(opts.replay)) ~= 0 then
    io.stderr:write("fuzz.lua: " .. opts.replay .. " is not a directory\n")
    os.exit(2)
  end
  local list = regression_cases(opts.replay)
  for _, c in ipairs(list) do
    run(c)
  end
elseif opts.case then
  run(make_case(opts.seed, opts.case, examples))
else
  local k = 0
  while (not opts.cases or k < opts.cases) and (not opts.seconds or now() - started < opts.seconds) do
    k = k + 1
    run(make_case(opts.seed, k, examples))
  end
end
local elapsed = now() - started

io.write(string.format("models fuzz: %d cases in %.0f s (%s): %d mutations, %d random stacks, %d hostile, "
  .. "%d regressions\n", n, elapsed, mode, by_kind.mutation or 0, by_kind.stack or 0, by_kind.hostile or 0,
  by_kind.regression or 0))
table.sort(order)
for _, class in ipairs(order) do
  io.write(string.format("  %6d  %s\n", counts[class], class))
end
if findings > 0 then io.write("findings are in " .. opts.out .. "/findings/\n") end
io.write(string.format("%d passed, %d failed\n", n - failed_cases, failed_cases))
os.exit(findings == 0 and 0 or 1)
