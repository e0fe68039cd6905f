-- keys: Lokad.CQRS store keys (spec/lokad-store-format.md section 10).
--
-- The reference app keys aggregate streams "<tag>:<id>" ("customer:1",
-- "user:15", "security:3"), and uses two special keys: "func" (events with
-- no aggregate, "functional events") and "audit" (every command, with
-- id/utc attributes).  Keys are case-sensitive.
--
--   local keys = require "keys"
--   keys.split("customer:42")        --> "customer", "42"
--   keys.split("func")               --> nil
--   keys.kind("audit")               --> "audit"
--   keys.stream("customer:42")       --> "customer-42"
--   keys.stream("customer:42", { prefix = "legacy-" }) --> "legacy-customer-42"
local find, sub = string.find, string.sub

local keys = {}

-- The tag and the id of a "<tag>:<id>" key, split at the first ":"; nil
-- when the key has no ":" or either side is empty.
function keys.split(key)
  local i = find(key, ":", 1, true)
  if not i or i == 1 or i == #key then return nil end
  return sub(key, 1, i - 1), sub(key, i + 1)
end

-- What a key names: "func", "audit", "aggregate" (a "<tag>:<id>" key) or
-- "other".
function keys.kind(key)
  if key == "func" or key == "audit" then return key end
  if keys.split(key) then return "aggregate" end
  return "other"
end

-- An EventStoreDB stream name for a key: "<tag>-<id>" for an aggregate key
-- (the category convention: $by_category splits at the first "-"), the key
-- itself otherwise; 'opts.prefix' is put in front, 'opts.separator'
-- replaces "-".
function keys.stream(key, opts)
  local prefix = opts and opts.prefix or ""
  local tag, id = keys.split(key)
  if tag then
    return prefix .. tag .. (opts and opts.separator or "-") .. id
  end
  return prefix .. key
end

return keys
