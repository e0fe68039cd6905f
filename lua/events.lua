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

local REPAIR, PLAIN = { repair = true }, { repair = false }

function events.from_record(record, opts)
  opts = opts or {}
  local msgs = record.messages
  if msgs == nil then
    return opts.other and opts.other(record) or nil
  end
  if record.key == "audit" and not opts.audit then return nil end
  local out = {}
  local stream_opt = opts.stream
  local fixed = type(stream_opt) == "string" and stream_opt or nil
  local default_stream = (stream_opt == nil) and keys.stream(record.key) or nil
  local json_opts = opts.repair and REPAIR or PLAIN
  local attr_opts = opts.attribute_names and { names = opts.attribute_names }
  for i, m in ipairs(msgs) do
    local stream = fixed or default_stream or stream_opt(record, m, i)
    if stream ~= nil then
      local data
      if opts.data then
        data = opts.data(record, m, i)
      elseif opts.raw then
        data = m.body
      else
        data = servicestack.json(m.body, json_opts)
      end
      local meta = attributes.metadata(record.attributes, attr_opts,
                                       { contract = m.contract, key = record.key })
      if opts.metadata then
        local extra = opts.metadata(record, m, i)
        if extra then
          for k, v in pairs(extra) do meta[k] = v end
        end
      end
      out[#out + 1] = {
        stream = stream,
        type = contract.event_type(m.contract, opts.renames),
        data = data,
        metadata = meta,
      }
    end
  end
  return out
end

return events
