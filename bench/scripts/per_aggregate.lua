-- Benchmark script: one target stream per source key ("customer:7" becomes
-- "customer-7"), bodies sent as is.  Measures many streams in flight.
function convert(record)
  local stream = record.key:gsub(":", "-")
  local events = {}
  for i, m in ipairs(record.messages or {}) do
    events[i] = {
      stream = stream,
      type = m.contract:match("[^/]+$"),
      data = m.body,
    }
  end
  return events
end
