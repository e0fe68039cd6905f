"""Chaos: the replicator is killed with SIGKILL at random moments while the
store grows and the emulator fails in every way it can (random faults,
armed faults, restarts, an emptied -2 cache); one last `run
--until-caught-up` must leave the target holding exactly the dry-run's
events: 0 lost, 0 duplicated, every stream in source order.

The seed is printed; RP_CHAOS_SEED=N replays a run, RP_CHAOS_KILLS=N
changes the number of kills (default 30)."""
import os
import random
import signal
import sys
import time

import rptest

FAULTS = ["not-ready", "timeout-committed", "timeout-uncommitted",
          "drop-before-commit", "drop-after-commit", "slow",
          "request-timeout", "idempotent-not-ready"]


class ChaosTest(rptest.TestCase):
    def setUp(self):
        rptest.require(self, "esdb-emu", "import", "dry-run", "run")

    def test_chaos_kills_faults_and_restarts(self):
        seed = int(os.environ.get("RP_CHAOS_SEED") or
                   random.SystemRandom().randrange(1, 1 << 31))
        kills_wanted = int(os.environ.get("RP_CHAOS_KILLS") or 30)
        print("chaos: seed %d (RP_CHAOS_SEED=%d replays it)" % (seed, seed),
              flush=True)
        rng = random.Random(seed)
        d, store, script = rptest.setup_store(self, rng, 40)
        checkpoint = os.path.join(d, "replicator.checkpoint")
        emu = rptest.Emulator(
            self, "--fault-rate", "0.05", "--seed", str(seed),
            "--write-timeout-ms", "200", "--request-timeout-ms", "1000",
            data=os.path.join(d, "target.data"))
        records = 40
        kills = armed = restarts = clears = imports = lost_checkpoints = 0
        faults_seen = 0
        start = time.monotonic()

        def run_args(url, extra=()):
            return ["run", "--script", script, "--store", store,
                    "--target", url, "--checkpoint", checkpoint,
                    "--poll-ms", "20", "--log-level", "warn"] + list(extra)

        while kills < kills_wanted:
            if rng.random() < 0.6:
                n = rng.randint(1, 8)
                rptest.import_records(store, rptest.workload(
                    rng, n, records + 1))
                records += n
                imports += 1
            tuning = ["--batch-events", str(rng.choice([1, 2, 5, 50])),
                      "--max-in-flight", str(rng.choice([1, 2, 4, 16]))]
            p = rptest.start_replicator(self, run_args(emu.url, tuning), cwd=d)
            time.sleep(rng.uniform(0.02, 0.5))
            # Every kind of trouble comes up: a fixed share of the rounds
            # restarts the emulator or empties its -2 cache, the rest draw.
            roll = rng.random()
            if kills % 10 == 4 or (kills % 10 != 7 and roll < 0.07):
                # Killed or stopped, then started on the same port with the
                # same --data (another port when it was taken: the next
                # run follows emu.url; this one fails until killed).
                faults_seen += emu.stats()["faults"]
                emu.restart(rng.choice([signal.SIGTERM, signal.SIGKILL]))
                restarts += 1
            elif kills % 10 == 7 or roll < 0.15:
                emu.clear_idempotency_cache()
                clears += 1
            elif roll < 0.5:
                kind = rng.choice(FAULTS)
                emu.arm(kind, count=rng.randint(1, 3),
                        ms=rng.randint(50, 400) if kind == "slow" else None)
                armed += 1
            elif roll < 0.55 and os.path.exists(checkpoint):
                # A lost local checkpoint: the target tells where to go on.
                os.remove(checkpoint)
                lost_checkpoints += 1
            time.sleep(rng.uniform(0.0, 0.4))
            if not p.alive():
                self.fail("run stopped by itself (status %s):\n%s" % (
                    p.proc.returncode, p.stderr()))
            p.stop(signal.SIGKILL)
            kills += 1

        final = rptest.run(run_args(emu.url, ["--until-caught-up"]),
                           cwd=d, timeout=150)
        self.assertEqual(final.returncode, 0, final.stderr)
        faults_seen += emu.stats()["faults"]
        want = rptest.dry_run(script, store)
        have = emu.dump()
        fig = rptest.compare(want, have)
        elapsed = time.monotonic() - start
        print("chaos: seed %d, %d kills, %d emulator restarts, %d armed "
              "faults, %d -2 cache clears, %d local checkpoints deleted, "
              "%d faults fired by the emulator, %d imports, "
              "%d records, %d events expected, %d in the target, lost %d, "
              "duplicated %d, out of order %d, foreign %d, mismatched %d, "
              "%.1f s" % (
                  seed, kills, restarts, armed, clears, lost_checkpoints,
                  faults_seen, imports,
                  records, len(want), len(have), fig["lost"],
                  fig["duplicated"], fig["out_of_order"], fig["foreign"],
                  fig["mismatched"], elapsed), flush=True)
        if fig["problems"]:
            print("\n".join(fig["problems"]), file=sys.stderr)
        self.assertEqual(kills, kills_wanted)
        if kills_wanted >= 30:
            self.assertGreaterEqual(restarts, 3)
            self.assertGreaterEqual(clears, 3)
            self.assertGreater(faults_seen, 0)
        self.assertEqual(fig["lost"], 0)
        self.assertEqual(fig["duplicated"], 0)
        self.assertEqual(fig["out_of_order"], 0)
        self.assertEqual(fig["foreign"], 0)
        self.assertEqual(fig["mismatched"], 0)
        self.assertEqual(fig["gaps"], 0)
        self.assertEqual(len(have), len(want))
