-- Tests of lua/servicestack.lua: compaction, the 3.9.35 repair, decoding,
-- WCF dates.
local check = require "check"
local jsv = require "jsvformat"
local servicestack = require "servicestack"
local cjson = require "cjson"

-- The worked example of spec 9.5, byte for byte.
check.test("spec example", function()
  local body = "\r\n{\r\n\t\"Id\": 1\r\n}\r\n"
  check.eq(jsv.format('{"Id":1}', "\r\n"), body, "formatter")
  check.eq(servicestack.compact(body), '{"Id":1}')
  check.eq(servicestack.compact(body, { repair = true }), '{"Id":1}')
  check.eq(servicestack.decode(body), { Id = 1 })
  check.eq(servicestack.json(body)[1], '{"Id":1}', "rawjson text")
end)

check.test("nested values, LF and CRLF", function()
  local doc = '{"Id":{"Id":7},"Tags":["a","b"],"Empty":{},"None":[],' ..
    '"Payment":{"Amount":12.50,"Currency":"Eur"},"N":null,"T":true}'
  for _, nl in ipairs({ "\r\n", "\n" }) do
    local body = jsv.format(doc, nl)
    check.eq(servicestack.compact(body), doc, "plain " .. #nl)
    check.eq(servicestack.compact(body, { repair = true }), doc, "repair")
    check.eq(servicestack.is_damaged(body), false)
  end
  -- "{}" after ":" stays on the line; a space follows the first ":" only.
  check.eq(jsv.format('{"A":{},"B":1}', "\n"), '\n{\n\t"A": {},\n\t"B": 1\n}\n')
  local t = servicestack.decode(jsv.format(doc, "\r\n"))
  check.eq(t.Payment.Amount, 12.5)
  check.eq(t.N, cjson.null)
  check.eq(t.Tags, { "a", "b" })
end)

check.test("3.9.35 damage inside strings", function()
  local doc = '{"CustomerName":"Acme, Inc.","Note":"Reason: x, y: z",' ..
    '"Odd":"{a:[b]}, c","Path":"C:\\\\x\\"y, z"}'
  local body = jsv.format(doc, "\r\n")
  check.eq(body:find("Acme,\r\n\t Inc.", 1, true) ~= nil, true, "damaged")
  check.eq(servicestack.is_damaged(body), true)
  check.raises("repair = true", servicestack.compact, body)
  check.eq(servicestack.compact(body, { repair = true }), doc)
  check.eq(servicestack.decode(body, { repair = true }).CustomerName,
           "Acme, Inc.")
end)

-- Random documents whose strings hold every character the formatter
-- touches: formatting then repairing gives the document back.
check.test("repair undoes the formatter", function()
  local alphabet = { "a", "b", ",", ":", "{", "}", "[", "]", " ", "\\\"",
                     "\\\\", "x, y", ": ", "{}", "[]", "\\n" }
  local seed = 12345
  local function rnd(n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
  end
  local function str()
    local parts = {}
    for i = 1, rnd(6) - 1 do parts[i] = alphabet[rnd(#alphabet)] end
    return '"' .. table.concat(parts) .. '"'
  end
  local value
  local function obj(depth)
    local parts = {}
    for i = 1, rnd(4) - 1 do parts[i] = str() .. ":" .. value(depth + 1) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  local function arr(depth)
    local parts = {}
    for i = 1, rnd(4) - 1 do parts[i] = value(depth + 1) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  function value(depth)
    local k = depth > 3 and rnd(3) or rnd(5)
    if k == 1 then return str() end
    if k == 2 then return tostring(rnd(1000)) end
    if k == 3 then return "null" end
    if k == 4 then return obj(depth) end
    return arr(depth)
  end
  for i = 1, 500 do
    local doc = obj(0)
    local nl = i % 2 == 0 and "\r\n" or "\n"
    local back = servicestack.compact(jsv.format(doc, nl), { repair = true })
    if back ~= doc then
      error("round trip " .. i .. ": " .. doc .. " became " .. back)
    end
  end
end)

check.test("errors", function()
  check.raises("not a string", servicestack.compact, nil)
  check.raises("not closed", servicestack.compact, '{"a')
  check.raises("servicestack.decode", servicestack.decode, "{oops}")
end)

check.test("WCF dates", function()
  check.eq(servicestack.date("\\/Date(1363415296171)\\/"),
           "2013-03-16T06:28:16.171Z")
  check.eq(servicestack.date("/Date(1363415296171+0100)/"),
           "2013-03-16T06:28:16.171Z")
  check.eq(servicestack.date("/Date(-1)/"), "1969-12-31T23:59:59.999Z")
  check.eq(servicestack.date("2013-03-16"), nil)
  check.eq(servicestack.date(5), nil)
end)

function convert() end
