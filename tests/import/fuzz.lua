-- The importer's fuzzer: hostile and broken Keras files through `rnnc import`.
--
--   lua5.4 tests/import/fuzz.lua OUTDIR SEED CASES [SECONDS]
--   lua5.4 tests/import/fuzz.lua OUTDIR --case CASESEED        (one case again)
--
-- Case k of a run draws everything from its own seed, SEED * 1000003 + k,
-- printed with every finding; a run of CASES cases with a fixed SEED is the
-- same every time (make test). SECONDS > 0 runs cases until that time is up
-- instead (a long run, with a fresh SEED). Mutations: truncations, bit flips
-- and overwritten words of the synthetic and real files (HDF5, .keras zips,
-- JSON), and structured mutations of the JSON configurations inside .keras
-- zips and JSON architectures: wrong types, absurd sizes, deleted keys, huge
-- strings, deep nesting, long lists.
--
-- The contract every case must keep (else it is a finding, kept under
-- OUTDIR/findings/ with its seed in the name): exit status 0 or 1, in at most
-- the time limit; on 1, a message that names the file, holds no control
-- character and no Lua traceback, and no output directory; on 0, both files
-- written and a description that `rnnc summary` loads. The reader (built
-- with ASan and UBSan for this run, RNNC_KERAS_READ) exits 99 on a sanitizer
-- report: a finding. A reader stopped by its own limits or by a signal inside
-- the HDF5 or zip library is contained (rnnc reports it as a damaged file):
-- counted and listed, not a finding.
local cjson = require("cjson")

local OUT, SEED, CASES, SECONDS = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4] or "0")
if not OUT or not SEED then
  io.stderr:write("usage: lua5.4 tests/import/fuzz.lua OUTDIR SEED CASES [SECONDS] | OUTDIR --case CASESEED\n")
  os.exit(2)
end
local ONE = nil
if SEED == "--case" then
  ONE = math.tointeger(tonumber(CASES or arg[3]))
  SEED, CASES = ONE, 1
else
  SEED = math.tointeger(tonumber(SEED))
end
-- CPU seconds each process of a case may take (the reader limits itself to
-- 60 s): the verdict does not depend on the machine's load; ten times as
-- much wall time is only a backstop for a process that sleeps.
local CPU_SECONDS = 120
local FX, REAL = "tests/import/fixtures/", "tests/import/real/"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- ---------------------------------------------------------------- zip (stored)

local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    c = (c & 1) ~= 0 and (0xEDB88320 ~ (c >> 1)) or (c >> 1)
  end
  CRC[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = CRC[(c ~ s:byte(i)) & 0xFF] ~ (c >> 8)
  end
  return c ~ 0xFFFFFFFF
end

-- A zip of stored members {name, data}, as .keras files are.
local function zip(members)
  local out, central, offset = {}, {}, 0
  for _, m in ipairs(members) do
    local name, data = m[1], m[2]
    local crc = crc32(data)
    local head = string.pack("<I4I2I2I2I2I2I4I4I4I2I2", 0x04034b50, 20, 0, 0, 0, 0x21, crc, #data, #data, #name, 0)
      .. name
    central[#central + 1] = string.pack("<I4I2I2I2I2I2I2I4I4I4I2I2I2I2I2I4I4", 0x02014b50, 20, 20, 0, 0, 0, 0x21,
      crc, #data, #data, #name, 0, 0, 0, 0, 0, offset) .. name
    out[#out + 1] = head .. data
    offset = offset + #head + #data
  end
  local cd = table.concat(central)
  return table.concat(out) .. cd .. string.pack("<I4I2I2I2I2I4I4I2", 0x06054b50, 0, 0, #members, #members, #cd,
    offset, 0)
end

-- ---------------------------------------------------------------- mutations

local SOURCES = {
  { FX .. "keras224_lstm_gru.h5" }, { FX .. "tfkeras29_bidir.h5" }, { FX .. "tfkeras214_functional.h5" },
  { FX .. "keras3_lstm.h5" }, { FX .. "keras3_bidir_gru.keras" }, { FX .. "tfkeras215_windows.keras" },
  { FX .. "keras122_lstm.h5" }, { FX .. "tfkeras212_json.json", FX .. "tfkeras212_json.weights.h5" },
  { FX .. "keras3_bidir_gru.config.json", FX .. "keras3_bidir_gru.weights.h5" }, { REAL .. "lstm_dropout.keras" },
}
-- configurations for structured mutations: {config text, how to package}
local CONFIGS = {
  { FX .. "tfkeras212_json.json", "json", FX .. "tfkeras212_json.weights.h5" },
  { FX .. "keras3_bidir_gru.config.json", "keras", FX .. "keras3_bidir_gru.weights.h5" },
  -- functional graphs (issue 15): Keras 3 nodes, a shared layer, initial states
  { FX .. "keras3_shared.config.json", "keras", FX .. "keras3_shared.weights.h5" },
  { FX .. "keras3_seq2seq.config.json", "keras", FX .. "keras3_seq2seq.weights.h5" },
  { FX .. "tfkeras214_seq2seq_kwargs.json", "json", FX .. "tfkeras214_seq2seq.h5" },
  { FX .. "keras3_nested.config.json", "keras", FX .. "keras3_nested.weights.h5" },
}

local function flip_bits(s, n, rnd)
  local b = { s:byte(1, -1) }
  for _ = 1, n do
    -- half the flips in the first 4 KiB, where the HDF5 superblock, the
    -- root group and the zip's first header are
    local pos = rnd(2) == 1 and rnd(math.min(#b, 4096)) or rnd(#b)
    b[pos] = b[pos] ~ (1 << (rnd(8) - 1))
  end
  local parts = {}
  for i = 1, #b, 4096 do
    parts[#parts + 1] = string.char(table.unpack(b, i, math.min(#b, i + 4095)))
  end
  return table.concat(parts)
end

local WORDS = { "\255\255\255\255", "\0\0\0\0", "\255\255\255\127", "\0\0\0\128", "\1\0\0\0",
  "\255\255\255\255\255\255\255\255" }

local function overwrite(s, n, rnd)
  for _ = 1, n do
    local w = WORDS[rnd(#WORDS)]
    local pos = rnd(2) == 1 and rnd(math.min(#s, 4096)) or rnd(#s)
    s = s:sub(1, pos - 1) .. w .. s:sub(pos + #w)
  end
  return s
end

-- A table's keys in a fixed order (numbers first, then strings): Lua
-- seeds its string hashes afresh in each process, so pairs() would give
-- each run of a seed other cases.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    if type(a) ~= type(b) then return type(a) == "number" end
    return a < b
  end)
  return keys
end

-- every (table, key) of a decoded JSON value, in a fixed order
local function nodes(v, out)
  out = out or {}
  if type(v) == "table" then
    for _, k in ipairs(sorted_keys(v)) do
      out[#out + 1] = { v, k }
      nodes(v[k], out)
    end
  end
  return out
end

-- A decoded JSON value as text, objects' keys sorted (cjson writes them in
-- hash order, which differs between processes): a table of positive
-- integer keys is an array (null in its holes), any other an object.
local function encode(v, depth)
  depth = depth or 0
  if depth > 2000 then error("nested too deep") end
  if type(v) ~= "table" then return cjson.encode(v) end
  local keys = sorted_keys(v)
  if #keys == 0 then return "{}" end
  local array, last = true, 0
  for _, k in ipairs(keys) do
    if math.type(k) ~= "integer" or k < 1 then array = false end
    if array then last = math.max(last, k) end
  end
  local parts = {}
  if array then
    for i = 1, last do
      parts[i] = v[i] == nil and "null" or encode(v[i], depth + 1)
    end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for i, k in ipairs(keys) do
    parts[i] = cjson.encode(tostring(k)) .. ":" .. encode(v[k], depth + 1)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function deep(n)
  local v = 1
  for _ = 1, n do
    v = { v }
  end
  return v
end

local function replacement(rnd)
  local r = rnd(16)
  if r == 1 then return "x" end
  if r == 2 then return 0 end
  if r == 3 then return -1 end
  if r == 4 then return 1e300 end
  if r == 5 then return 65537 end
  if r == 6 then return cjson.null end
  if r == 7 then return true end
  if r == 8 then return {} end
  if r == 9 then return { a = 1 } end
  if r == 10 then return string.rep("A", 200000) end
  if r == 11 then return deep(200 + rnd(400)) end
  if r == 12 then return 2 ^ 53 end
  if r == 13 then return 0.5 end
  if r == 14 then
    local t = {}
    for i = 1, 5000 do
      t[i] = 7
    end
    return t
  end
  if r == 15 then return "hard_sigmoid" end
  return "\27[31m\0\n"
end

local function mutate_config(text, rnd)
  local ok, v = pcall(cjson.decode, text)
  if not ok then return text end
  for _ = 1, rnd(3) do
    local all = nodes(v)
    if #all == 0 then break end
    local t, k = table.unpack(all[rnd(#all)])
    if rnd(5) == 1 then
      t[k] = nil
    else
      t[k] = replacement(rnd)
    end
  end
  cjson.encode_invalid_numbers(true)
  local eok, out = pcall(encode, v)
  return eok and out or text
end

-- One case: returns the file(s) to import.
local function make_case(dir, case_seed)
  math.randomseed(case_seed)
  local rnd = math.random
  local kind = rnd(4)
  if kind == 4 then
    local c = CONFIGS[rnd(#CONFIGS)]
    local text = mutate_config(read(c[1]), rnd)
    if rnd(4) == 1 then text = text:sub(1, rnd(#text)) end
    if c[2] == "json" then
      write(dir .. "/case.json", text)
      return { dir .. "/case.json", c[3] }, "config of " .. c[1]
    end
    write(dir .. "/case.keras", zip({ { "metadata.json", '{"keras_version": "3.3.3"}' }, { "config.json", text },
      { "model.weights.h5", read(c[3]) } }))
    return { dir .. "/case.keras" }, "config of " .. c[1] .. " in a zip"
  end
  local src = SOURCES[rnd(#SOURCES)]
  local which = (#src == 2 and rnd(2) == 2) and 2 or 1
  local data = read(src[which])
  local how
  if kind == 1 then
    data = data:sub(1, rnd(#data) - 1)
    how = "truncated"
  elseif kind == 2 then
    data = flip_bits(data, rnd(16), rnd)
    how = "bit flips"
  else
    data = overwrite(data, rnd(6), rnd)
    how = "overwritten words"
  end
  local ext = src[which]:match("(%.[%w]+)$")
  local path = dir .. "/case" .. ext
  write(path, data)
  local files = { path }
  if #src == 2 then
    files = which == 1 and { path, src[2] } or { src[1], path }
  end
  return files, how .. " " .. src[which]
end

-- ---------------------------------------------------------------- the contract

local function run_case(case_seed)
  local dir = OUT .. "/work"
  os.execute("rm -rf " .. quote(dir) .. " && mkdir -p " .. quote(dir))
  local files, what = make_case(dir, case_seed)
  local out = dir .. "/out"
  -- sanitizer reports of the reader go to files: where they point decides
  local cmd = string.format("ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:exitcode=99:log_path=%s/san "
    .. "UBSAN_OPTIONS=exitcode=99:print_stacktrace=1:log_path=%s/san "
    .. "bash -c 'ulimit -t %d; exec timeout -s KILL %d \"$@\"' _ lua5.4 bin/rnnc import %s%s -o %s "
    .. ">%s/stdout 2>%s/stderr", quote(dir), quote(dir), CPU_SECONDS, 10 * CPU_SECONDS,
    quote(files[1]), files[2] and (" --weights " .. quote(files[2])) or "", quote(out), quote(dir), quote(dir))
  local _, _, code = os.execute(cmd)
  local err = read(dir .. "/stderr")
  local p = io.popen("cat " .. quote(dir) .. "/san.* 2>/dev/null")
  local report = p:read("a")
  p:close()
  local problem
  local contained = err:match("the reader was stopped by ([^:]+)")
  if report:match("ERROR:") or report:match("runtime error") then
    -- in the reader's own code (the first two frames, or a UBSan line), or
    -- inside the HDF5 or zip library called with valid arguments (contained:
    -- the child dies, rnnc refuses the file)
    local top = (report:match("\n%s*#0 [^\n]*") or "") .. (report:match("\n%s*#1 [^\n]*") or "")
    if top:match("keras_read%.c") or report:match("keras_read%.c:%d+:%d+: runtime error") then
      problem = "a sanitizer report in the reader's code: " .. (report:match("ERROR: [^\n]*") or
        report:match("runtime error[^\n]*") or "")
    else
      contained = "a crash inside " .. (report:match("#0 [^\n]-%((/[^)+]*)") or "a library")
    end
  end
  if problem then
    local _ = problem
  elseif code == 137 or code == 152 then
    problem = "timed out (" .. CPU_SECONDS .. " s of CPU)"
  elseif code ~= 0 and code ~= 1 then
    problem = "exit status " .. tostring(code)
  elseif err:match("stack traceback") or err:match("internal error") or err:match("attempt to ") then
    problem = "a Lua error"
  elseif code == 1 then
    local named = false
    for _, f in ipairs(files) do
      if err:find(f, 1, true) then named = true end
    end
    if not named then problem = "the message does not name the file" end
    if err:find("[%z\1-\8\11-\31\127]") then problem = "a control character in the message" end
    local f = io.open(out, "rb")
    if f then
      f:close()
      problem = "a failed import wrote " .. out
    end
  else
    local base = files[1]:match("([^/]*)$"):gsub("%.[^.]*$", ""):gsub("[^%w_]", "_")
    local ok = os.execute(string.format("lua5.4 bin/rnnc summary %s/%s.lua >/dev/null 2>&1", quote(out), base))
    local st = io.open(out .. "/" .. base .. ".safetensors", "rb")
    if st then st:close() end
    if not ok or not st then problem = "an import that succeeded wrote no loadable description and weights" end
  end
  if problem then
    os.execute("mkdir -p " .. quote(OUT .. "/findings"))
    for i, f in ipairs(files) do
      if f:find(dir, 1, true) then
        os.execute(string.format("cp %s %s/findings/%d-%d%s", quote(f), quote(OUT), case_seed, i,
          f:match("(%.[%w]+)$") or ""))
      end
    end
  end
  return problem, what, contained, err, code
end

os.execute("mkdir -p " .. quote(OUT))
local start = os.time()
local counts = { cases = 0, findings = 0, contained = 0, refused = 0, imported = 0 }
local contained_seeds = {}
local k = 0
while true do
  if ONE then
    if k >= 1 then break end
  elseif SECONDS > 0 then
    if os.time() - start >= SECONDS then break end
  elseif k >= CASES then
    break
  end
  local case_seed = ONE or (SEED * 1000003 + k)
  local problem, what, contained, err, code = run_case(case_seed)
  counts.cases = counts.cases + 1
  if problem then
    counts.findings = counts.findings + 1
    print(string.format("FINDING seed %d (%s): %s; rnnc said: %s", case_seed, what, problem,
      (err:gsub("%s+$", "")):sub(1, 300)))
  elseif contained then
    counts.contained = counts.contained + 1
    contained_seeds[#contained_seeds + 1] = string.format("%d (%s)", case_seed, contained)
  end
  if problem then
    counts.findings = counts.findings -- counted above
  elseif code == 0 then
    counts.imported = counts.imported + 1
  else
    counts.refused = counts.refused + 1
  end
  if ONE then print(err) end
  k = k + 1
end
print(string.format("fuzz-import: seed %d, %d cases in %d s: %d refused with a message, %d imported, %d readers "
  .. "stopped by a limit or a library crash (contained), %d findings", SEED, counts.cases, os.time() - start,
  counts.refused, counts.imported, counts.contained, counts.findings))
for _, s in ipairs(contained_seeds) do
  print("  contained: seed " .. s)
end
os.exit(counts.findings == 0 and 0 or 1)
