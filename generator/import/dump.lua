-- Runs the C reader (tools/keras_read.c) on an untrusted Keras file, in a
-- child process that limits itself (memory, CPU time, output size), and
-- parses the dump it writes: per input file, its format, its text members,
-- the string attributes of its groups and its numeric datasets.
local dump = {}

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
dump.quote = quote

-- Printable text of bytes from a file: control characters escaped, cut
-- after `max` bytes.
function dump.printable(s, max)
  s = tostring(s)
  max = max or 80
  local cut = #s > max
  if cut then s = s:sub(1, max) end
  s = s:gsub("[%c\127]", function(c)
    return string.format("\\x%02x", c:byte())
  end)
  return cut and (s .. "...") or s
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The reader program: $RNNC_KERAS_READ, else build/import/rnnc-keras-read
-- in a source tree (an installed rnnc: in its cache directory, util.cache_dir),
-- compiled on first use (it needs the HDF5 and libzip development packages).
function dump.reader(root)
  local given = os.getenv("RNNC_KERAS_READ")
  if given and given ~= "" then return given end
  local dir = file_exists(root .. "/Makefile") and root .. "/build/import" or require("util").cache_dir() .. "/import"
  local exe = dir .. "/rnnc-keras-read"
  local src = root .. "/tools/keras_read.c"
  if file_exists(exe) then
    local p = io.popen("test " .. quote(exe) .. " -nt " .. quote(src) .. " && echo fresh")
    local fresh = p:read("l") == "fresh"
    p:close()
    if fresh then return exe end
  end
  local cc = os.getenv("CC") or "cc"
  local log = os.tmpname()
  local cmd = string.format("mkdir -p %s && flags=$(pkg-config --cflags --libs hdf5 libzip 2>/dev/null) && "
    .. "%s -std=c99 -O2 -Wall -Wextra %s -o %s.tmp $flags -lm >%s 2>&1 && mv %s.tmp %s",
    quote(dir), cc, quote(src), quote(exe), quote(log), quote(exe), quote(exe))
  local ok = os.execute(cmd)
  os.remove(log)
  if not ok then
    error("rnnc import needs the HDF5 and libzip libraries to build its reader (" .. src .. "): "
      .. "sudo apt-get install -y libhdf5-dev libzip-dev pkg-config (or run make importer)", 0)
  end
  return exe
end

-- Parses the dump text. Returns { [1] = file, [2] = weights file } where a
-- file is { format, texts = {name = text}, attrs = {path = {name = list}},
-- data = {path = record}, paths = {dataset paths in order} }.
function dump.parse(s, names)
  local pos = 1
  local function fail(what)
    error("the reader's dump is malformed (" .. what .. ")", 0)
  end
  local function line()
    local e = s:find("\n", pos, true)
    if not e then fail("no line at byte " .. pos) end
    local l = s:sub(pos, e - 1)
    pos = e + 1
    return l
  end
  local function bytes(n)
    if pos + n - 1 > #s then fail("short data") end
    local b = s:sub(pos, pos + n - 1)
    pos = pos + n
    return b
  end
  if line() ~= "rnnc-keras-dump 1" then fail("no header") end
  local files = {}
  local function file(i)
    i = math.tointeger(tonumber(i))
    if i ~= 1 and i ~= 2 then fail("file index") end
    files[i] = files[i] or { name = names[i], texts = {}, attrs = {}, data = {}, paths = {} }
    return files[i]
  end
  -- Windows writers put backslashes in group names (layers\gru\cell/vars/0)
  local function norm(p)
    return (p:gsub("\\", "/"))
  end
  while true do
    local l = line()
    local words = {}
    for w in l:gmatch("%S+") do
      words[#words + 1] = w
    end
    local kind = words[1]
    if kind == "end" then break end
    if kind == "format" then
      file(words[2]).format = words[3]
    elseif kind == "text" then
      local f = file(words[2])
      local name = bytes(tonumber(words[3]))
      f.texts[name] = bytes(tonumber(words[4]))
    elseif kind == "attr" then
      local f = file(words[2])
      local path = norm(bytes(tonumber(words[3])))
      local name = bytes(tonumber(words[4]))
      local list = {}
      for k = 1, tonumber(words[5]) do
        list[k] = bytes(tonumber(line()))
      end
      f.attrs[path] = f.attrs[path] or {}
      f.attrs[path][name] = list
    elseif kind == "data" then
      local f = file(words[2])
      local rank = math.tointeger(tonumber(words[4]))
      if not rank or rank < 0 or #words ~= 7 + rank then fail("data header") end
      local shape = {}
      for k = 1, rank do
        shape[k] = math.tointeger(tonumber(words[4 + k]))
      end
      local raw_path = bytes(tonumber(words[5 + rank]))
      local nbytes = tonumber(words[6 + rank])
      local rec = { dtype = words[3], shape = shape, offset = pos, nbytes = nbytes, path = raw_path,
        bad = math.tointeger(tonumber(words[7 + rank])), source = s }
      bytes(nbytes)
      local path = norm(raw_path)
      f.data[path] = rec
      f.paths[#f.paths + 1] = path
    else
      fail("unknown record " .. dump.printable(kind or "", 20))
    end
  end
  return files
end

-- Reads FILE (and WEIGHTS) through the reader. Raises an error naming the
-- file when the reader refuses it or is stopped by a limit.
function dump.read(root, tmpdir, path, weights)
  local reader = dump.reader(root)
  local out, err = tmpdir .. "/dump", tmpdir .. "/reader.err"
  local cmd = string.format("exec %s -o %s %s%s 2>%s", quote(reader), quote(out), quote(path),
    weights and (" --weights " .. quote(weights)) or "", quote(err))
  local ok, how, code = os.execute(cmd)
  local f = io.open(err, "rb")
  local msg = f and f:read("a") or ""
  if f then f:close() end
  msg = msg:gsub("%s+$", "")
  if not ok then
    if how == "signal" then
      local why = ({ [24] = "its CPU-time limit", [25] = "its output-size limit", [9] = "a kill",
        [11] = "a crash (segmentation fault) in the HDF5 or zip library", [6] = "an abort in a library" })[code]
        or ("signal " .. code)
      error(string.format("%s: the reader was stopped by %s while reading it: the file is damaged or hostile",
        path, why), 0)
    end
    -- the reader's last line names the file and the object; a status other
    -- than 1 (the reader's own refusal) is said
    local last = msg:match("([^\n]*)$")
    if code ~= 1 or last == "" then
      error(string.format("%s: the reader failed (exit status %d)%s", path, code or -1,
        last ~= "" and (": " .. dump.printable(last, 300)) or ""), 0)
    end
    error(last, 0)
  end
  local fh = io.open(out, "rb")
  local text = fh:read("a")
  fh:close()
  return dump.parse(text, { path, weights })
end

-- The values of a dataset as Lua numbers (for scalars and small arrays).
function dump.values(rec)
  local fmt = ({ f32 = "<f", f64 = "<d", i64 = "<i8" })[rec.dtype]
  local size = ({ f32 = 4, f64 = 8, i64 = 8 })[rec.dtype]
  local out = {}
  for k = 0, rec.nbytes // size - 1 do
    out[k + 1] = string.unpack(fmt, rec.source, rec.offset + k * size)
  end
  return out
end

-- The raw little-endian bytes of a dataset.
function dump.bytes(rec)
  return rec.source:sub(rec.offset, rec.offset + rec.nbytes - 1)
end

return dump
