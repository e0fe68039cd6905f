-- Benchmark script: one target stream per source key ("customer:7" becomes
-- "customer-7"), bodies sent as is.  Measures many streams in flight.
local contract = require "contract" -- event types, remembered per name

-- Nothing kept from one record to the next (the type names are a cache):
-- any worker may convert any record.
config = { partition = "none" }

function convert(record)
  local stream = record.key:gsub(":", "-")
  local events = {}
  for i, m in ipairs(record.messages or {}) do
    events[i] = {
      stream = stream,
      type = contract.event_type(m.contract),
      data = m.body,
    }
  end
  return events
end
