"""replicator dry-run: the events a script makes of a store, settings from
the script's config table overridden by flags, --from/--count, and the
refusals (exit status and one message on stderr)."""
import json
import os
import unittest

import rptest

LUA_ENV = {"REPLICATOR_LUA_PATH": os.path.join(rptest.SRC_DIR, "lua")}

BASIC = """
config = { store = %(store)r, source_id = "cfg-source", batch_events = 10 }
function convert(r)
  if r.messages == nil then return nil end
  local out = {}
  for i, m in ipairs(r.messages) do
    out[i] = { stream = "s-" .. r.key, type = m.contract,
               data = { body = m.body, sv = r.store_version,
                        v = r.stream_version },
               metadata = { n = i } }
  end
  return out
end
"""


class DryRun(unittest.TestCase):
    def setUp(self):
        rptest.require(self, "dry-run", "import")
        self.dir = rptest.tempdir(self)
        self.store = os.path.join(self.dir, "tapes")
        recs = []
        for i in range(1, 11):
            key = "k:%d" % (i % 3)
            msgs = [("C%d" % i, '{"n":%d}' % i)]
            if i == 4:
                msgs.append(("D", "second"))
            recs.append(rptest.record(key, rptest.message_set(msgs)))
        recs.append(rptest.record("raw", b"\xff\x00"))
        rptest.import_records(self.store, recs)

    def script(self, text, name="s.lua"):
        return rptest.write_file(os.path.join(self.dir, name),
                                 text % {"store": self.store})

    def run_dry(self, *args):
        return rptest.run(["dry-run"] + list(args), env=LUA_ENV)

    def lines(self, p):
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(l) for l in p.stdout.splitlines()]

    def test_events_as_sent(self):
        s = self.script(BASIC)
        out = self.lines(self.run_dry("--script", s))
        self.assertEqual(len(out), 11)   # 10 records, one with two messages
        first = out[0]
        self.assertEqual(set(first), {"storeVersion", "index", "stream",
                                      "eventId", "eventType", "data",
                                      "metadata"})
        self.assertEqual(first["storeVersion"], 1)
        self.assertEqual(first["stream"], "s-k:1")
        self.assertEqual(first["eventType"], "C1")
        self.assertEqual(first["data"], {"body": '{"n":1}', "sv": 1, "v": 1})
        self.assertEqual(first["metadata"]["n"], 1)
        self.assertEqual(first["metadata"]["replicatedFrom"],
                         {"source": "cfg-source", "storeVersion": 1,
                          "streamVersion": 1, "key": "k:1", "index": 0})
        two = [e for e in out if e["storeVersion"] == 4]
        self.assertEqual([e["index"] for e in two], [0, 1])
        self.assertEqual(two[1]["data"]["body"], "second")
        # Stream versions count per key: k:1 holds records 1, 4, 7, 10.
        self.assertEqual([e["data"]["v"] for e in out
                          if e["stream"] == "s-k:1" and e["index"] == 0],
                         [1, 2, 3, 4])
        # Ids are stable across runs and distinct.
        again = self.lines(self.run_dry("--script", s))
        self.assertEqual([e["eventId"] for e in out],
                         [e["eventId"] for e in again])
        self.assertEqual(len({e["eventId"] for e in out}), len(out))

    def test_flags_override_config(self):
        s = self.script(BASIC)
        other = os.path.join(self.dir, "other")
        rptest.import_records(other, [rptest.record(
            "x:1", rptest.message_set([("Only", "{}")]))])
        out = self.lines(self.run_dry("--script", s, "--store", other,
                                      "--source-id", "flag-source"))
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0]["eventType"], "Only")
        self.assertEqual(out[0]["metadata"]["replicatedFrom"]["source"],
                         "flag-source")
        out = self.lines(self.run_dry("--script", s, "--no-source-metadata",
                                      "--count", "1"))
        self.assertEqual(out[0]["metadata"], {"n": 1})
        # Another source id gives other ids.
        base = self.lines(self.run_dry("--script", s, "--count", "1"))
        self.assertNotEqual(base[0]["eventId"], self.lines(self.run_dry(
            "--script", s, "--count", "1", "--source-id=x"))[0]["eventId"])

    def test_source_id_defaults_to_store_name(self):
        s = self.script("function convert(r) return {{ stream = 's', "
                        "type = 't', data = r.key }} end\n")
        out = self.lines(self.run_dry("--script", s, "--store",
                                      self.store + "/", "--count", "1"))
        self.assertEqual(out[0]["metadata"]["replicatedFrom"]["source"],
                         "tapes")
        self.assertEqual(out[0]["data"], "k:1")

    def test_from_and_count(self):
        s = self.script(BASIC)
        out = self.lines(self.run_dry("--script", s, "--from", "3",
                                      "--count", "2"))
        # Records 4 (two events) and 5.
        self.assertEqual([(e["storeVersion"], e["index"]) for e in out],
                         [(4, 0), (4, 1), (5, 0)])
        out = self.lines(self.run_dry("--script", s, "--from", "11"))
        self.assertEqual(out, [])
        # --count counts records, including those that give no event.
        out = self.lines(self.run_dry("--script", s, "--from", "9",
                                      "--count", "2"))
        self.assertEqual([e["storeVersion"] for e in out], [10])

    def test_script_error_stops_at_the_record(self):
        s = self.script("function convert(r)\n"
                        "  if r.store_version == 3 then\n"
                        "    error('cannot map ' .. r.key)\n"
                        "  end\n"
                        "  return {{ stream = 's', type = 't', data = {} }}\n"
                        "end\n")
        p = self.run_dry("--script", s, "--store", self.store)
        self.assertEqual(p.returncode, 1)
        out = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([e["storeVersion"] for e in out], [1, 2])
        err = p.stderr.strip()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("store version 3, key 'k:0'", err)
        self.assertIn("s.lua:3: cannot map k:0", err)

    def test_wrong_shape(self):
        s = self.script("function convert(r)\n"
                        "  return {{ stream = 's', type = 't', data = {} },\n"
                        "          { stream = 's', data = {} }}\n"
                        "end\n")
        p = self.run_dry("--script", s, "--store", self.store)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn("store version 1, key 'k:1'", p.stderr)
        self.assertIn("event 1: type is missing", p.stderr)

    def test_runaway_scripts(self):
        s = self.script("function convert(r) while true do end end\n")
        p = self.run_dry("--script", s, "--store", self.store,
                         "--time-limit-ms", "200")
        self.assertEqual(p.returncode, 1)
        self.assertIn("time limit of 200 ms", p.stderr)
        self.assertIn("store version 1", p.stderr)
        s = self.script("config = { memory_limit_mb = 32 }\n"
                        "function convert(r)\n"
                        "  local t = {}\n"
                        "  while true do t[#t + 1] = {} end\n"
                        "end\n")
        # The time limit must not come first on a busy machine.
        p = self.run_dry("--script", s, "--store", self.store,
                         "--time-limit-ms", "60000")
        self.assertEqual(p.returncode, 1)
        self.assertIn("memory limit of 32 MiB", p.stderr)

    def test_load_errors(self):
        s = self.script("function convert(r)\n  return {\nend\n")
        p = self.run_dry("--script", s, "--store", self.store)
        self.assertEqual(p.returncode, 1)
        self.assertIn("s.lua:3:", p.stderr)
        s = self.script("function transform(r) end\n")
        p = self.run_dry("--script", s, "--store", self.store)
        self.assertEqual(p.returncode, 1)
        self.assertIn("s.lua", p.stderr)
        self.assertIn("'convert'", p.stderr)
        s = self.script("config = { batch_events = 'lots' }\n"
                        "function convert(r) end\n")
        p = self.run_dry("--script", s, "--store", self.store)
        self.assertEqual(p.returncode, 2)
        self.assertIn("batch_events", p.stderr)

    def test_usage_errors(self):
        p = self.run_dry()
        self.assertEqual(p.returncode, 2)
        self.assertIn("--script", p.stderr)
        s = self.script("function convert(r) end\n")
        p = self.run_dry("--script", s)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no store", p.stderr)
        p = self.run_dry("--script", s, "--store", self.store, "--bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--bogus", p.stderr)
        p = self.run_dry("--script", s, "--store", self.store, "--from", "x")
        self.assertEqual(p.returncode, 2)
        p = self.run_dry("--script", os.path.join(self.dir, "none.lua"),
                         "--store", self.store)
        self.assertEqual(p.returncode, 1)
        self.assertIn("none.lua", p.stderr)
        p = self.run_dry("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("--time-limit-ms", p.stdout)


if __name__ == "__main__":
    unittest.main()
