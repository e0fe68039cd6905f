-- Tests of lua/contract.lua, lua/keys.lua and lua/attributes.lua.
local check = require "check"
local contract = require "contract"
local keys = require "keys"
local attributes = require "attributes"

check.test("contract names", function()
  check.eq(contract.type_name("Lokad.SaaS/CustomerCreated"), "CustomerCreated")
  check.eq(contract.type_name("Lokad.SaaS/CustomerCreated"), "CustomerCreated",
           "cached")
  check.eq(contract.type_name("Lokad.SaaS/Billing/Charged"), "Charged")
  check.eq(contract.type_name("CustomerCreated"), "CustomerCreated")
  check.eq(contract.namespace("Lokad.SaaS/CustomerCreated"), "Lokad.SaaS")
  check.eq(contract.namespace("CustomerCreated"), nil)
  check.eq(contract.nested_name("Lokad.SaaS/Billing/Charged"), "Billing.Charged")
  check.eq(contract.nested_name("Lokad.SaaS/Billing/Charged", "+"),
           "Billing+Charged")
  check.eq(contract.nested_name("Plain"), "Plain")
  check.eq(contract.event_type("Lokad.SaaS/Old", { ["Lokad.SaaS/Old"] = "New" }),
           "New")
  check.eq(contract.event_type("Lokad.SaaS/Kept", {}), "Kept")
  check.raises("empty string", contract.type_name, "")
  check.raises("ends with '/'", contract.type_name, "Lokad.SaaS/")
  check.raises("got nil", contract.type_name, nil)
end)

check.test("keys", function()
  local tag, id = keys.split("customer:42")
  check.eq({ tag, id }, { "customer", "42" })
  tag, id = keys.split("reg:a:b")
  check.eq({ tag, id }, { "reg", "a:b" })
  check.eq(keys.split("func"), nil)
  check.eq(keys.split(":1"), nil)
  check.eq(keys.split("customer:"), nil)
  check.eq(keys.kind("func"), "func")
  check.eq(keys.kind("audit"), "audit")
  check.eq(keys.kind("user:15"), "aggregate")
  check.eq(keys.kind("Audit"), "other")
  check.eq(keys.stream("customer:42"), "customer-42")
  check.eq(keys.stream("func"), "func")
  check.eq(keys.stream("user:15", { prefix = "legacy-", separator = "_" }),
           "legacy-user_15")
end)

check.test("attributes", function()
  local a = { id = "a1b2", utc = "2013-03-15T12:00:00.0000000Z", origin = "web" }
  check.eq(attributes.metadata(a), { envelopeId = "a1b2",
    createdUtc = "2013-03-15T12:00:00.0000000Z", origin = "web" })
  check.eq(attributes.metadata(a, { names = { id = "$causationId", origin = false } }),
           { ["$causationId"] = "a1b2", createdUtc = "2013-03-15T12:00:00.0000000Z" })
  check.eq(attributes.metadata({}), nil)
  check.eq(attributes.metadata(nil), nil)
  check.eq(attributes.metadata({}, nil, { key = "k" }), { key = "k" })
  check.eq(attributes.metadata({ id = "x" }, nil, { key = "k" }),
           { key = "k", envelopeId = "x" })
end)

function convert() end
