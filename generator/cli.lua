-- The rnnc command line: summary, generate, build.
local util = require("util")

local cli = {}

local USAGE = [[
usage: rnnc summary MODEL.lua
       rnnc generate MODEL.lua -o DIR [--dtype float32|float64] [--batch B]
                     [--unroll N] [--timesteps T] [--name NAME] [--no-format]
       rnnc generate MODEL.lua --dump-ir built|autodiff|simplify|layout [generate options]
       rnnc build MODEL.lua -o DIR [generate options] [--cc CC] [--runtime-lib librnnc.a] [--mpi]
       rnnc import FILE -o OUTDIR [--name NAME] [--weights W.h5] | rnnc import --check FILE

  summary   print Keras's model.summary() table
  generate  write DIR/<name>.h, DIR/<name>.c (and DIR/<name>_main.c, the driver's main);
            with --dump-ir PASS, print the IR after that pass instead and write nothing
  build     generate, then compile the driver program DIR/<name> with the runtime
            (built once per compiler and flags into a cache: $RNNC_CACHE_DIR,
            $XDG_CACHE_HOME/rnnc or ~/.cache/rnnc); --mpi: the driver for mpirun, compiled
            with $MPICC or mpicc (data-parallel fit across processes)
  import    a Keras model file (.h5, .keras, JSON + weights) -> OUTDIR/NAME.lua and NAME.safetensors
]]

-- The operating system's limits on a run of rnnc: the generator bounds a
-- description's work and memory itself (dsl.lua, generate.lua), but one Lua
-- operation ("..", a C library call) can allocate or run between two of its
-- checks; these soft limits (address space, CPU seconds) catch that. The
-- compiler and clang-format lift them for themselves.
local LIMIT_ADDRESS_KIB = 3 * 1024 * 1024
local LIMIT_CPU_SECONDS = 300
-- --batch: the size dsl.lua allows a unit count; --timesteps: a sequence length.
local MAX_DIM = 1 << 16
local MAX_STEPS = 1 << 24

local function stderr(...)
  io.stderr:write(...)
end

local function parse(args)
  local o = { dtype = "float32", positional = {} }
  local i = 1
  local function value(flag)
    i = i + 1
    if args[i] == nil then error({ usage = flag .. " needs a value" }) end
    return args[i]
  end
  local function int(flag, max)
    local v = math.tointeger(tonumber(value(flag)))
    if not v or v <= 0 then error({ usage = flag .. " needs a positive integer" }) end
    if v > max then error({ usage = string.format("%s is at most %d", flag, max) }) end
    return v
  end
  while i <= #args do
    local a = args[i]
    if a == "-o" or a == "--out" then
      o.out = value(a)
    elseif a == "--dtype" then
      o.dtype = value(a)
      if o.dtype ~= "float32" and o.dtype ~= "float64" then error({ usage = "--dtype is float32 or float64" }) end
    elseif a == "--batch" then
      o.batch = int(a, MAX_DIM)
    elseif a == "--unroll" then
      o.unroll = math.tointeger(tonumber(value(a)))
      if not o.unroll or o.unroll < 0 then error({ usage = "--unroll needs a non-negative integer" }) end
    elseif a == "--timesteps" then
      o.timesteps = int(a, MAX_STEPS)
    elseif a == "--name" then
      o.name = value(a)
      if not o.name:match("^[%a_][%w_]*$") then error({ usage = "--name must be a C identifier" }) end
    elseif a == "--no-format" then
      o.format = false
    elseif a == "--dump-ir" then
      o.dump_ir = value(a)
      local known = table.concat(require("pipeline").PASSES, ", ")
      if not (", " .. known .. ", "):find(", " .. o.dump_ir .. ", ", 1, true) then
        error({ usage = "--dump-ir takes a pass: " .. known })
      end
    elseif a == "--cc" then
      o.cc = value(a)
    elseif a == "--runtime-lib" then
      o.runtime_lib = value(a)
    elseif a == "--mpi" then
      o.mpi = true
    elseif a == "-h" or a == "--help" then
      o.help = true
    elseif a:sub(1, 1) == "-" then
      error({ usage = "unknown option " .. a })
    else
      o.positional[#o.positional + 1] = a
    end
    i = i + 1
  end
  return o
end

local function write_files(dir, files)
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  local names = util.sorted_keys(files)
  for _, file in ipairs(names) do
    local path = dir .. "/" .. file
    local tmp = path .. ".tmp"
    local f, err = io.open(tmp, "wb")
    if not f then error("cannot write " .. path .. ": " .. tostring(err), 0) end
    f:write(files[file])
    f:close()
    assert(os.rename(tmp, path))
  end
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs this same command again under the limits, when the shell can set
-- them. Returns its exit status, or nil when it did not run.
local function run_limited(args)
  local interpreter, script = args[-1], args[0]
  if not interpreter or not script then return nil end
  local words = { quote(interpreter), quote(script) }
  for _, a in ipairs(args) do
    words[#words + 1] = quote(a)
  end
  local command = string.format("ulimit -S -v %d 2>/dev/null; ulimit -S -t %d 2>/dev/null; "
    .. "RNNC_LIMITED=1 exec %s", LIMIT_ADDRESS_KIB, LIMIT_CPU_SECONDS, table.concat(words, " "))
  local ok, how, code = os.execute(command)
  if how == "signal" then
    stderr(string.format("rnnc: %s: stopped by signal %d (%s); a model description must not take more than "
      .. "%d s of CPU or %d MiB of memory\n", tostring(args[2]), code,
      code == 24 and "CPU time limit" or code == 9 and "killed" or "see the signal's number",
      LIMIT_CPU_SECONDS, LIMIT_ADDRESS_KIB // 1024))
    return 1
  end
  if ok then return 0 end
  return code
end

function cli.main(args, root)
  -- import has options of its own (generator/import/command.lua)
  if args[1] == "import" then return require("import.command").main(args, root) end
  local ok, o = pcall(parse, args)
  if not ok then
    stderr("rnnc: ", type(o) == "table" and o.usage or tostring(o), "\n", USAGE)
    return 2
  end
  local cmd, model_path = o.positional[1], o.positional[2]
  if o.help or not cmd then
    io.write(USAGE)
    return o.help and 0 or 2
  end
  if not model_path or #o.positional > 2 then
    stderr("rnnc: ", cmd, " takes one model file\n", USAGE)
    return 2
  end
  if not os.getenv("RNNC_LIMITED") and os.getenv("RNNC_NO_LIMITS") ~= "1" then
    local status = run_limited(args)
    if status then return status end
  end
  local run_ok, result = pcall(function()
    if cmd == "summary" then
      local dsl = require("dsl")
      local summary = require("summary")
      io.write(summary.text(dsl.load(model_path)))
      return 0
    elseif cmd == "generate" and o.dump_ir then
      local generate = require("generate")
      io.write(generate.dump(model_path, o.dump_ir, { batch = o.batch, timesteps = o.timesteps }))
      return 0
    elseif cmd == "generate" or cmd == "build" then
      if not o.out then error({ usage = cmd .. " needs -o DIR" }) end
      -- the output goes through clang-format unless --no-format: say so
      -- before any work, and write nothing
      if o.format ~= false and not os.execute("command -v clang-format >/dev/null 2>&1") then
        error("clang-format is not installed, and generate formats the C it writes with it: install it "
          .. "(apt-get install clang-format), or pass --no-format to write the C unformatted", 0)
      end
      local generate = require("generate")
      local files, name, model, unit, info = generate.unit(model_path, {
        dtype = o.dtype,
        batch = o.batch,
        unroll = o.unroll or generate.DEFAULT_UNROLL,
        timesteps = o.timesteps,
        name = o.name,
        root = root,
        format = o.format,
      })
      write_files(o.out, files)
      if info.unroll ~= info.requested then
        stderr(string.format("rnnc: %s: --unroll %d would emit about %.1f MB of C (limit %.1f MB): ops over %d "
          .. "elements or multiply-adds are loops instead (--unroll %d)\n", model_path, info.requested,
          info.estimate / 1e6, generate.MAX_C_BYTES / 1e6, info.unroll, info.unroll))
      end
      stderr(string.format("rnnc: %s: %s parameters, batch %d, %s, --unroll %d; wrote %s/%s.{h,c} and %s_main.c "
        .. "(%s lines, %s bytes)\n", model_path, util.commas(model.params), unit.interface.batch, o.dtype,
        info.unroll, o.out, name, name, util.commas(info.lines), util.commas(info.bytes)))
      if cmd == "build" then
        local cc = o.cc or os.getenv("CC") or "cc"
        -- -O3 -march=native: the program runs where it is built, and the
        -- product kernels vectorise for this machine (bench/); CFLAGS is
        -- appended, so a later -O or -march wins
        local flags = "-O3 -march=native " .. (os.getenv("CFLAGS") or "")
        local libs
        local lib = o.runtime_lib or os.getenv("RNNC_RUNTIME_LIB")
        if lib and lib ~= "" then
          -- a prebuilt librnnc.a (make runtime); the reference runtime and
          -- the driver (librnnc_ref.a) next to it
          local ref = (lib:match("^(.*)/[^/]*$") or ".") .. "/librnnc_ref.a"
          libs = quote(ref) .. " " .. quote(lib)
        else
          local started = os.time()
          local dir, built = require("runtime_cache").libraries(root, cc, flags)
          stderr(string.format("rnnc: runtime library %s (%s)\n", dir,
            built and string.format("built in %d s", os.time() - started) or "reused"))
          libs = quote(dir .. "/librnnc_ref.a") .. " " .. quote(dir .. "/librnnc.a")
        end
        local exe = o.out .. "/" .. name
        local main, extra = o.out .. "/" .. name .. "_main.c", ""
        if o.mpi then
          -- the same unit and runtime; the main and the group over MPI
          -- (runtime/mpi/rnnc_mpi.c) compiled by MPI's compiler wrapper
          cc = os.getenv("MPICC") or "mpicc"
          if not os.execute("command -v " .. cc .. " >/dev/null 2>&1") then
            error("rnnc build --mpi needs " .. cc .. " (Debian: apt-get install openmpi-bin libopenmpi-dev)", 0)
          end
          main = o.out .. "/" .. name .. "_mpi_main.c"
          write_files(o.out, { [name .. "_mpi_main.c"] = string.format("/* rnnc build --mpi: the driver's main "
            .. "under mpirun (runtime/mpi/rnnc_mpi.h). */\n#include \"%s.h\"\n#include \"rnnc_mpi.h\"\n\n"
            .. "int main(int argc, char **argv) {\n  return rnnc_mpi_main(&%s_model, argc, argv);\n}\n", name, name) })
          extra = "-I" .. quote(root .. "/runtime/mpi") .. " " .. quote(root .. "/runtime/mpi/rnnc_mpi.c")
        end
        local command = string.format("ulimit -S -v unlimited 2>/dev/null; ulimit -S -t unlimited 2>/dev/null; "
          .. "%s -std=c99 %s -Wall -Wextra -I%s -I%s -I%s %s %s %s %s -lm -pthread -o %s", cc, flags,
          quote(root .. "/runtime"), quote(root .. "/runtime/reference"), quote(o.out),
          quote(o.out .. "/" .. name .. ".c"), quote(main), extra, libs, quote(exe))
        if not os.execute(command) then error("compiling the driver failed: " .. command, 0) end
        stderr("rnnc: built ", exe, "\n")
      end
      return 0
    else
      error({ usage = "unknown command " .. cmd })
    end
  end)
  if run_ok then return result end
  if type(result) == "table" and result.usage then
    stderr("rnnc: ", result.usage, "\n", USAGE)
    return 2
  end
  stderr("rnnc: ", tostring(result), "\n")
  return 1
end

return cli
