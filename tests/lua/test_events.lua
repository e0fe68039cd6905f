-- Tests of lua/events.lua on records built here.
local check = require "check"
local events = require "events"
local jsv = require "jsvformat"

local function commit(key, ...)
  local msgs = {}
  for i, m in ipairs({ ... }) do
    msgs[i] = { contract = m[1], body = jsv.format(m[2], "\r\n") }
  end
  return { key = key, store_version = 5, stream_version = 2, data = "",
           attributes = {}, messages = msgs }
end

check.test("aggregate commit", function()
  local r = commit("customer:7", { "Lokad.SaaS/CustomerCreated", '{"Id":{"Id":7}}' },
                   { "Lokad.SaaS/CustomerRenamed", '{"Name":"A, B"}' })
  local ev = events.from_record(r, { repair = true })
  check.eq(#ev, 2)
  check.eq(ev[1].stream, "customer-7")
  check.eq(ev[1].type, "CustomerCreated")
  check.eq(ev[1].data[1], '{"Id":{"Id":7}}', "rawjson text")
  check.eq(ev[2].data[1], '{"Name":"A, B"}', "repaired")
  check.eq(ev[1].metadata, { contract = "Lokad.SaaS/CustomerCreated",
                             key = "customer:7" })
end)

check.test("options", function()
  local r = commit("user:3", { "Lokad.SaaS/UserLocked", '{"Id":3}' },
                   { "Lokad.SaaS/UserUnlocked", '{"Id":3}' })
  local ev = events.from_record(r, {
    stream = function(rec, m, i) if i == 2 then return nil end return "s-" .. rec.key end,
    renames = { ["Lokad.SaaS/UserLocked"] = "user-locked" },
    data = function(rec, m, i) return { n = i } end,
    metadata = function(rec, m, i) return { extra = true } end,
  })
  check.eq(#ev, 1)
  check.eq(ev[1].stream, "s-user:3")
  check.eq(ev[1].type, "user-locked")
  check.eq(ev[1].data, { n = 1 })
  check.eq(ev[1].metadata.extra, true)
  ev = events.from_record(r, { stream = "one", raw = true })
  check.eq(ev[2].stream, "one")
  check.eq(ev[2].data, r.messages[2].body)
end)

check.test("audit, func and foreign records", function()
  local a = commit("audit", { "Lokad.SaaS/CreateCustomer", '{"Id":1}' })
  a.attributes = { id = "e1", utc = "2013-03-15T12:00:00.0000000Z" }
  check.eq(events.from_record(a), nil)
  local ev = events.from_record(a, { audit = true, stream = "commands" })
  check.eq(ev[1].metadata.envelopeId, "e1")
  check.eq(ev[1].metadata.createdUtc, "2013-03-15T12:00:00.0000000Z")
  local f = commit("func", { "Lokad.SaaS/InstanceStarted", '{"Role":"Engine"}' })
  check.eq(events.from_record(f)[1].stream, "func")
  local raw = { key = "blob", store_version = 1, stream_version = 1,
                data = "\0\1" }
  check.eq(events.from_record(raw), nil)
  ev = events.from_record(raw, { other = function(rec)
    return { { stream = "raw", type = "Raw", data = { n = #rec.data } } }
  end })
  check.eq(ev[1].data.n, 2)
end)

function convert() end
