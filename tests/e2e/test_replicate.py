"""End-to-end replication: bin/replicator run against bin/esdb-emu over
HTTP on 127.0.0.1.  Each test compares what landed in the target (GET
/_emu/dump) with what `replicator dry-run` says would be sent: the same
events in every stream, once each, in source order (DESIGN.md guarantee 1)."""
import hashlib
import json
import os
import random
import signal
import struct
import subprocess
import time

import rptest


class ReplicateTest(rptest.TestCase):
    def setUp(self):
        rptest.require(self, "esdb-emu", "import", "dry-run", "run")
        self.rng = random.Random(self.id())

    def args(self, emu_or_urls, extra=()):
        targets = emu_or_urls if isinstance(emu_or_urls, str) else \
            ",".join(emu_or_urls.urls if len(emu_or_urls.urls) > 1
                     else [emu_or_urls.url])
        return ["run", "--script", self.script, "--store", self.store,
                "--target", targets, "--checkpoint", self.checkpoint,
                "--poll-ms", "50"] + list(extra)

    def prepare(self, count):
        self.dir, self.store, self.script = rptest.setup_store(
            self, self.rng, count)
        self.checkpoint = os.path.join(self.dir, "replicator.checkpoint")

    def expected(self):
        return rptest.dry_run(self.script, self.store)

    def run_to_end(self, emu, extra=()):
        p = rptest.run(self.args(emu, ["--until-caught-up"] + list(extra)),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def events_landed(self, emu):
        return emu.stats()["events"]

    def test_replicate_equals_dry_run(self):
        self.prepare(60)
        emu = rptest.Emulator(self)
        self.run_to_end(emu)
        want = self.expected()
        self.assertGreater(len(want), 60)
        streams = {e["stream"] for e in want}
        self.assertIn("moves", streams)
        self.assertIn("functional", streams)
        self.assertSameEvents(want, emu.dump())
        # The remote checkpoint stream exists and holds our source id.
        all_streams = {e["stream"] for e in emu.dump(include_checkpoints=True)}
        self.assertIn(rptest.CHECKPOINT_PREFIX + "store", all_streams)
        # A second run has nothing to add.
        before = emu.dump()
        self.run_to_end(emu)
        self.assertEqual(emu.dump(), before)

    def test_replicate_several_streams_in_source_order(self):
        """Many aggregates, small batches: each stream keeps its order."""
        self.prepare(80)
        emu = rptest.Emulator(self)
        self.run_to_end(emu, ["--batch-events", "3", "--max-in-flight", "4"])
        want = self.expected()
        self.assertGreaterEqual(len({e["stream"] for e in want}), 8)
        self.assertSameEvents(want, emu.dump())

    def interrupted_then_finished(self, sig, delete_checkpoint,
                                  delete_remote=False):
        self.prepare(150)
        emu = rptest.Emulator(self, "--latency-ms", "15")
        want = self.expected()
        slow = ["--batch-events", "2", "--max-in-flight", "1"]
        p = rptest.start_replicator(
            self, self.args(emu, ["--until-caught-up"] + slow), cwd=self.dir)
        rptest.wait_for(lambda: self.events_landed(emu) >= 20, 60,
                        what="20 events in the target")
        status = p.stop(sig)
        self.assertEqual(status, 0, p.stderr())
        landed = len(emu.dump())
        self.assertLess(landed, len(want), "the stop came too late to test")
        if delete_checkpoint:
            self.assertTrue(os.path.exists(self.checkpoint))
            os.remove(self.checkpoint)
        if delete_remote:
            # Soft-deleted: reads give 404, as for a target that never
            # had a checkpoint; only the streams' own events are left.
            status, _, _ = rptest.http(
                "DELETE", emu.url + "/streams/" + rptest.CHECKPOINT_PREFIX +
                "store", headers={"ES-ExpectedVersion": "-2"})
            self.assertEqual(status, 204)
        q = self.run_to_end(emu)
        if delete_checkpoint and not delete_remote:
            self.assertIn("checkpoint stream", q.stderr)
        self.assertSameEvents(want, emu.dump())

    def test_replicate_restart_after_sigterm(self):
        self.interrupted_then_finished(signal.SIGTERM, False)

    def test_replicate_restart_after_sigint(self):
        self.interrupted_then_finished(signal.SIGINT, False)

    def test_replicate_restart_without_local_checkpoint(self):
        """The local checkpoint is only where to start reading: without
        it the run resumes from the target's checkpoint stream."""
        self.interrupted_then_finished(signal.SIGTERM, True)

    def test_replicate_restart_without_any_checkpoint(self):
        """No local checkpoint and no checkpoint stream: the run reads the
        store from its start and learns each stream's position from its
        last event, so nothing is written twice."""
        self.interrupted_then_finished(signal.SIGTERM, True, True)

    def test_replicate_restart_checkpoint_stream_deleted(self):
        """The local checkpoint is kept but the target's checkpoint stream
        is gone: the run cannot tell that from a reset target, so it reads
        the store from its start, and writes nothing twice."""
        self.interrupted_then_finished(signal.SIGTERM, False, True)

    def test_replicate_target_reset_under_local_checkpoint(self):
        """The local checkpoint says every record reached the target, but
        the target is a new, empty server: the run finds no checkpoint
        stream there and replicates the whole store again instead of
        leaving out everything before the checkpoint."""
        self.prepare(60)
        first = rptest.Emulator(self)
        self.run_to_end(first)
        want = self.expected()
        self.assertSameEvents(want, first.dump())
        fresh = rptest.Emulator(self)
        p = self.run_to_end(fresh)
        self.assertIn("the target has no checkpoint stream", p.stderr)
        self.assertSameEvents(want, fresh.dump())
        # Where the target holds the checkpoint stream, the local checkpoint
        # is trusted: nothing is read or written again.
        before = fresh.dump(include_checkpoints=True)
        q = self.run_to_end(fresh)
        self.assertNotIn("no checkpoint stream", q.stderr)
        self.assertIn("resuming after store version", q.stderr)
        self.assertEqual(fresh.dump(include_checkpoints=True), before)

    def test_replicate_target_reset_while_running(self):
        """The target is replaced by an empty one under a running
        replicator: the first append that finds its stream shorter than
        before stops the run with a message (writing on would leave out the
        stream's start), and a restart replicates everything again."""
        self.prepare(40)
        emu = rptest.Emulator(self)
        p = rptest.start_replicator(self, self.args(emu), cwd=self.dir)
        first = self.expected()
        rptest.wait_for(lambda: len(emu.dump()) == len(first) and len(
            emu.dump(include_checkpoints=True)) > len(first), 30,
            what="the store and a checkpoint event in the target")
        if not emu.restart():
            self.skipTest("the emulator's port was taken meanwhile")
        rptest.import_records(self.store, rptest.workload(self.rng, 20, 41))
        self.assertEqual(p.wait(60), 1, p.stderr())
        self.assertIn("(deleted, or the target was reset): stopping",
                      p.stderr())
        q = self.run_to_end(emu)
        self.assertIn("the target has no checkpoint stream", q.stderr)
        self.assertSameEvents(self.expected(), emu.dump())

    def checkpoint_metadata(self, emu):
        return json.loads(emu.call(
            "GET", "/streams/%sstore/metadata" % rptest.CHECKPOINT_PREFIX))

    def test_replicate_caps_the_checkpoint_stream(self):
        """The run that creates the checkpoint stream gives it a $maxCount,
        so that the target does not keep every checkpoint event; 0 leaves
        it uncapped, and a refusal is a warning, not a stop."""
        self.prepare(20)
        emu = rptest.Emulator(self)
        p = self.run_to_end(emu, ["--checkpoint-max-count", "50"])
        self.assertEqual(self.checkpoint_metadata(emu), {"$maxCount": 50})
        self.assertIn("keeps its last 50 events", p.stderr)
        # The stream exists now: a later run leaves its metadata alone.
        rptest.import_records(self.store, rptest.workload(self.rng, 5, 21))
        q = self.run_to_end(emu, ["--checkpoint-max-count", "70"])
        self.assertNotIn("$maxCount", q.stderr)
        self.assertEqual(self.checkpoint_metadata(emu), {"$maxCount": 50})
        self.assertSameEvents(self.expected(), emu.dump())

        other = rptest.Emulator(self)
        os.remove(self.checkpoint)
        self.run_to_end(other, ["--checkpoint-max-count", "0"])
        self.assertEqual(self.checkpoint_metadata(other), {})

        refusing = rptest.Emulator(self)
        os.remove(self.checkpoint)
        refusing.arm("not-ready", stream="$$%sstore" %
                     rptest.CHECKPOINT_PREFIX)
        r = self.run_to_end(refusing)
        self.assertIn("$maxCount 10000 was not set (the target answered 503",
                      r.stderr)
        self.assertEqual(self.checkpoint_metadata(refusing), {})
        self.assertSameEvents(self.expected(), refusing.dump())

    def test_replicate_old_checkpoint_costs_no_duplicate(self):
        """A checkpoint from an earlier point (a restored backup) makes the
        run read again, never write again."""
        self.prepare(40)
        emu = rptest.Emulator(self)
        self.run_to_end(emu)
        with open(self.checkpoint, "rb") as f:
            old = f.read()
        rptest.import_records(self.store, rptest.workload(self.rng, 40, 41))
        self.run_to_end(emu)
        with open(self.checkpoint, "wb") as f:
            f.write(old)
        self.run_to_end(emu)
        self.assertSameEvents(self.expected(), emu.dump())

    def emulator_restarted(self, sig):
        self.prepare(150)
        d = rptest.tempdir(self)
        emu = rptest.Emulator(self, "--latency-ms", "15",
                              data=os.path.join(d, "target.data"))
        want = self.expected()
        args = self.args(emu, ["--until-caught-up", "--batch-events", "2",
                               "--max-in-flight", "2"])
        p = rptest.start_replicator(self, args, cwd=self.dir)
        rptest.wait_for(lambda: self.events_landed(emu) >= 30, 60,
                        what="30 events in the target")
        landed = len(emu.dump())
        self.assertLess(landed, len(want), "the restart came too late to test")
        same = emu.restart(sig)
        if not same:
            # The old port was taken meanwhile: point a new run at the new one.
            self.assertEqual(p.stop(signal.SIGTERM), 0, p.stderr())
            p = rptest.start_replicator(self, self.args(
                emu, ["--until-caught-up"]), cwd=self.dir)
        self.assertEqual(p.wait(120), 0, p.stderr())
        self.assertSameEvents(want, emu.dump())

    def test_replicate_emulator_restarted(self):
        self.emulator_restarted(signal.SIGTERM)

    def test_replicate_emulator_killed(self):
        self.emulator_restarted(signal.SIGKILL)

    def test_replicate_store_grows_while_running(self):
        self.prepare(20)
        emu = rptest.Emulator(self)
        p = rptest.start_replicator(self, self.args(emu), cwd=self.dir)
        n = 20
        for _ in range(4):
            want = self.expected()
            rptest.wait_for(lambda: len(emu.dump()) >= len(want), 60,
                            what="%d events in the target" % len(want))
            self.assertSameEvents(want, emu.dump())
            rptest.import_records(self.store,
                                  rptest.workload(self.rng, 15, n + 1))
            n += 15
        want = self.expected()
        rptest.wait_for(lambda: len(emu.dump()) >= len(want), 60,
                        what="%d events in the target" % len(want))
        self.assertTrue(p.alive(), p.stderr())
        self.assertEqual(p.stop(signal.SIGTERM), 0, p.stderr())
        self.assertSameEvents(want, emu.dump())

    def test_replicate_cluster_leader_changes(self):
        """Leader moves twice and the cluster spends a while without a
        leader (503): every event still lands once, in order."""
        self.prepare(120)
        emu = rptest.Emulator(self, "--cluster", "3", "--latency-ms", "10")
        self.assertEqual(len(emu.urls), 3)
        want = self.expected()
        p = rptest.start_replicator(self, self.args(
            emu, ["--until-caught-up", "--batch-events", "2",
                  "--max-in-flight", "2"]), cwd=self.dir)
        rptest.wait_for(lambda: self.events_landed(emu) >= 20, 60,
                        what="20 events in the target")
        emu.leader(1)
        rptest.wait_for(lambda: self.events_landed(emu) >= 40, 60,
                        what="40 events in the target")
        emu.leader(None)
        time.sleep(0.3)
        frozen = self.events_landed(emu)
        time.sleep(1.0)
        self.assertTrue(p.alive(), "run gave up without a leader: " +
                        p.stderr())
        self.assertEqual(self.events_landed(emu), frozen,
                         "written without a leader")
        self.assertLess(frozen, len(want), "the election came too late")
        emu.leader(2)
        self.assertEqual(p.wait(120), 0, p.stderr())
        self.assertRegex(p.stderr(), r"warn: .*503")
        self.assertSameEvents(want, emu.dump())

    def test_replicate_cluster_gossip_seed(self):
        """Only --gossip-seed: the leader is found through GET /gossip, and
        found again after it moves."""
        self.prepare(80)
        emu = rptest.Emulator(self, "--cluster", "3", "--latency-ms", "10")
        want = self.expected()
        args = ["run", "--script", self.script, "--store", self.store,
                "--gossip-seed", ",".join(emu.urls), "--checkpoint",
                self.checkpoint, "--poll-ms", "50", "--until-caught-up",
                "--batch-events", "2", "--max-in-flight", "2"]
        emu.leader(2)
        p = rptest.start_replicator(self, args, cwd=self.dir)
        rptest.wait_for(lambda: self.events_landed(emu) >= 20, 60,
                        what="20 events in the target")
        emu.leader(1)
        self.assertEqual(p.wait(120), 0, p.stderr())
        self.assertSameEvents(want, emu.dump())

    def test_replicate_every_profile(self):
        """v5 (Master, ES-RequireMaster), v23 (no anonymous access) and
        v25 (Kurrent headers): the same events land."""
        self.prepare(30)
        want = self.expected()
        creds = {"REPLICATOR_USER": "admin", "REPLICATOR_PASSWORD": "changeit"}
        for profile in ("v5", "v20", "v23", "v25"):
            with self.subTest(profile=profile):
                emu = rptest.Emulator(self, "--profile", profile)
                cp = os.path.join(self.dir, profile + ".checkpoint")
                args = self.args(emu, ["--until-caught-up"])
                args[args.index("--checkpoint") + 1] = cp
                p = rptest.run(args, cwd=self.dir, env=creds)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertSameEvents(want, emu.dump())
                emu.stop()

    def test_replicate_script_fixed_after_error(self):
        """A script error stops the run at its record (nothing of that
        record or after is sent); with the script fixed, a new run
        completes the target without a duplicate."""
        self.prepare(40)
        want = self.expected()
        good = self.script
        bad = rptest.write_file(os.path.join(self.dir, "bad.lua"),
                                rptest.SCRIPT.replace(
                                    "local events = {}",
                                    "local events = {}\n"
                                    "  if record.store_version == 25 then\n"
                                    "    error(\"cannot map this one\")\n"
                                    "  end", 1))
        emu = rptest.Emulator(self)
        self.script = bad
        p = rptest.run(self.args(emu, ["--until-caught-up"]), cwd=self.dir)
        self.assertEqual(p.returncode, 1, p.stderr)
        key = [r for r in rptest.dump_store(self.store)
               if r["storeVersion"] == 25][0]["key"]
        for word in ("25", key, "cannot map this one", "bad.lua"):
            self.assertIn(word, p.stderr)
        have = emu.dump()
        self.assertSameEvents([e for e in want if e["storeVersion"] < 25],
                              have)
        self.script = good
        self.run_to_end(emu)
        self.assertSameEvents(want, emu.dump())

    def test_replicate_two_instances_at_once(self):
        """Two runs of the same source at the same time (an operator's
        mistake): each one's writes are the other's repeats, so nothing is
        doubled; a run that gives up says why."""
        self.prepare(100)
        emu = rptest.Emulator(self, "--latency-ms", "5")
        want = self.expected()
        runs = []
        for i in range(2):
            args = self.args(emu, ["--until-caught-up", "--batch-events",
                                   str(3 + i)])
            args[args.index("--checkpoint") + 1] = os.path.join(
                self.dir, "instance%d.checkpoint" % i)
            runs.append(rptest.start_replicator(self, args, cwd=self.dir))
        codes = [p.wait(120) for p in runs]
        for p, code in zip(runs, codes):
            self.assertIn(code, (0, 1), p.stderr())
            if code == 1:
                self.assertIn("replicator: error:", p.stderr())
        fig = rptest.compare(want, emu.dump())
        self.assertEqual((fig["duplicated"], fig["foreign"], fig["out_of_order"],
                          fig["mismatched"]), (0, 0, 0, 0), fig["problems"])
        self.run_to_end(emu)
        self.assertSameEvents(want, emu.dump())

    def test_replicate_torn_tail_completed_later(self):
        """A writer caught in the middle of a frame: the half frame is
        waited for, not skipped and not an error, and replicated once
        complete."""
        self.prepare(20)
        emu = rptest.Emulator(self)
        p = rptest.start_replicator(self, self.args(emu), cwd=self.dir)
        want = self.expected()
        rptest.wait_for(lambda: len(emu.dump()) >= len(want), 60,
                        what="the first events")
        newest = sorted(f for f in os.listdir(self.store)
                        if f.endswith(".dat"))[-1]
        path = os.path.join(self.store, newest)
        key = b"customer:1"
        count = sum(1 for r in rptest.dump_store(self.store)
                    if r["key"] == "customer:1")
        data = rptest.message_set([("Lokad.SaaS/CustomerRenamed",
                                    rptest.pretty_body({"Id": 21}))])
        body = (struct.pack("<q", count + 1) + rptest.varint(len(key)) + key +
                rptest.varint(len(data)) + data)
        frame = body + hashlib.sha1(body).digest()
        cut = len(frame) // 2
        with open(path, "ab") as f:
            f.write(frame[:cut])
        time.sleep(0.5)
        self.assertTrue(p.alive(), p.stderr())
        self.assertEqual(len(emu.dump()), len(want))
        with open(path, "ab") as f:
            f.write(frame[cut:])
        want = self.expected()
        self.assertEqual(want[-1]["storeVersion"], 21)
        rptest.wait_for(lambda: len(emu.dump()) >= len(want), 60,
                        what="the completed record")
        self.assertEqual(p.stop(signal.SIGTERM), 0, p.stderr())
        self.assertSameEvents(want, emu.dump())

    def test_replicate_stream_names_to_escape(self):
        """Stream names with spaces, '/', '?', '#', '%', '+' and non-ASCII
        letters, written then learned again after a restart."""
        odd = rptest.SCRIPT.replace(
            'stream = (record.key:gsub(":", "-"))',
            'stream = "k\u00fc %/?#+&=" .. record.key')
        self.dir, self.store, self.script = rptest.setup_store(
            self, self.rng, 60, script=odd)
        self.checkpoint = os.path.join(self.dir, "replicator.checkpoint")
        want = self.expected()
        self.assertIn("k\u00fc %/?#+&=customer:1", {e["stream"] for e in want})
        emu = rptest.Emulator(self, "--latency-ms", "10")
        p = rptest.start_replicator(self, self.args(
            emu, ["--until-caught-up", "--batch-events", "1",
                  "--max-in-flight", "1"]), cwd=self.dir)
        rptest.wait_for(lambda: self.events_landed(emu) >= 20, 60,
                        what="20 events in the target")
        self.assertEqual(p.stop(signal.SIGTERM), 0, p.stderr())
        os.remove(self.checkpoint)
        self.run_to_end(emu)
        self.assertSameEvents(want, emu.dump())

    def test_replicate_records_without_events(self):
        """Records the script maps to nothing still count as done: the run
        catches up, and resumes after them."""
        nothing = rptest.SCRIPT.replace("local events = {}",
                                        "local events = {}\n  do return {} end",
                                        1)
        self.dir, self.store, self.script = rptest.setup_store(
            self, self.rng, 20, script=nothing)
        self.checkpoint = os.path.join(self.dir, "replicator.checkpoint")
        self.assertEqual(self.expected(), [])
        emu = rptest.Emulator(self)
        p = self.run_to_end(emu)
        self.assertIn("20", p.stderr)
        self.assertEqual(emu.dump(), [])
        # Then records that do give events: only they are sent.
        rptest.write_file(self.script, rptest.SCRIPT.replace(
            "local events = {}",
            "local events = {}\n"
            "  if record.store_version <= 20 then return {} end", 1))
        rptest.import_records(self.store, rptest.workload(self.rng, 10, 21))
        self.run_to_end(emu)
        want = self.expected()
        self.assertTrue(want and all(e["storeVersion"] > 20 for e in want))
        self.assertSameEvents(want, emu.dump())

    def test_replicate_each_fault_kind(self):
        """Every fault the emulator can inject, armed on a busy stream
        (twice in a row: the retry fails too): the run gets there with
        every event once."""
        self.prepare(30)
        want = self.expected()
        busiest = max({e["stream"] for e in want},
                      key=lambda s: sum(e["stream"] == s for e in want))
        kinds = ["not-ready", "timeout-committed", "timeout-uncommitted",
                 "drop-before-commit", "drop-after-commit", "slow",
                 "request-timeout", "idempotent-not-ready"]
        for kind in kinds:
            with self.subTest(kind=kind):
                emu = rptest.Emulator(self, "--write-timeout-ms", "200",
                                      "--request-timeout-ms", "1000")
                if kind == "idempotent-not-ready":
                    # Its repeat comes after a committed write that got
                    # no answer.
                    emu.arm("drop-after-commit", stream=busiest)
                emu.arm(kind, count=2, stream=busiest,
                        ms=300 if kind == "slow" else None)
                cp = os.path.join(self.dir, kind + ".checkpoint")
                args = self.args(emu, ["--until-caught-up", "--batch-events",
                                       "2", "--request-timeout-ms", "2000"])
                args[args.index("--checkpoint") + 1] = cp
                p = rptest.run(args, cwd=self.dir)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(emu.stats()["faults"],
                                 3 if kind == "idempotent-not-ready" else 2)
                self.assertSameEvents(want, emu.dump())
                emu.stop()

    def test_replicate_demo_script(self):
        """tools/demo.sh (make demo) replicates the sample store and shows
        it, the emulator stopped afterwards."""
        d = rptest.tempdir(self)
        env = dict(os.environ, RP_BIN_DIR=rptest.BIN_DIR,
                   DEMO_DIR=os.path.join(d, "demo"))
        p = subprocess.run(["sh", os.path.join(rptest.SRC_DIR, "tools",
                                               "demo.sh")],
                           env=env, capture_output=True, text=True,
                           timeout=120 * rptest.SLOW)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("caught up", p.stderr)
        self.assertRegex(p.stdout, r"\d+ events in \d+ streams")
        self.assertIn('"replicatedFrom"', p.stdout)
        self.assertNotIn(" 0 events", p.stdout)
