-- Benchmark script: every message of every record, body sent as is, into
-- one target stream.  Measures the core (read, bridge, batch, HTTP) with the
-- least script work.
function convert(record)
  local events = {}
  for i, m in ipairs(record.messages or {}) do
    events[i] = {
      stream = "bench",
      type = m.contract:match("[^/]+$"),
      data = m.body,
    }
  end
  return events
end
