-- servicestack: message bodies written by ServiceStack.Text's JsvFormatter
-- (the reference Lokad app; spec/lokad-store-format.md 9.4) back to compact
-- JSON.
--
-- The formatter pretty-prints compact JSON: newline + tabs after "{", "["
-- and ",", newline + tabs before "}" and "]", one space after the first ":"
-- of a pair, "{}"/"[]" after ":" kept together, the whole body between two
-- newlines.  Newlines are CRLF (Windows) or LF (Mono).
--
-- ServiceStack.Text 3.9.35, the version Lokad.CQRS shipped, does not know
-- about quotes: the same characters inside string values get the same
-- treatment, so "Acme, Inc." is stored as "Acme,<newline><tabs>Inc.".  The
-- damage is exactly reversible, because JSON strings cannot hold a raw
-- newline or tab: { repair = true } undoes every insertion the formatter
-- made, inside strings too (newline + tabs, and the space after a ":" that
-- followed a ",", "{", "[", "}" or "]").  Use it only for bodies from the
-- quote-blind formatter (3.9.35 and earlier): on bodies from a later,
-- quote-aware one it could drop a space that belongs to a string.  Without
-- it, whitespace is removed outside strings only, and a string holding a
-- raw newline or tab (the damage) is an error that says so.
--
--   local servicestack = require "servicestack"
--   servicestack.compact(body)                  --> '{"Id":1}'
--   servicestack.compact(body, { repair = true })
--   servicestack.decode(body, opts)             --> Lua table (cjson)
--   servicestack.json(body, opts)               --> rawjson(compact text):
--       data sent exactly as written (numbers keep every digit)
--   servicestack.is_damaged(body)               --> true when strings hold
--       the 3.9.35 newlines
--   servicestack.date("\/Date(1363415296171)\/") --> "2013-03-16T06:28:16.171Z"
local cjson = require "cjson"

local byte, char, find, sub = string.byte, string.char, string.find, string.sub
local concat, floor = table.concat, math.floor

local servicestack = {}

local CR, LF, TAB, SPACE = 13, 10, 9, 32
local QUOTE, BACKSLASH = 34, 92
local LBRACE, RBRACE, LBRACKET, RBRACKET = 123, 125, 91, 93
local COMMA, COLON = 44, 58

-- Undo the quote-blind formatter by replaying its state: 'first' is its
-- "first key separator" flag, true after any of { [ } ] , (except "{}" or
-- "[]" kept together after ":"), cleared by the ":" that got a space.
local function unformat(s)
  local out, n = {}, 0
  local pos, len, first = 1, #s, true
  while pos <= len do
    local i = find(s, "[%[%]{},:\r\n]", pos)
    if not i then
      n = n + 1; out[n] = sub(s, pos)
      break
    end
    if i > pos then n = n + 1; out[n] = sub(s, pos, i - 1) end
    local c = byte(s, i)
    if c == CR or c == LF then
      local j = i + 1
      if c == CR and byte(s, j) == LF then j = j + 1 end
      while byte(s, j) == TAB do j = j + 1 end
      pos = j
    elseif c == LBRACE or c == LBRACKET then
      local nx = byte(s, i + 1)
      if nx == RBRACE or nx == RBRACKET then
        n = n + 1; out[n] = sub(s, i, i + 1)
        pos = i + 2
      else
        n = n + 1; out[n] = char(c)
        first = true
        pos = i + 1
      end
    elseif c == COLON then
      n = n + 1; out[n] = ":"
      pos = i + 1
      if first then
        if byte(s, pos) == SPACE then pos = pos + 1 end
        first = false
      end
    else -- } ] ,
      n = n + 1; out[n] = char(c)
      first = true
      pos = i + 1
    end
  end
  return concat(out)
end

-- The end of the string whose opening quote is at 'i' (the offset of its
-- closing quote), and whether a raw newline or tab is inside.
local function string_end(s, i)
  local pos, raw = i + 1, false
  while true do
    local j = find(s, '["\\\r\n\t]', pos)
    if not j then return nil end
    local c = byte(s, j)
    if c == QUOTE then return j, raw end
    if c == BACKSLASH then
      pos = j + 2
    else
      raw = true
      pos = j + 1
    end
  end
end

-- Whitespace out, outside strings only.  Returns the text, or nil and a
-- message.
local function strip(s)
  local out, n = {}, 0
  local pos, len = 1, #s
  while pos <= len do
    local q = find(s, '"', pos, true)
    local outside = sub(s, pos, q and q - 1 or len)
    outside = outside:gsub("[ \t\r\n]+", "")
    n = n + 1; out[n] = outside
    if not q then break end
    local e, raw = string_end(s, q)
    if not e then return nil, "a string is not closed" end
    if raw then
      return nil, "a string holds a raw newline or tab: the body was " ..
        "written by ServiceStack.Text 3.9.35, which breaks strings at " ..
        "',', '{', '[', '}' and ']'; use { repair = true }"
    end
    n = n + 1; out[n] = sub(s, q, e)
    pos = e + 1
  end
  return concat(out)
end

local function check_body(body, fn)
  if type(body) ~= "string" then
    error("servicestack." .. fn .. ": the body is a " .. type(body) ..
          ", not a string", 3)
  end
end

-- Compact JSON text of a formatted body (see the top of this file for
-- 'opts.repair').  Raises an error on a body it cannot read.
function servicestack.compact(body, opts)
  check_body(body, "compact")
  if opts and opts.repair then return unformat(body) end
  local text, why = strip(body)
  if not text then error("servicestack.compact: " .. why, 2) end
  return text
end

-- True when a string in the body holds a raw newline or tab: the body was
-- formatted by the quote-blind 3.9.35 formatter and needs { repair = true }.
function servicestack.is_damaged(body)
  check_body(body, "is_damaged")
  local text = strip(body)
  return text == nil
end

-- The body decoded into Lua values with cjson (JSON null is cjson.null).
-- Numbers become Lua numbers: use servicestack.json to keep them exact.
function servicestack.decode(body, opts)
  check_body(body, "decode")
  local ok, v = pcall(cjson.decode, servicestack.compact(body, opts))
  if not ok then error("servicestack.decode: " .. tostring(v), 2) end
  return v
end

-- The body as event data sent exactly as compacted: rawjson(compact(body)).
-- The core checks that the text is JSON.
function servicestack.json(body, opts)
  check_body(body, "json")
  return rawjson(servicestack.compact(body, opts))
end

-- A WCF date as ServiceStack writes it, "\/Date(<ms since 1970>)\/" with an
-- optional "+hhmm"/"-hhmm" zone (the instant is the same), as an ISO 8601
-- UTC time with milliseconds; nil when 's' is not such a date.
function servicestack.date(s)
  if type(s) ~= "string" then return nil end
  local ms = s:match("^\\?/Date%((%-?%d+)[%+%-]?%d*%)\\?/$")
  ms = ms and math.tointeger(tonumber(ms))
  if not ms then return nil end
  local secs = floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) ..
    string.format(".%03dZ", ms - secs * 1000)
end

return servicestack
