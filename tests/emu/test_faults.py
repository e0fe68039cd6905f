"""esdb-emu failure injection: every fault kind of POST /_emu/faults
(behaviours 42-44 and the open question on dropped idempotent repeats), the
arming rules (count, stream, disarm), random faults reproducible for a seed,
and --latency-ms answering concurrent requests in parallel."""
import json
import threading
import time
import unittest

from emuclient import (EVENTS_JSON, Dropped, Emu, EmuTestCase, ev, fresh,
                       new_id)

WRITE_TIMEOUT = 0.2      # FAST: --write-timeout-ms 200
REQUEST_TIMEOUT = 1.0    # FAST: --request-timeout-ms 1000
SLACK = 0.03             # clock granularity allowance on lower bounds


class Faults(EmuTestCase):
    """Each test starts its own emulator: armed faults are global."""

    PROFILE = ["--profile", "v20"]

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.emu = self.start_emu(self.PROFILE)
        self.s = fresh()

    def batch(self, n=2):
        return [ev() for _ in range(n)]

    def assertWriteTimeout(self, r):
        self.assertStatus(r, 500)
        self.assertEqual(r.reason, "Write timeout")
        self.assertEqual(r.body, b"")
        self.assertGreaterEqual(r.elapsed, WRITE_TIMEOUT - SLACK)

    # not-ready
    def test_fault_not_ready(self):
        self.emu.fault("not-ready")
        b = self.batch()
        r = self.emu.append(self.s, b, -1)
        self.assertStatus(r, 503)
        self.assertEqual(r.reason, "Server Is Not Ready")
        self.assertAbsent(self.emu, self.s)
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])

    # 42: committed
    def test_b42_timeout_committed_then_exact_retry(self):
        first = self.batch(1)
        self.assertStatus(self.emu.append(self.s, first, -1), 201)
        self.emu.fault("timeout-committed")
        b = self.batch(3)
        r = self.emu.append(self.s, b, 0)
        self.assertWriteTimeout(r)
        ids = [e["eventId"] for e in first + b]
        self.assertIds(self.emu, self.s, ids)
        # the retry with the same E finds it: 201, original Location
        self.assertCreated(self.emu.append(self.s, b, 0), self.emu, self.s, 1)
        self.assertIds(self.emu, self.s, ids)

    def test_b42_timeout_committed_then_any_retry(self):
        self.emu.fault("timeout-committed")
        b = self.batch(2)
        self.assertWriteTimeout(self.emu.append(self.s, b))
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])
        self.assertCreated(self.emu.append(self.s, b), self.emu, self.s, 0)
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])

    # 42: not committed
    def test_b42_timeout_uncommitted_then_retry(self):
        self.emu.fault("timeout-uncommitted")
        b = self.batch(2)
        self.assertWriteTimeout(self.emu.append(self.s, b, -1))
        self.assertAbsent(self.emu, self.s)
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])

    def test_b42_write_timeout_default_is_two_seconds(self):
        emu = self.start_emu(self.PROFILE, fast=False)
        emu.fault("timeout-uncommitted")
        r = emu.append(self.s, self.batch(1), timeout=8)
        self.assertStatus(r, 500)
        self.assertEqual(r.reason, "Write timeout")
        self.assertGreaterEqual(r.elapsed, 2.0 - SLACK)
        self.assertLess(r.elapsed, 6.0)

    # drops
    def test_fault_drop_before_commit(self):
        self.emu.fault("drop-before-commit")
        b = self.batch(2)
        with self.assertRaises(Dropped):
            self.emu.append(self.s, b, -1)
        self.assertAbsent(self.emu, self.s)
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])

    def test_fault_drop_after_commit(self):
        seed = self.seed_stream(self.emu, self.s, 2)
        self.emu.fault("drop-after-commit")
        b = self.batch(2)
        with self.assertRaises(Dropped):
            self.emu.append(self.s, b, 1)
        ids = seed + [e["eventId"] for e in b]
        self.assertIds(self.emu, self.s, ids)
        self.assertCreated(self.emu.append(self.s, b, 1), self.emu, self.s, 2)
        self.assertCreated(self.emu.append(self.s, b, -2), self.emu, self.s, 2)
        self.assertIds(self.emu, self.s, ids)

    # slow
    def test_fault_slow(self):
        self.emu.fault("slow", ms=600)
        b = self.batch(1)
        r = self.emu.append(self.s, b, -1)
        self.assertCreated(r, self.emu, self.s, 0)
        self.assertGreaterEqual(r.elapsed, 0.6 - SLACK)
        r = self.emu.append(self.s, self.batch(1), 0)
        self.assertCreated(r, self.emu, self.s, 1)
        self.assertLess(r.elapsed, 0.6)

    # 44
    def test_b44_request_timeout(self):
        self.emu.fault("request-timeout")
        b = self.batch(2)
        r = self.emu.append(self.s, b, -1)
        self.assertStatus(r, 408)
        self.assertEqual(r.reason, "Server was unable to handle request in "
                         "time")
        self.assertGreaterEqual(r.elapsed, REQUEST_TIMEOUT - SLACK)
        self.assertAbsent(self.emu, self.s)
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)

    def test_b44_slow_beyond_request_timeout_gets_408(self):
        self.emu.fault("slow", ms=4000)
        r = self.emu.append(self.s, self.batch(1), -1, timeout=8)
        self.assertStatus(r, 408)
        self.assertGreaterEqual(r.elapsed, REQUEST_TIMEOUT - SLACK)
        self.assertLess(r.elapsed, 3.0)

    # 43 and open question 3
    def test_b43_idempotent_not_ready_any(self):
        b = self.batch(2)
        self.assertCreated(self.emu.append(self.s, b), self.emu, self.s, 0)
        self.emu.fault("idempotent-not-ready")
        self.assertWriteTimeout(self.emu.append(self.s, b))
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])
        self.assertCreated(self.emu.append(self.s, b), self.emu, self.s, 0)
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])

    def test_b43_idempotent_not_ready_exact(self):
        b = self.batch(2)
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)
        self.emu.fault("idempotent-not-ready")
        self.assertWriteTimeout(self.emu.append(self.s, b, -1))
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)
        self.assertIds(self.emu, self.s, [e["eventId"] for e in b])

    # arming rules
    def test_fault_count(self):
        self.emu.fault("not-ready", count=3)
        b = self.batch(1)
        for _ in range(3):
            self.assertStatus(self.emu.append(self.s, b, -1), 503)
        self.assertCreated(self.emu.append(self.s, b, -1), self.emu, self.s, 0)
        self.assertCreated(self.emu.append(self.s, self.batch(1), 0),
                           self.emu, self.s, 1)

    def test_fault_only_for_its_stream(self):
        other = fresh()
        self.emu.fault("not-ready", stream=self.s)
        self.assertCreated(self.emu.append(other, self.batch(1)), self.emu,
                           other, 0)
        self.assertStatus(self.emu.append(self.s, self.batch(1)), 503)
        self.assertCreated(self.emu.append(self.s, self.batch(1)), self.emu,
                           self.s, 0)

    def test_fault_only_for_appends(self):
        self.seed_stream(self.emu, self.s, 1)
        self.emu.fault("not-ready")
        self.assertStatus(self.emu.feed(self.s), 200)
        self.assertStatus(self.emu.read_bytes(self.s, 0), 200)
        self.assertStatus(self.emu.append(self.s, self.batch(1)), 503)

    def test_fault_applies_to_plain_bodies(self):
        self.emu.fault("timeout-uncommitted")
        r = self.emu.post_plain(self.s, b"{}", event_id=new_id())
        self.assertWriteTimeout(r)
        self.assertAbsent(self.emu, self.s)

    def test_disarm_all(self):
        self.emu.fault("not-ready", count=5)
        self.emu.fault("drop-before-commit", count=5, stream=self.s)
        armed = self.emu.control("GET", "/_emu/faults").json()
        self.assertEqual(sorted((f["kind"], f["count"], f["stream"])
                                for f in armed),
                         [("drop-before-commit", 5, self.s),
                          ("not-ready", 5, None)])
        self.emu.clear_faults()
        self.assertEqual(self.emu.control("GET", "/_emu/faults").json(), [])
        self.assertCreated(self.emu.append(self.s, self.batch(1)), self.emu,
                           self.s, 0)


def run_random(seed, rate="0.5", n=16):
    """n appends to one stream under --fault-rate/--seed; returns the list of
    outcomes (status or 'dropped') and the final dump."""
    emu = Emu(["--profile", "v20", "--fault-rate", rate, "--seed", str(seed),
               "--write-timeout-ms", "100", "--request-timeout-ms", "300"],
              fast=False).start()
    try:
        outcomes = []
        for k in range(n):
            eid = "00000000-0000-4000-8000-%012d" % k
            r = emu.outcome("POST", "/streams/rand",
                            body='[{"eventId":"%s","eventType":"T",'
                            '"data":{"k":%d}}]' % (eid, k),
                            headers=[("Content-Type",
                                      "application/vnd.eventstore."
                                      "events+json")])
            outcomes.append(r if r == "dropped" else r.status)
        dump = [(d["eventNumber"], d["eventId"]) for d in emu.dump()]
    finally:
        emu.stop()
    return outcomes, dump


class RandomFaults(unittest.TestCase):

    def test_random_faults_reproducible_for_a_seed(self):
        out1, dump1 = run_random(7)
        out2, dump2 = run_random(7)
        self.assertEqual(out1, out2)
        self.assertEqual(dump1, dump2)
        self.assertTrue(any(o != 201 for o in out1), out1)
        self.assertTrue(any(o == 201 for o in out1), out1)
        for o in out1:
            self.assertIn(o, [201, 500, 503, 408, "dropped"])
        # what was answered 201 is stored
        stored = {i for _, i in dump1}
        for k, o in enumerate(out1):
            if o == 201:
                self.assertIn("00000000-0000-4000-8000-%012d" % k, stored)
            if o == 503:
                self.assertNotIn("00000000-0000-4000-8000-%012d" % k, stored)

    def test_random_faults_only_hit_appends(self):
        emu = Emu(["--profile", "v20", "--fault-rate", "1", "--seed", "3"])
        emu.start()
        self.addCleanup(emu.stop)
        for _ in range(10):
            r = emu.feed("never-written")
            self.assertEqual(r.status, 404)
            r = emu.get("/gossip", accept="application/json")
            self.assertEqual(r.status, 200)

    def test_fault_kinds_limit_the_draw(self):
        emu = Emu(["--profile", "v20", "--fault-rate", "1", "--seed", "5",
                   "--fault-kinds", "not-ready,drop-before-commit"]).start()
        self.addCleanup(emu.stop)
        seen = set()
        for _ in range(12):
            r = emu.outcome("POST", "/streams/k", json.dumps([ev()]),
                            [("Content-Type", EVENTS_JSON)])
            seen.add(r if r == "dropped" else r.status)
        self.assertLessEqual(seen, {503, "dropped"})
        self.assertEqual(emu.dump(), [])
        self.assertEqual(emu.stats()["faults"], 12)

    def test_rate_zero_means_no_faults(self):
        out, dump = run_random(11, rate="0", n=6)
        self.assertEqual(out, [201] * 6)
        self.assertEqual(len(dump), 6)


class Latency(unittest.TestCase):

    def test_latency_is_not_serialised(self):
        latency = 0.3
        emu = Emu(["--profile", "v20", "--latency-ms", "300"]).start()
        self.addCleanup(emu.stop)
        n = 32
        results = [None] * n
        go = threading.Event()

        def one(k):
            go.wait()
            try:
                results[k] = emu.append("lat-%d" % k, [ev()], timeout=20)
            except Exception as e:      # reported below
                results[k] = e

        threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        go.set()
        for t in threads:
            t.join(30)
        total = time.monotonic() - t0
        for r in results:
            self.assertNotIsInstance(r, Exception, repr(r))
            self.assertEqual(r.status, 201, repr(r))
            self.assertGreaterEqual(r.elapsed, latency - SLACK)
        # serialised would be 32 x 0.3 s = 9.6 s
        self.assertLess(total, 5 * latency, "32 requests took %.2fs" % total)
        self.assertEqual(emu.stats()["events"], n)


    def test_b44_latency_beyond_request_timeout(self):
        # any request, reads included, unanswered at the request timeout
        emu = Emu(["--profile", "v20", "--latency-ms", "3000"]).start()
        self.addCleanup(emu.stop)
        r = emu.get("/streams/never", timeout=8)
        self.assertEqual(r.status, 408, repr(r))
        self.assertGreaterEqual(r.elapsed, REQUEST_TIMEOUT - SLACK)
        self.assertLess(r.elapsed, 2.5)


if __name__ == "__main__":
    unittest.main()
