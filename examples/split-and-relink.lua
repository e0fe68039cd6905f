-- split-and-relink.lua: reshaping while migrating.
--   * Security events that concern one user (a password, an identity, a
--     display name) move to that user's credentials stream
--     "credentials-<user id>", read from the body; the security aggregate
--     keeps the rest.
--   * Charges and payments stay in their customer's stream and are also
--     written to one "billing" stream: one record, events in two streams.
--   * Login reports lose the "Reported" suffix of their type.
--   * WCF dates ("\/Date(ms)\/") in bodies become ISO 8601 strings.
-- Bodies are decoded here (the script looks inside them), so data is a
-- table that the core encodes again.
local contract = require "contract"
local keys = require "keys"
local servicestack = require "servicestack"
local attributes = require "attributes"

config = {
  store = "sample-store",
  source_id = "lokad-sample",
  partition = "none",     -- convert() keeps nothing between records
}

local user_scoped = {
  SecurityPasswordAdded = true,
  SecurityIdentityAdded = true,
  SecurityItemDisplayNameUpdated = true,
}
local billing = { CustomerChargeAdded = true, CustomerPaymentAdded = true }
local renames = {
  ["Lokad.SaaS/UserLoginSuccessReported"] = "UserLoginSucceeded",
  ["Lokad.SaaS/UserLoginFailureReported"] = "UserLoginFailed",
}

-- Replace WCF dates in the top level of a decoded body.
local function iso_dates(body)
  for k, v in pairs(body) do
    local iso = servicestack.date(v)
    if iso then body[k] = iso end
  end
  return body
end

function convert(record)
  if record.messages == nil or record.key == "audit" then return nil end
  local out = {}
  for _, m in ipairs(record.messages) do
    local body = iso_dates(servicestack.decode(m.body, { repair = true }))
    local name = contract.type_name(m.contract)
    local meta = attributes.metadata(record.attributes, nil,
                                     { contract = m.contract, key = record.key })
    local stream = keys.stream(record.key)
    if user_scoped[name] then
      stream = "credentials-" .. math.tointeger(body.UserId.Id)
    end
    local ev = {
      stream = stream,
      type = contract.event_type(m.contract, renames),
      data = body,
      metadata = meta,
    }
    out[#out + 1] = ev
    if billing[name] then
      out[#out + 1] = { stream = "billing", type = ev.type, data = body,
                        metadata = meta }
    end
  end
  return out
end
