-- The runtime libraries `rnnc build` links, built once per compiler, flags and
-- runtime sources into a cache directory and reused by every later build.
--
-- The directory is $RNNC_CACHE_DIR, else $XDG_CACHE_HOME/rnnc, else
-- ~/.cache/rnnc; each build of the runtime is a subdirectory named by a hash
-- of the compiler's identity (its predefined macros under the flags: version,
-- target and the instruction sets -march enables), the flags and the bytes of
-- every runtime source. It is built in a temporary directory and renamed into
-- place, so concurrent builds never see half a library.
local runtime_cache = {}

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function lines_of(command)
  local p = io.popen(command)
  local out = {}
  if p then
    for line in p:lines() do
      out[#out + 1] = line
    end
    p:close()
  end
  return out
end

-- 64-bit FNV-1a over the strings given, in order.
local function fnv1a(parts)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  local prime = 1099511628211
  for _, s in ipairs(parts) do
    for i = 1, #s, 4096 do
      local bytes = { s:byte(i, math.min(i + 4095, #s)) }
      for _, b in ipairs(bytes) do
        h = (h ~ b) * prime
      end
    end
    h = (h ~ 0xff) * prime -- a separator: ("ab", "c") and ("a", "bc") differ
  end
  return string.format("%016x", h)
end

function runtime_cache.root()
  return require("util").cache_dir()
end

-- The runtime's sources under `root`: the library's and the reference's
-- (with the driver, which links the reference) .c files, and the headers.
local function sources(root)
  local lib, ref, headers = {}, {}, {}
  for _, path in ipairs(lines_of("ls " .. quote(root) .. "/runtime/*.c " .. quote(root)
    .. "/runtime/reference/*.c 2>/dev/null")) do
    if path:match("/reference/[^/]*$") or path:match("/driver[^/]*%.c$") then
      ref[#ref + 1] = path
    else
      lib[#lib + 1] = path
    end
  end
  for _, path in ipairs(lines_of("ls " .. quote(root) .. "/runtime/*.h " .. quote(root)
    .. "/runtime/reference/*.h 2>/dev/null")) do
    headers[#headers + 1] = path
  end
  return lib, ref, headers
end

-- Returns the directory holding librnnc.a and librnnc_ref.a for `cc` and
-- `flags` (a string of compiler words), building them when they are not
-- there, and whether it built them. Raises a message on failure.
function runtime_cache.libraries(root, cc, flags)
  local lib, ref, headers = sources(root)
  if #lib == 0 then error("the runtime sources are missing under " .. root .. "/runtime", 0) end
  local parts = { cc, flags }
  -- what the compiler defines under these flags: version, target, -march's features
  local macros = lines_of("ulimit -S -v unlimited 2>/dev/null; echo | " .. cc .. " " .. flags
    .. " -dM -E -x c - 2>/dev/null")
  table.sort(macros)
  parts[#parts + 1] = table.concat(macros, "\n")
  local all = {}
  for _, list in ipairs({ lib, ref, headers }) do
    for _, path in ipairs(list) do
      all[#all + 1] = path
    end
  end
  for _, path in ipairs(all) do
    parts[#parts + 1] = path:match("[^/]*/[^/]*$")
    parts[#parts + 1] = read(path) or ""
  end
  local base = runtime_cache.root()
  local dir = base .. "/runtime-" .. fnv1a(parts)
  if read(dir .. "/librnnc.a") and read(dir .. "/librnnc_ref.a") then return dir, false end
  local tmp = string.format("%s.tmp.%d.%d", dir, os.time(), math.random(1, 1 << 30))
  if not os.execute("mkdir -p " .. quote(tmp) .. "/obj") then
    error("cannot create the runtime cache directory " .. tmp .. " (set RNNC_CACHE_DIR)", 0)
  end
  -- every source compiled at once in the background, then the two archives
  local jobs, objs = {}, { lib = {}, ref = {} }
  local includes = "-I" .. quote(root .. "/runtime") .. " -I" .. quote(root .. "/runtime/reference")
  for _, group in ipairs({ { "lib", lib }, { "ref", ref } }) do
    for i, path in ipairs(group[2]) do
      local obj = string.format("%s/obj/%s%d.o", tmp, group[1], i)
      objs[group[1]][#objs[group[1]] + 1] = quote(obj)
      -- -fno-math-errno: the optimizers' square roots are of values never
      -- negative; without errno their loops vectorise (the Makefile's RUNTIME_FLAGS)
      jobs[#jobs + 1] = string.format("(%s -std=c99 %s -fno-math-errno %s -c %s -o %s || echo FAILED %s >>%s) &", cc,
        flags, includes, quote(path), quote(obj), quote(path), quote(tmp .. "/failed"))
    end
  end
  local command = "ulimit -S -v unlimited 2>/dev/null; ulimit -S -t unlimited 2>/dev/null; "
    .. table.concat(jobs, " ") .. " wait; test ! -e " .. quote(tmp .. "/failed")
    .. " && ar rcs " .. quote(tmp .. "/librnnc.a") .. " " .. table.concat(objs.lib, " ")
    .. " && ar rcs " .. quote(tmp .. "/librnnc_ref.a") .. " " .. table.concat(objs.ref, " ")
    .. " && rm -rf " .. quote(tmp .. "/obj")
  if not os.execute(command) then
    local failed = read(tmp .. "/failed") or ""
    os.execute("rm -rf " .. quote(tmp))
    error("building the runtime library failed (" .. cc .. " " .. flags .. "): " .. failed:gsub("\n$", ""), 0)
  end
  -- another build may have finished first: then its directory is kept
  if not os.rename(tmp, dir) then os.execute("rm -rf " .. quote(tmp)) end
  if not read(dir .. "/librnnc.a") then error("cannot move the runtime library into " .. dir, 0) end
  return dir, true
end

return runtime_cache
