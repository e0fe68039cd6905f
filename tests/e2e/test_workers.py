"""Several workers (--workers N, config.partition): dry-run prints the same
bytes for any N, an error names the same record with the same message,
the settings are checked, and `run` lands what one worker would send."""
import json
import os
import random

import rptest


def parse_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]

LUA_ENV = {"REPLICATOR_LUA_PATH": os.path.join(rptest.SRC_DIR, "lua")}

# Uneven work per record, zero to three events, strings only (so the text
# sent does not depend on a Lua state's table order), a failure on demand.
SCRIPT = r'''
config = { partition = %(partition)r }
local fail_at = tonumber(os.getenv("FAIL_AT") or "0")

function convert(record)
  if record.store_version == fail_at then
    error("cannot convert " .. record.key)
  end
  local x = 0
  for i = 1, (record.store_version * 7919) %% 30000 do x = x + i end
  local out = {}
  for i, m in ipairs(record.messages or {}) do
    if not m.contract:find("Skipped", 1, true) then
      out[#out + 1] = {
        stream = (record.key:gsub(":", "-")),
        type = m.contract:match("[^/]+$"),
        data = m.body,
        metadata = "v" .. record.stream_version,
      }
    end
  end
  return out
end
'''

# State per key: each record of a key must come to the state that saw the
# key's previous record (when it saw any).
PER_KEY = r'''
config = { partition = "key" }
function convert(record)
  local out = {}
  for i, m in ipairs(record.messages or {}) do
    out[i] = { stream = (record.key:gsub(":", "-")), type = "T",
               data = m.body }
  end
  return out
end
''' + rptest.KEY_ORDER_CHECK


class Workers(rptest.TestCase):
    def setUp(self):
        rptest.require(self, "dry-run", "import")
        rng = random.Random(14)
        self.dir, self.store, _ = rptest.setup_store(self, rng, 1500)

    def script(self, text, name):
        return rptest.write_file(os.path.join(self.dir, name), text)

    def dry(self, script, *args, env=None):
        e = dict(LUA_ENV)
        e.update(env or {})
        return rptest.run(["dry-run", "--script", script, "--store",
                           self.store] + list(args), env=e)

    def test_workers_dry_run_same_bytes_for_any_number(self):
        for partition in ("none", "key"):
            s = self.script(SCRIPT % {"partition": partition},
                            partition + ".lua")
            one = self.dry(s)
            self.assertEqual(one.returncode, 0, one.stderr)
            self.assertGreater(len(one.stdout.splitlines()), 2000)
            for n in ("2", "4", "7"):
                p = self.dry(s, "--workers", n)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(p.stdout == one.stdout,
                                "%s workers, partition %s" % (n, partition))
            # --from and --count cut the same records.
            one = self.dry(s, "--from", "100", "--count", "333")
            four = self.dry(s, "--from", "100", "--count", "333",
                            "--workers", "4")
            self.assertEqual(one.returncode, 0, one.stderr)
            self.assertEqual(four.stdout, one.stdout)
            lines = one.stdout.splitlines()
            self.assertIn('"storeVersion":101,', lines[0])
            self.assertIn('"storeVersion":433,', lines[-1])

    def test_workers_table_data_same_events(self):
        # Tables are encoded by each worker's own state: the events are the
        # same (compared decoded).
        examples = os.path.join(rptest.SRC_DIR, "examples")
        sample = os.path.join(self.dir, "sample")
        rptest.run(["import", "--store", sample,
                    os.path.join(examples, "sample-store.jsonl")])
        s = os.path.join(examples, "split-and-relink.lua")
        args = ["dry-run", "--script", s, "--store", sample]
        one = rptest.run(args, env=LUA_ENV)
        three = rptest.run(args + ["--workers", "3"], env=LUA_ENV)
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertEqual(three.returncode, 0, three.stderr)
        self.assertGreater(len(one.stdout.splitlines()), 20)
        self.assertEqual(parse_lines(three.stdout), parse_lines(one.stdout))

    def test_workers_error_names_the_record_as_one_worker(self):
        s = self.script(SCRIPT % {"partition": "none"}, "fails.lua")
        env = {"FAIL_AT": "777"}
        one = self.dry(s, env=env)
        self.assertEqual(one.returncode, 1)
        self.assertIn("store version 777, key ", one.stderr)
        self.assertIn("cannot convert", one.stderr)
        self.assertIn("fails.lua:7", one.stderr)
        self.assertIn('"storeVersion":776,', one.stdout.splitlines()[-1])
        for n in ("2", "4"):
            p = self.dry(s, "--workers", n, env=env)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stderr, one.stderr)
            self.assertEqual(p.stdout, one.stdout)

    def test_workers_key_partition_keeps_a_key_on_one_state(self):
        s = self.script(PER_KEY, "per-key.lua")
        one = self.dry(s)
        self.assertEqual(one.returncode, 0, one.stderr)
        for n in ("2", "4"):
            p = self.dry(s, "--workers", n)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, one.stdout)

    def test_workers_settings_checked(self):
        s = self.script((SCRIPT % {"partition": "none"}).replace(
            "config = { partition = 'none' }", ""), "silent.lua")
        p = self.dry(s, "--workers", "2")
        self.assertEqual(p.returncode, 2)
        self.assertIn("workers = 2", p.stderr)
        self.assertIn('partition = "none"', p.stderr)
        self.assertIn('partition = "key"', p.stderr)
        self.assertIn("silent.lua", p.stderr)
        self.assertEqual(p.stdout, "")
        # One worker needs no partition.
        self.assertEqual(self.dry(s, "--workers", "1").returncode, 0)
        p = self.dry(s, "--workers", "2", "--partition", "none")
        self.assertEqual(p.returncode, 2)
        self.assertIn("config.partition", p.stderr)
        for bad in ("0", "257", "two"):
            p = self.dry(s, "--workers", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("workers", p.stderr)
        s = self.script('config = { partition = "rows" }\n'
                        'function convert(r) return nil end\n', "bad.lua")
        p = self.dry(s)
        self.assertEqual(p.returncode, 2)
        self.assertIn('partition must be "none" or "key"', p.stderr)

    def test_workers_run_sends_what_one_worker_would(self):
        rptest.require(self, "esdb-emu", "run")
        for partition, n in (("none", "4"), ("key", "3")):
            s = self.script(SCRIPT % {"partition": partition},
                            "run-%s.lua" % partition)
            emu = rptest.Emulator(self)
            p = rptest.run(["run", "--script", s, "--store", self.store,
                            "--target", emu.url, "--workers", n,
                            "--checkpoint",
                            os.path.join(self.dir, partition + ".cp"),
                            "--until-caught-up", "--batch-events", "7"],
                           env=LUA_ENV, cwd=self.dir)
            self.assertEqual(p.returncode, 0, p.stderr)
            want = parse_lines(self.dry(s).stdout)
            self.assertSameEvents(want, emu.dump())


ONE_STREAM = r'''
config = { partition = "none" }
function convert(record)
  local out = {}
  for i, m in ipairs(record.messages or {}) do
    out[i] = { stream = "all", type = "T", data = m.body }
  end
  return out
end
'''


class StopWithRecordsReadAhead(rptest.TestCase):
    """A stop while records wait in the pipeline (read, converted or not,
    not yet queued for the target): the checkpoint's count of their keys
    must leave them out, or the next run numbers their records wrong
    (replicatedFrom.streamVersion, and the record the script gets)."""

    def setUp(self):
        rptest.require(self, "dry-run", "import", "run", "esdb-emu")
        self.dir = rptest.tempdir(self)
        self.store = os.path.join(self.dir, "store")
        # Every tenth record has a key of its own: its only record is the
        # one the pipeline holds when the run stops.
        recs = []
        for n in range(1, 24001):
            key = "rare:%d" % n if n % 10 == 0 else "a:1"
            recs.append(rptest.record(key, rptest.message_set(
                [("C", '{"n":%d}' % n)])))
        rptest.import_records(self.store, recs)
        self.script = rptest.write_file(os.path.join(self.dir, "s.lua"),
                                        ONE_STREAM)

    def stop_and_resume(self, workers):
        emu = rptest.Emulator(self)
        cp = os.path.join(self.dir, "w%s.cp" % workers)
        args = ["run", "--script", self.script, "--store", self.store,
                "--target", emu.url, "--checkpoint", cp,
                "--workers", workers]
        # One event a request: the sink fills up, and records wait in the
        # pipeline behind it.
        p = rptest.start_replicator(self, args + [
            "--batch-events", "1", "--max-in-flight", "1"], cwd=self.dir)
        rptest.wait_for(lambda: emu.stats().get("events", 0) >= 1000,
                        what="1000 events in the target")
        self.assertEqual(p.stop(), 0, p.stderr())
        acked = emu.stats().get("events", 0)
        self.assertLess(acked, 20000)
        final = rptest.run(args + ["--until-caught-up"], cwd=self.dir)
        self.assertEqual(final.returncode, 0, final.stderr)
        self.assertIn("resuming after store version", final.stderr)
        want = parse_lines(rptest.run(["dry-run", "--script", self.script,
                                       "--store", self.store]).stdout)
        self.assertEqual(len(want), 24000)
        self.assertSameEvents(want, emu.dump())

    def test_workers_stop_one_worker(self):
        self.stop_and_resume("1")

    def test_workers_stop_four_workers(self):
        self.stop_and_resume("4")
