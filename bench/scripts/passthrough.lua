-- Benchmark script: every message of every record, body sent as is, into
-- one target stream.  Measures the core (read, bridge, batch, HTTP) with the
-- least script work.
local contract = require "contract" -- event types, remembered per name

-- Nothing kept from one record to the next (the type names are a cache):
-- any worker may convert any record.
config = { partition = "none" }

function convert(record)
  local events = {}
  for i, m in ipairs(record.messages or {}) do
    events[i] = {
      stream = "bench",
      type = contract.event_type(m.contract),
      data = m.body,
    }
  end
  return events
end
