-- per-aggregate.lua: one target stream per source key, "customer:1" becoming
-- "customer-1" (so EventStoreDB's $by_category projection groups them by
-- tag), functional events into "func".  Commands recorded in "audit" are left
-- out: they are requests, not facts, and the Lokad publisher never
-- republished them either.
--
--   replicator dry-run --script examples/per-aggregate.lua --store DIR
local events = require "events"

config = {
  store = "sample-store",
  source_id = "lokad-sample",
  partition = "none",     -- convert() keeps nothing between records
}

function convert(record)
  return events.from_record(record, { repair = true })
end
