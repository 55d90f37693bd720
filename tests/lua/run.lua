-- The Lua unit tests of the generator. Run from the repository root:
--   lua5.4 tests/lua/run.lua [-v] [FILTER]
-- Loads every tests/lua/test_*.lua (each returns a table name -> function),
-- runs each test under pcall, prints one line per failure and ends with
-- "N passed, M failed"; the exit status is non-zero on any failure. FILTER
-- (a plain substring of "file:test") selects tests; -v lists every test.
local here = arg and arg[0] and (arg[0]:match("^(.*)/[^/]*$") or ".") or "tests/lua"
local root = here:match("^(.*)/tests/lua$") or (here == "tests/lua" and ".") or here .. "/../.."
package.path = table.concat({ root .. "/generator/?.lua", here .. "/?.lua", package.path }, ";")

local T = require("testlib")
T.root = root

local verbose, filter = false, nil
for _, a in ipairs(arg or {}) do
  if a == "-v" then
    verbose = true
  else
    filter = a
  end
end

local function test_files()
  local files = {}
  local p = assert(io.popen("ls '" .. here:gsub("'", "'\\''") .. "' 2>/dev/null"))
  for name in p:lines() do
    if name:match("^test_[%w_]+%.lua$") then files[#files + 1] = name end
  end
  p:close()
  table.sort(files)
  return files
end

-- An assertion's message already starts with the test's file:line; any
-- other error gets the Lua frames it went through (innermost first).
local function traceback(err)
  local msg = tostring(err)
  if type(err) == "string" and msg:match("^[^\n:]*test_[%w_]+%.lua:%d+: ") then return msg end
  local frames = {}
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info or #frames >= 6 then break end
    if info.currentline > 0 and not info.short_src:match("run%.lua$") then
      frames[#frames + 1] = info.short_src .. ":" .. info.currentline
    end
  end
  if verbose then return debug.traceback(msg, 2) end
  return msg .. " [" .. table.concat(frames, " < ") .. "]"
end

-- One line per report, whatever the message holds.
local function one_line(s)
  return (tostring(s):gsub("\n", " | "))
end

local passed, failed, xfailed = 0, 0, 0
local files = test_files()
if #files == 0 then
  print("no test files found in " .. here)
  print("0 passed, 1 failed")
  os.exit(1)
end
for _, file in ipairs(files) do
  local ok, tests = pcall(dofile, here .. "/" .. file)
  if not ok or type(tests) ~= "table" then
    failed = failed + 1
    print(one_line(string.format("FAIL %s: cannot load: %s", file, tostring(tests))))
  else
    local names = {}
    for name in pairs(tests) do
      names[#names + 1] = name
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local id = file:gsub("%.lua$", "") .. ":" .. name
      if not filter or id:find(filter, 1, true) then
        local t = tests[name]
        local fn, xfail = t, nil
        if type(t) == "table" then fn, xfail = t.fn, t.xfail end
        local started = os.clock()
        local tok, err = xpcall(fn, traceback)
        debug.sethook() -- a test must not leave a hook behind
        T.cleanup()
        local secs = os.clock() - started
        if xfail then
          if tok then
            failed = failed + 1
            print(string.format("FAIL %s: expected to fail (%s) but passed: remove the xfail mark", id, xfail))
          else
            xfailed = xfailed + 1
            print(one_line(string.format("XFAIL %s: known bug: %s -- %s", id, xfail, tostring(err))))
          end
        elseif tok then
          passed = passed + 1
          if verbose then print(string.format("ok   %s (%.2fs)", id, secs)) end
        else
          failed = failed + 1
          print(verbose and string.format("FAIL %s: %s", id, tostring(err)) or one_line("FAIL " .. id .. ": " .. err))
        end
      end
    end
  end
end
if xfailed > 0 then print(string.format("(%d expected failure(s): known bugs, listed above)", xfailed)) end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
