-- Benchmark script: every body decoded with cjson and handed back as a table,
-- which the core encodes again; all into one target stream.  Measures the
-- cost of a script that looks inside the payload.
local cjson = require "cjson"
local contract = require "contract" -- event types, remembered per name

-- Nothing kept from one record to the next (the type names are a cache):
-- any worker may convert any record.
config = { partition = "none" }

function convert(record)
  local events = {}
  for i, m in ipairs(record.messages or {}) do
    local body = cjson.decode(m.body)
    body.Contract = m.contract
    events[i] = {
      stream = "bench",
      type = contract.event_type(m.contract),
      data = body,
    }
  end
  return events
end
