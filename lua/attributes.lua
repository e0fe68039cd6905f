-- attributes: the attributes of recorded messages (spec 9.2) as metadata.
--
-- Commands in "audit" and functional events in "func" recorded by
-- MessageStore.RecordMessage carry attributes: "id" (the envelope id), "utc"
-- (its creation time, .NET round-trip format such as
-- "2013-03-15T12:00:00.0000000Z"), then the envelope's own attributes.
-- Aggregate commits carry none (record.attributes is then an empty table).
--
--   local attributes = require "attributes"
--   metadata = attributes.metadata(record.attributes)
--     --> { envelopeId = "a1b2", createdUtc = "2013-03-15T12:00:00.0000000Z" }
--   metadata = attributes.metadata(record.attributes, { names = { id = "$causationId" } })
local attributes = {}

-- How the well-known attributes are named in metadata by default.
attributes.default_names = { id = "envelopeId", utc = "createdUtc" }

-- A new table holding every attribute of 'attrs' (nil gives nil), the
-- well-known ones renamed by 'opts.names' (default default_names; a name
-- mapped to false is left out), the others under their own names.  'into'
-- (optional) is a table to add them to instead.  Returns nil when there is
-- no attribute and no 'into'.
function attributes.metadata(attrs, opts, into)
  if attrs == nil or next(attrs) == nil then return into end
  local names = opts and opts.names or attributes.default_names
  local out = into or {}
  for k, v in pairs(attrs) do
    local name = names[k]
    if name == nil then name = attributes.default_names[k] or k end
    if name then out[name] = v end
  end
  return out
end

return attributes
