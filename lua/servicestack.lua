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
local jsv = require "jsv"     -- built into replicator (src/jsv.c)

local floor = math.floor

local servicestack = {}

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
  if opts and opts.repair then return jsv.unformat(body) end
  local text, why = jsv.compact(body)
  if not text then
    if why:find("raw newline", 1, true) then
      why = why .. "; use { repair = true }"
    end
    error("servicestack.compact: " .. why, 2)
  end
  return text
end

-- True when a string in the body holds a raw newline or tab: the body was
-- formatted by the quote-blind 3.9.35 formatter and needs { repair = true }.
function servicestack.is_damaged(body)
  check_body(body, "is_damaged")
  local text, why = jsv.compact(body)
  return text == nil and why:find("raw newline", 1, true) ~= nil
end

-- The body decoded into Lua values with cjson (JSON null is cjson.null).
-- Numbers become Lua numbers (cjson keeps 14 significant digits) and an
-- empty array becomes an empty table (encoded back as {}): use
-- servicestack.json to send a body unchanged.
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
