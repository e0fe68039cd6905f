-- single-stream.lua: the whole Lokad store, in order, into one EventStoreDB
-- stream.  The first step of a migration: the new side sees every message
-- the old system ever recorded (commands from "audit" included), with its
-- original contract and key in the metadata, before anything is reshaped.
--
--   replicator dry-run --script examples/single-stream.lua --store DIR
local events = require "events"

config = {
  store = "sample-store",      -- the store folder (--store overrides)
  source_id = "lokad-sample",  -- names the source in event ids and metadata
  partition = "none",          -- keeps nothing between records: --workers N
}

function convert(record)
  return events.from_record(record, {
    stream = "lokad-all",
    audit = true,      -- keep the recorded commands too
    repair = true,     -- bodies from ServiceStack.Text 3.9.35 (commas in strings)
  })
end
