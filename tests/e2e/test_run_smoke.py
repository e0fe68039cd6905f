"""Smoke tests of `replicator run`: the command line contract (help, usage
errors, exit statuses), one replication of a small store into bin/esdb-emu,
the checkpoint it leaves, and a second run that finds everything in place
and sends nothing again."""
import os
import random
import signal

import rptest


class RunSmokeTest(rptest.TestCase):
    def setUp(self):
        rptest.require(self, "esdb-emu", "import", "dry-run", "run")
        self.rng = random.Random(self.id())
        self.dir, self.store, self.script = rptest.setup_store(
            self, self.rng, 40)
        self.checkpoint = os.path.join(self.dir, "smoke.checkpoint")

    def args(self, url, extra=()):
        return ["run", "--script", self.script, "--store", self.store,
                "--target", url, "--checkpoint", self.checkpoint,
                "--poll-ms", "50"] + list(extra)

    def test_run_help_and_usage_errors(self):
        p = rptest.run(["run", "--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        for word in ("--until-caught-up", "--max-in-flight", "--credentials",
                     "--gossip-seed", "insecure-skip-tls-verify"):
            self.assertIn(word, p.stdout)
        p = rptest.run(["run", "--store", self.store])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--script", p.stderr)
        p = rptest.run(["run", "--script", self.script, "--store", self.store,
                        "--target", "http://127.0.0.1:1", "--password", "x"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("never", p.stderr)
        p = rptest.run(["run", "--script", self.script, "--store", self.store,
                        "--target", "http://u:secret@127.0.0.1:1",
                        "--until-caught-up"], cwd=self.dir)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertNotIn("secret", p.stderr)
        p = rptest.run(["run", "--script", self.script, "--store", self.store,
                        "--no-such-flag"])
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_run_replicates_then_resumes_without_resending(self):
        emu = rptest.Emulator(self)
        want = rptest.dry_run(self.script, self.store)
        p = rptest.run(self.args(emu.url, ["--until-caught-up"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("caught up", p.stderr)
        self.assertSameEvents(want, emu.dump())
        with open(self.checkpoint, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("position 40 ", text)
        # The target's checkpoint stream names the same position.
        marks = [e for e in emu.dump(include_checkpoints=True)
                 if e["stream"].startswith(rptest.CHECKPOINT_PREFIX)]
        self.assertTrue(marks, "no checkpoint event on the target")
        self.assertEqual(rptest.decoded(marks[-1]["data"])["storeVersion"], 40)
        # Again: resumes from the checkpoint, nothing is sent twice.
        before = emu.stats()["events"]
        p = rptest.run(self.args(emu.url, ["--until-caught-up"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("resuming after store version 40", p.stderr)
        self.assertEqual(emu.stats()["events"], before)
        self.assertSameEvents(want, emu.dump())

    def test_run_lost_checkpoint_costs_nothing_twice(self):
        """Without the local file and with the target's checkpoint stream
        gone too, a second run re-reads everything and learns each stream's
        position from the target: no event is written twice."""
        emu = rptest.Emulator(self)
        want = rptest.dry_run(self.script, self.store,
                              ["--source-id", "smoke-a"])
        p = rptest.run(self.args(emu.url, ["--until-caught-up",
                                           "--source-id", "smoke-a"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        os.unlink(self.checkpoint)
        # Another source id has no checkpoint stream on the target, but the
        # events' metadata then names another source: a conflict, stopped.
        p = rptest.run(self.args(emu.url, ["--until-caught-up",
                                           "--source-id", "smoke-b"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("conflict", p.stderr.lower())
        self.assertSameEvents(want, emu.dump())
        # The right source id: resumes from the target's checkpoint stream.
        os.unlink(self.checkpoint)
        p = rptest.run(self.args(emu.url, ["--until-caught-up",
                                           "--source-id", "smoke-a"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("checkpoint stream", p.stderr)
        self.assertSameEvents(want, emu.dump())

    def test_run_no_checkpoint_anywhere_target_half_full(self):
        """No local file and no checkpoint stream, against a target that
        holds the first part of the data: every stream learns where it
        stands from its last event, nothing is written twice."""
        emu = rptest.Emulator(self)
        p = rptest.run(self.args(emu.url, ["--until-caught-up"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        rptest.import_records(self.store, rptest.workload(self.rng, 20, 41))
        os.unlink(self.checkpoint)
        status, _, _ = rptest.http(
            "DELETE", emu.url + "/streams/" + rptest.CHECKPOINT_PREFIX +
            "store")
        self.assertEqual(status, 204)
        p = rptest.run(self.args(emu.url, ["--until-caught-up"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("from the start of the store", p.stderr)
        self.assertSameEvents(rptest.dry_run(self.script, self.store),
                              emu.dump())

    def test_run_checkpoint_stream_deleted_for_good(self):
        """A tombstoned checkpoint stream does not stop replication: the
        local file keeps the checkpoints, and that is said once."""
        emu = rptest.Emulator(self)
        status, _, _ = rptest.http(
            "DELETE", emu.url + "/streams/" + rptest.CHECKPOINT_PREFIX +
            "store", headers={"ES-HardDelete": "true"})
        self.assertEqual(status, 204)
        p = rptest.run(self.args(emu.url, ["--until-caught-up"]),
                       cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("deleted for good", p.stderr)
        self.assertSameEvents(rptest.dry_run(self.script, self.store),
                              emu.dump())
        self.assertIn("position 40 ", open(self.checkpoint).read())

    def test_run_daemon_stops_on_sigterm_with_checkpoint(self):
        emu = rptest.Emulator(self)
        p = rptest.start_replicator(self, self.args(emu.url), cwd=self.dir)
        rptest.wait_for(lambda: emu.stats()["events"] > 0, 30,
                        what="a first event")
        rptest.wait_for(lambda: "position 40 " in open(
            self.checkpoint, encoding="utf-8").read()
            if os.path.exists(self.checkpoint) else False, 30,
            what="the checkpoint at the end of the store")
        self.assertEqual(p.stop(signal.SIGTERM, 30), 0, p.stderr())
        self.assertIn("checkpoint saved", p.stderr())
