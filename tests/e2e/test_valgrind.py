"""Every command under valgrind (memcheck): import, dump, dry-run and a
replication into bin/esdb-emu through faults, a restart that resumes from
the checkpoint, and a stop by SIGTERM.  Each run must end with its usual
exit status, not valgrind's error status: no invalid read or write, no use
of an uninitialised value, no definite leak.

Skipped when valgrind is not installed, and for sanitizer builds (ASan
and valgrind cannot watch the same process)."""
import os
import random
import shutil
import signal

import rptest

# The exit status valgrind gives a run in which it found an error; no
# command of the replicator exits with it.
VALGRIND_ERROR = 97


def valgrind_argv(log):
    return ["valgrind", "--error-exitcode=%d" % VALGRIND_ERROR,
            "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--log-file=" + log, rptest.REPLICATOR]


class ValgrindTest(rptest.TestCase):
    def setUp(self):
        if shutil.which("valgrind") is None:
            self.skipTest("valgrind is not installed")
        if os.environ.get("RP_SANITIZE") == "1":
            self.skipTest("sanitizer builds do not run under valgrind")
        rptest.require(self, "esdb-emu", "import", "dry-run", "run")
        self.rng = random.Random(self.id())
        self.dir, self.store, self.script = rptest.setup_store(
            self, self.rng, 60)
        self.checkpoint = os.path.join(self.dir, "vg.checkpoint")
        self.logs = 0

    def run_grind(self, args, input=None, timeout=300):
        """Runs replicator 'args' under valgrind; fails the test with
        valgrind's report when it found an error."""
        self.logs += 1
        log = os.path.join(self.dir, "valgrind-%d.log" % self.logs)
        argv = valgrind_argv(log) + list(args)
        p = rptest.run(argv[1:], input=input, timeout=timeout, cwd=self.dir,
                       binary=argv[0])
        self.assertValgrindClean(p.returncode, log)
        return p

    def assertValgrindClean(self, status, log):
        if status == VALGRIND_ERROR:
            with open(log, encoding="utf-8", errors="replace") as f:
                self.fail("valgrind found errors:\n" + f.read())

    def run_args(self, url, extra=()):
        return ["run", "--script", self.script, "--store", self.store,
                "--target", url, "--checkpoint", self.checkpoint,
                "--poll-ms", "50"] + list(extra)

    def test_valgrind_import_dump_dry_run(self):
        more = rptest.workload(self.rng, 5, 61)
        text = "".join(rptest.json.dumps(r) + "\n" for r in more)
        p = self.run_grind(["import", "--store", self.store], input=text)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_grind(["dump", "--store", self.store])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 65)
        p = self.run_grind(["dry-run", "--script", self.script,
                            "--store", self.store])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()),
                         len(rptest.dry_run(self.script, self.store)))

    def test_valgrind_replication(self):
        """Faults of each kind on the way, then a restart that resumes
        from the checkpoint and finds everything in place."""
        emu = rptest.Emulator(self, "--write-timeout-ms", "300")
        want = rptest.dry_run(self.script, self.store)
        for kind in ("not-ready", "drop-after-commit", "timeout-committed",
                     "drop-before-commit"):
            emu.arm(kind)
        p = self.run_grind(self.run_args(emu.url, ["--until-caught-up"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("caught up", p.stderr)
        self.assertSameEvents(want, emu.dump())
        self.assertGreaterEqual(emu.stats()["faults"], 4)
        rptest.import_records(self.store, rptest.workload(self.rng, 10, 61))
        p = self.run_grind(self.run_args(emu.url, ["--until-caught-up"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("resuming after store version 60", p.stderr)
        self.assertSameEvents(rptest.dry_run(self.script, self.store),
                              emu.dump())

    def test_valgrind_daemon_stopped_by_sigterm(self):
        emu = rptest.Emulator(self)
        log = os.path.join(self.dir, "valgrind-daemon.log")
        p = rptest.Process(self, valgrind_argv(log) + self.run_args(emu.url),
                           cwd=self.dir)
        rptest.wait_for(lambda: os.path.exists(self.checkpoint) and
                        "position 60 " in open(self.checkpoint,
                                               encoding="utf-8").read(),
                        120, what="the checkpoint at the end of the store")
        status = p.stop(signal.SIGTERM, 120)
        self.assertValgrindClean(status, log)
        self.assertEqual(status, 0, p.stderr())
        self.assertIn("checkpoint saved", p.stderr())
