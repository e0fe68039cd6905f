-- events: the usual events of a Lokad.CQRS record, so that a migration
-- script only states what differs.
--
--   local events = require "events"
--   function convert(record)
--     return events.from_record(record, {
--       stream = "legacy",                 -- or a function (see below)
--       repair = true,                     -- ServiceStack.Text 3.9.35 bodies
--     })
--   end
--
-- For every message of the record, one event:
--   stream   = opts.stream: a string, or function(record, message, i)
--              returning the stream name, or nil to leave the message out;
--              default: keys.stream(record.key) ("customer:1" -> "customer-1")
--   type     = contract.event_type(message.contract, opts.renames)
--   data     = opts.data(record, message, i) when given, else the body as
--              compact JSON (servicestack.json, exact), or the body as a
--              plain string when opts.raw is true
--   metadata = { contract = <contract name>, key = <record key> } plus the
--              record's attributes (attributes.metadata, renamed by
--              opts.attribute_names when given), plus what
--              opts.metadata(record, message, i) returns (a table merged in)
-- Records that are not message sets give no event (opts.other(record) may
-- return events for them).  "audit" records (commands) give no event unless
-- opts.audit is true: the reference publisher does not republish them.
local contract = require "contract"
local keys = require "keys"
local servicestack = require "servicestack"
local attributes = require "attributes"

local events = {}

local event_type, body_json = contract.event_type, servicestack.json
local attr_metadata, key_stream = attributes.metadata, keys.stream
local REPAIR, PLAIN = { repair = true }, { repair = false }

function events.from_record(record, opts)
  opts = opts or {}
  local msgs = record.messages
  if msgs == nil then
    return opts.other and opts.other(record) or nil
  end
  local key = record.key
  if key == "audit" and not opts.audit then return nil end
  local out, n = {}, 0
  local stream_opt = opts.stream
  local fixed = type(stream_opt) == "string" and stream_opt or nil
  local default_stream = (stream_opt == nil) and key_stream(key) or nil
  local json_opts = opts.repair and REPAIR or PLAIN
  local attrs = record.attributes
  if attrs ~= nil and next(attrs) == nil then attrs = nil end
  local attr_opts = opts.attribute_names and { names = opts.attribute_names }
  local data_fn, raw, meta_fn, renames = opts.data, opts.raw, opts.metadata,
    opts.renames
  for i = 1, #msgs do
    local m = msgs[i]
    local stream = fixed or default_stream or stream_opt(record, m, i)
    if stream ~= nil then
      local data
      if data_fn then
        data = data_fn(record, m, i)
      elseif raw then
        data = m.body
      else
        data = body_json(m.body, json_opts)
      end
      local meta = { contract = m.contract, key = key }
      if attrs then attr_metadata(attrs, attr_opts, meta) end
      if meta_fn then
        local extra = meta_fn(record, m, i)
        if extra then
          for k, v in pairs(extra) do meta[k] = v end
        end
      end
      n = n + 1
      out[n] = {
        stream = stream,
        type = event_type(m.contract, renames),
        data = data,
        metadata = meta,
      }
    end
  end
  return out
end

return events
