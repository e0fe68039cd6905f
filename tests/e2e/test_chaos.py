"""Chaos: the replicator is killed with SIGKILL at random moments while the
store grows and the emulator fails in every way it can (random faults,
armed faults, restarts, an emptied -2 cache, leader changes in a cluster);
one last `run --until-caught-up` must leave the target holding exactly the
dry-run's events: 0 lost, 0 duplicated, every stream in source order.

The same with several workers (--workers 2 and 4, partition none and
key; with key, each state checks that it gets every record of its keys in
order).

The seed is printed; RP_CHAOS_SEED=N replays a run, RP_CHAOS_KILLS=N
changes the number of kills (default 30 for one node, 20 for a cluster,
12 for each of the worker runs)."""
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

    def chaos(self, cluster, default_kills, workers=1, partition=None):
        seed = int(os.environ.get("RP_CHAOS_SEED") or
                   random.SystemRandom().randrange(1, 1 << 31))
        kills_wanted = int(os.environ.get("RP_CHAOS_KILLS") or default_kills)
        print("\nchaos: seed %d (RP_CHAOS_SEED=%d replays it), %d worker(s)%s"
              % (seed, seed, workers,
                 ", partition " + partition if partition else ""), flush=True)
        rng = random.Random(seed)
        text = rptest.SCRIPT
        if partition:
            text = 'config = { partition = "%s" }\n' % partition + text
        if partition == "key":
            text += rptest.KEY_ORDER_CHECK
        d, store, script = rptest.setup_store(self, rng, 40, script=text)
        checkpoint = os.path.join(d, "replicator.checkpoint")
        args = ["--fault-rate", "0.05", "--seed", str(seed),
                "--write-timeout-ms", "200", "--request-timeout-ms", "1000"]
        if cluster:
            # Node ports other than node 0's change on a restart, so the
            # cluster is not restarted: its leader moves instead.
            emu = rptest.Emulator(self, "--cluster", "3", *args)
        else:
            emu = rptest.Emulator(self, *args,
                                  data=os.path.join(d, "target.data"))
        records = 40
        n = dict(kills=0, armed=0, restarts=0, clears=0, imports=0,
                 checkpoints_deleted=0, leader_moves=0, leaderless=0)
        faults_seen = 0
        start = time.monotonic()

        def run_args(extra=()):
            target = ",".join(emu.urls)
            return ["run", "--script", script, "--store", store,
                    "--target", target, "--checkpoint", checkpoint,
                    "--poll-ms", "20", "--log-level", "warn",
                    "--workers", str(workers)] + list(extra)

        while n["kills"] < kills_wanted:
            kills = n["kills"]
            if rng.random() < 0.6:
                k = rng.randint(1, 8)
                rptest.import_records(store, rptest.workload(
                    rng, k, records + 1))
                records += k
                n["imports"] += 1
            # Small batches and short client timeouts (which give up on
            # slow answers) as often as the defaults.
            tuning = ["--batch-events", str(rng.choice([1, 2, 5, 50])),
                      "--batch-bytes", str(rng.choice([1500, 1048576])),
                      "--max-in-flight", str(rng.choice([1, 2, 4, 16])),
                      "--request-timeout-ms", str(rng.choice([150, 30000]))]
            p = rptest.start_replicator(self, run_args(tuning), cwd=d)
            time.sleep(rng.uniform(0.02, 0.5))
            # Every kind of trouble comes up: a fixed share of the rounds
            # restarts the emulator (moves the leader) or empties its -2
            # cache, the others draw.
            roll = rng.random()
            if kills % (5 if cluster else 10) == 4 or (
                    kills % 10 != 7 and roll < 0.07):
                if cluster:
                    node = rng.choice([0, 1, 2, None])
                    emu.leader(node)
                    n["leader_moves" if node is not None else "leaderless"] += 1
                else:
                    # Killed or stopped, then started on the same port with
                    # the same --data (another port when it was taken: the
                    # next run follows emu.urls).
                    faults_seen += emu.stats()["faults"]
                    emu.restart(rng.choice([signal.SIGTERM, signal.SIGKILL]))
                    n["restarts"] += 1
            elif kills % 10 == 7 or roll < 0.15:
                emu.clear_idempotency_cache()
                n["clears"] += 1
            elif roll < 0.5:
                kind = rng.choice(FAULTS)
                emu.arm(kind, count=rng.randint(1, 3),
                        ms=rng.randint(50, 400) if kind == "slow" else None)
                n["armed"] += 1
            elif roll < 0.55 and os.path.exists(checkpoint):
                # A lost local checkpoint: the target tells where to go on.
                os.remove(checkpoint)
                n["checkpoints_deleted"] += 1
            time.sleep(rng.uniform(0.0, 0.4))
            if not p.alive():
                self.fail("run stopped by itself (status %s):\n%s" % (
                    p.proc.returncode, p.stderr()))
            p.stop(signal.SIGKILL)
            n["kills"] += 1
            if cluster and rng.random() < 0.5 and emu.stats()["leader"] is None:
                emu.leader(rng.randrange(3))
                n["leader_moves"] += 1

        if cluster:
            emu.leader(rng.randrange(3))
        final = rptest.run(run_args(["--until-caught-up"]), cwd=d,
                           timeout=150)
        self.assertEqual(final.returncode, 0, final.stderr)
        faults_seen += emu.stats()["faults"]
        want = rptest.dry_run(script, store)
        have = emu.dump()
        fig = rptest.compare(want, have)
        print("chaos: seed %d, %s, %d faults fired by the emulator, %d "
              "records, %d events expected, %d in the target, lost %d, "
              "duplicated %d, out of order %d, foreign %d, mismatched %d, "
              "%.1f s" % (
                  seed, ", ".join("%s %d" % kv for kv in n.items()),
                  faults_seen, records, len(want), len(have), fig["lost"],
                  fig["duplicated"], fig["out_of_order"], fig["foreign"],
                  fig["mismatched"], time.monotonic() - start), flush=True)
        if fig["problems"]:
            print("\n".join(fig["problems"]), file=sys.stderr)
        self.assertEqual(n["kills"], kills_wanted)
        if kills_wanted >= 20:
            self.assertGreaterEqual(n["clears"], 2)
            self.assertGreater(faults_seen, 0)
            if cluster:
                self.assertGreaterEqual(n["leader_moves"] + n["leaderless"], 4)
            else:
                self.assertGreaterEqual(n["restarts"], 2)
        self.assertEqual(fig["lost"], 0)
        self.assertEqual(fig["duplicated"], 0)
        self.assertEqual(fig["out_of_order"], 0)
        self.assertEqual(fig["foreign"], 0)
        self.assertEqual(fig["mismatched"], 0)
        self.assertEqual(fig["gaps"], 0)
        self.assertEqual(len(have), len(want))

    def test_chaos_kills_faults_and_restarts(self):
        self.chaos(cluster=False, default_kills=30)

    def test_chaos_cluster_leader_moves(self):
        self.chaos(cluster=True, default_kills=20)

    def test_chaos_workers_2_partition_none(self):
        self.chaos(cluster=False, default_kills=12, workers=2,
                   partition="none")

    def test_chaos_workers_2_partition_key(self):
        self.chaos(cluster=False, default_kills=12, workers=2,
                   partition="key")

    def test_chaos_workers_4_partition_none(self):
        self.chaos(cluster=False, default_kills=12, workers=4,
                   partition="none")

    def test_chaos_workers_4_partition_key(self):
        self.chaos(cluster=False, default_kills=12, workers=4,
                   partition="key")
