-- check: the assertions of the lua/ library tests.  Each test file is a
-- replicator script whose main chunk runs its checks (a failure stops the
-- script's loading with the file and line) and defines a convert() that
-- returns nothing; tests/e2e/test_lua_library.py runs every test_*.lua with
-- `replicator dry-run` on an empty store.
local check = {}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- Fail (at the caller's line) unless 'got' deeply equals 'want'.
function check.eq(got, want, what)
  if not same(got, want) then
    error((what or "value") .. ": got " .. show(got) .. ", want " ..
          show(want), 2)
  end
end

-- Fail unless f(...) raises an error whose message contains 'piece'.
function check.raises(piece, f, ...)
  local ok, e = pcall(f, ...)
  if ok then error("no error raised (wanted '" .. piece .. "')", 2) end
  if not tostring(e):find(piece, 1, true) then
    error("error '" .. tostring(e) .. "' lacks '" .. piece .. "'", 2)
  end
end

check.count = 0

-- Run the named test function, counting it.
function check.test(name, f)
  local ok, e = pcall(f)
  if not ok then error("test " .. name .. " failed: " .. tostring(e), 2) end
  check.count = check.count + 1
end

return check
