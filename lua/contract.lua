-- contract: Lokad.CQRS contract names (spec/lokad-store-format.md 9.3).
--
-- A contract name is "<namespace>/<declaring types>/<type name>": the
-- namespace (DataContract.Namespace) and the declaring types of a nested
-- type are optional, each followed by "/".  Examples:
--   "Lokad.SaaS/CustomerCreated"      namespace Lokad.SaaS, type CustomerCreated
--   "Lokad.SaaS/Billing/Charged"      nested type Billing.Charged
--   "CustomerCreated"                 no namespace
--
--   local contract = require "contract"
--   contract.type_name("Lokad.SaaS/CustomerCreated")   --> "CustomerCreated"
--   contract.namespace("Lokad.SaaS/CustomerCreated")   --> "Lokad.SaaS"
--   contract.nested_name("Lokad.SaaS/Billing/Charged") --> "Billing.Charged"
--   contract.event_type(name, { ["Lokad.SaaS/Old"] = "New" })
--
-- Results are remembered per name (a store holds few distinct contracts),
-- so calling these for every message is cheap.
local find, sub = string.find, string.sub

local contract = {}

-- Offsets of every "/" in 'name', as a list.
local function slashes(name)
  local list, pos = {}, 1
  while true do
    local i = find(name, "/", pos, true)
    if not i then return list end
    list[#list + 1] = i
    pos = i + 1
  end
end

local type_cache, type_count = {}, 0

-- The type's own name: the text after the last "/" (the whole name when
-- there is none).  An empty or non-string name is an error.
function contract.type_name(name)
  local t = type_cache[name]
  if t then return t end
  if type(name) ~= "string" or name == "" then
    error("contract.type_name: expected a contract name, got " ..
          (type(name) == "string" and "an empty string" or type(name)), 2)
  end
  local s = slashes(name)
  t = #s == 0 and name or sub(name, s[#s] + 1)
  if t == "" then
    error("contract.type_name: '" .. name .. "' ends with '/'", 2)
  end
  if type_count < 10000 then
    type_cache[name] = t
    type_count = type_count + 1
  end
  return t
end

-- The namespace: the text before the first "/", or nil when the name has
-- none.  (A namespace that itself holds "/", such as a URI, cannot be told
-- apart from declaring types; type_name is right in every case.)
function contract.namespace(name)
  local i = find(name, "/", 1, true)
  return i and sub(name, 1, i - 1) or nil
end

-- The declaring types and the type, joined with 'sep' (default "."): the
-- name without its namespace.  "Lokad.SaaS/Outer/Inner" gives "Outer.Inner";
-- a name without "/" is returned as it is.
function contract.nested_name(name, sep)
  local i = find(name, "/", 1, true)
  if not i then return name end
  local rest = sub(name, i + 1)
  return (rest:gsub("/", sep or "."))
end

-- The event type for a contract: 'renames[name]' when the table has it
-- (the migration renames a type), else type_name(name).
function contract.event_type(name, renames)
  if renames then
    local r = renames[name]
    if r ~= nil then return r end
  end
  return contract.type_name(name)
end

return contract
