"""Replication against a target or a store that fails: every stop gives one
clear message on stderr (the stream, the record, the cause) and a non-zero
exit; outages are reported once and survived; nothing is lost or doubled
(DESIGN.md guarantees 1, 3 and 4)."""
import base64
from http import client as httpclient
import json
import os
import random
import re
import signal
import time
import urllib.parse

import rptest

class LocationProxy:
    """A proxy in front of the emulator that answers each 201 to an append
    (the checkpoint stream aside) with the Location 'location' instead of
    the emulator's: a server whose answers are malformed."""

    def __init__(self, test, target, location):
        from http import server
        import threading
        up = urllib.parse.urlsplit(target)

        class Handler(server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn = httpclient.HTTPConnection(up.hostname, up.port,
                                                 timeout=30)
                try:
                    conn.request(self.command, self.path, body, headers)
                    r = conn.getresponse()
                    data = r.read()
                finally:
                    conn.close()
                self.send_response(r.status, r.reason)
                for k, v in r.getheaders():
                    if k.lower() in ("content-length", "connection",
                                     "transfer-encoding"):
                        continue
                    if (k.lower() == "location" and r.status == 201 and
                            rptest.CHECKPOINT_PREFIX not in self.path):
                        v = location
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = forward

        self.server = server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        test.addCleanup(self.server.server_close)
        test.addCleanup(self.server.shutdown)


USER = "repl-user"
PASSWORD = "s3cret-Pa55word"


class FailureTest(rptest.TestCase):
    def setUp(self):
        rptest.require(self, "esdb-emu", "import", "dry-run", "run")
        self.rng = random.Random(self.id())

    def prepare(self, count, records=None):
        self.dir, self.store, self.script = rptest.setup_store(
            self, self.rng, count)
        if records:
            rptest.import_records(self.store, records)
        self.checkpoint = os.path.join(self.dir, "replicator.checkpoint")

    def args(self, url, extra=()):
        return ["run", "--script", self.script, "--store", self.store,
                "--target", url, "--checkpoint", self.checkpoint,
                "--poll-ms", "50", "--until-caught-up"] + list(extra)

    def expected(self):
        return rptest.dry_run(self.script, self.store)

    def assertPrefixes(self, want, have):
        """Each target stream holds the first events of its dry-run list,
        in order, once: a stop may leave work undone, never wrong."""
        exp = rptest.by_stream(want, lambda e: (e["storeVersion"], e["index"]))
        act = rptest.by_stream(have, lambda e: e["eventNumber"])
        for stream, events in act.items():
            ids = [e["eventId"].lower() for e in events]
            wanted = [e["eventId"].lower() for e in exp.get(stream, [])]
            self.assertEqual(ids, wanted[:len(ids)],
                             "stream %s is not a prefix of the dry-run" % stream)

    def assertStop(self, p, *words):
        """Exit 1 and every word (case-insensitive) on stderr."""
        self.assertEqual(p.returncode, 1, p.stderr)
        low = p.stderr.lower()
        for w in words:
            self.assertIn(str(w).lower(), low, "%r missing from stderr" % w)

    def first_event_of(self, want, stream):
        return [e for e in want if e["stream"] == stream][0]

    def test_failure_target_unreachable_then_up(self):
        """No target at start: report the outage once, keep trying, and
        finish once the target comes up."""
        self.prepare(30)
        port = rptest.free_port()
        url = "http://127.0.0.1:%d" % port
        p = rptest.start_replicator(self, self.args(url), cwd=self.dir)
        time.sleep(2.0)
        self.assertTrue(p.alive(), "run gave up: " + p.stderr())
        during = p.stderr()
        problems = [l for l in during.splitlines()
                    if re.search(r"replicator: (warn|error)", l)]
        self.assertEqual(len(problems), 1,
                         "the outage should be reported once:\n" + during)
        self.assertIn("127.0.0.1:%d" % port, problems[0])
        emu = rptest.Emulator(self, port=port)
        self.assertEqual(p.wait(60), 0, p.stderr())
        after = p.stderr()[len(during):]
        self.assertRegex(after.lower(), r"again|recover|back|reachable",
                         "the end of the outage is not logged")
        self.assertEqual(
            len([l for l in after.splitlines()
                 if re.search(r"replicator: (warn|error)", l)]), 0, after)
        self.assertSameEvents(self.expected(), emu.dump())

    def test_failure_outage_midway_reported_once(self):
        """The target goes away for two seconds with many requests in
        flight: one warning for the outage, one line for its end."""
        self.prepare(150)
        d = rptest.tempdir(self)
        emu = rptest.Emulator(self, "--latency-ms", "40",
                              data=os.path.join(d, "target.data"))
        want = self.expected()
        p = rptest.start_replicator(self, self.args(
            emu.url, ["--batch-events", "1", "--max-in-flight", "16"]),
            cwd=self.dir)
        rptest.wait_for(lambda: emu.stats()["events"] >= 30, 60,
                        what="30 events in the target")
        self.assertLess(len(emu.dump()), len(want),
                        "the outage came too late to test")
        before = p.stderr()
        emu.stop()
        time.sleep(2.0)
        self.assertTrue(p.alive(), p.stderr())
        if not emu.restart(same_port=True):
            self.skipTest("the emulator's port was taken meanwhile")
        self.assertEqual(p.wait(60), 0, p.stderr())
        during = p.stderr()[len(before):]
        warns = [l for l in during.splitlines()
                 if re.search(r"replicator: (warn|error)", l)]
        self.assertEqual(len(warns), 1, "one warning per outage:\n" + during)
        self.assertRegex(during.lower(), r"again|recover|back|reachable")
        self.assertSameEvents(want, emu.dump())

    def test_failure_wrong_credentials(self):
        self.prepare(10)
        emu = rptest.Emulator(self, "--auth", USER + ":" + PASSWORD)
        env = {"REPLICATOR_USER": USER, "REPLICATOR_PASSWORD": "wrong-" + PASSWORD}
        p = rptest.run(self.args(emu.url, ["--log-level", "debug"]),
                       env=env, cwd=self.dir)
        self.assertStop(p, "401", "unauthorized")
        self.assertRegex(p.stderr, r"stream '[^']+'")
        self.assertNotIn(PASSWORD, p.stderr)
        self.assertEqual(emu.dump(), [])
        # No credentials at all: the same clear stop.
        p = rptest.run(self.args(emu.url), cwd=self.dir,
                       env={"REPLICATOR_USER": "", "REPLICATOR_PASSWORD": ""})
        self.assertStop(p, "401")
        self.assertEqual(emu.dump(), [])

    def test_failure_credentials_never_in_argv_or_logs(self):
        self.prepare(40)
        emu = rptest.Emulator(self, "--auth", USER + ":" + PASSWORD,
                              "--latency-ms", "20")
        env = {"REPLICATOR_USER": USER, "REPLICATOR_PASSWORD": PASSWORD}
        p = rptest.start_replicator(self, self.args(
            emu.url, ["--log-level", "debug", "--max-in-flight", "1",
                      "--batch-events", "1"]), env=env, cwd=self.dir)
        rptest.wait_for(lambda: emu.stats()["events"] > 0, 30,
                        what="a first event")
        with open("/proc/%d/cmdline" % p.pid, "rb") as f:
            self.assertNotIn(PASSWORD.encode(), f.read())
        self.assertEqual(p.wait(60), 0, p.stderr())
        token = base64.b64encode((USER + ":" + PASSWORD).encode()).decode()
        for secret in (PASSWORD, token):
            self.assertNotIn(secret, p.stderr())
            self.assertNotIn(secret, p.stdout())
        self.assertSameEvents(self.expected(), emu.dump())
        # Credentials in the URL are refused without being echoed.
        q = rptest.run(self.args(emu.url.replace(
            "http://", "http://%s:%s@" % (USER, PASSWORD))), cwd=self.dir)
        self.assertEqual(q.returncode, 2, q.stderr)
        self.assertIn("REPLICATOR_PASSWORD", q.stderr)
        self.assertNotIn(PASSWORD, q.stderr + q.stdout)
        # The same from a credentials file.
        path = rptest.write_file(os.path.join(self.dir, "creds"),
                                 USER + ":" + PASSWORD + "\n")
        os.chmod(path, 0o600)
        rptest.import_records(self.store, rptest.workload(self.rng, 5, 41))
        q = rptest.run(self.args(emu.url, ["--credentials", path,
                                           "--log-level", "debug"]),
                       cwd=self.dir, env={"REPLICATOR_USER": "",
                                          "REPLICATOR_PASSWORD": ""})
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertNotIn(PASSWORD, q.stderr + q.stdout)
        self.assertSameEvents(self.expected(), emu.dump())

    def test_failure_atompub_disabled(self):
        self.prepare(10)
        emu = rptest.Emulator(self, "--no-atompub")
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(p, "404", "atompub")
        self.assertIn("enable", p.stderr.lower(), "no hint how to enable it")
        self.assertEqual(emu.dump(), [])
        # Switched on: the same run goes through.
        emu.switches(atompub=True)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameEvents(self.expected(), emu.dump())

    def test_failure_hard_deleted_stream(self):
        self.prepare(30)
        want = self.expected()
        victim = "customer-3"
        first = self.first_event_of(want, victim)
        emu = rptest.Emulator(self)
        status, _, _ = rptest.http(
            "DELETE", emu.url + "/streams/" + victim,
            headers={"ES-HardDelete": "true", "ES-ExpectedVersion": "-2"})
        self.assertIn(status, (204, 410))
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(p, victim, "410")
        self.assertIn(str(first["storeVersion"]), p.stderr)
        have = emu.dump()
        self.assertNotIn(victim, {e["stream"] for e in have})
        self.assertPrefixes(want, have)
        # Running again stops at the same place and writes nothing twice.
        q = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(q, victim, "410")
        self.assertPrefixes(want, emu.dump())

    def test_failure_event_too_large(self):
        """One event over the 4 MiB limit: a stop naming it, nothing after
        it in its stream, nothing lost before it."""
        big = rptest.pretty_body({"Id": 999, "Blob": "x" * (4 * 1024 * 1024 + 10)})
        records = [rptest.record("customer:2", rptest.message_set(
            [("Lokad.SaaS/CustomerRenamed", big)]))]
        self.prepare(20, records)
        rptest.import_records(self.store, rptest.workload(self.rng, 10, 22))
        # dry-run refuses record 21 as run does: compare with what comes
        # before it.
        want = rptest.dry_run(self.script, self.store, ["--count", "20"])
        emu = rptest.Emulator(self)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(p, "customer:2", "customer-2", "21")
        self.assertRegex(p.stderr.lower(), r"413|too large|limit")
        have = emu.dump()
        self.assertPrefixes(want, have)
        after = [e for e in have
                 if json.loads(e["metadata"])["replicatedFrom"]["storeVersion"]
                 >= 21]
        self.assertEqual(after, [], "events of the refused record or after")
        have_ids = {e["eventId"].lower() for e in have}
        self.assertTrue(all(e["eventId"].lower() in have_ids for e in want),
                        "events before the refused record are missing")
        # With the script fixed (the blob replaced by its size), the run
        # goes on from the refused record, numbered as the store numbers it.
        self.script = rptest.write_file(
            os.path.join(self.dir, "fixed.lua"), rptest.SCRIPT.replace(
                "data = cjson.decode(m.body),",
                "data = (function(d) if d.Blob then d.Blob = #d.Blob end "
                "return d end)(cjson.decode(m.body)),"))
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameEvents(self.expected(), emu.dump())

    def server_too_large(self, write_on_413):
        """An event under the local limit as sent, over the server's once
        the server has re-indented it: the server's 413 stops the run."""
        wide = {"k%07d" % i: 1 for i in range(300000)}
        records = [rptest.record("customer:2", rptest.message_set(
            [("Lokad.SaaS/CustomerRenamed", json.dumps(wide))]))]
        self.prepare(20, records)
        rptest.import_records(self.store, rptest.workload(self.rng, 10, 22))
        want = self.expected()
        bad = [e for e in want if e["storeVersion"] == 21]
        self.assertEqual(len(bad), 1)
        emu = rptest.Emulator(self)
        emu.switches(write_on_413=write_on_413)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(p, "customer:2", "customer-2", "21", "413")
        self.assertIn("too large", p.stderr.lower())
        have = emu.dump()
        self.assertPrefixes(want, have)
        before = {e["eventId"].lower() for e in want if e["storeVersion"] < 21}
        self.assertTrue(before <= {e["eventId"].lower() for e in have},
                        "events before the refused record are missing")
        return emu, want, bad[0]

    def test_failure_event_too_large_for_server(self):
        emu, want, bad = self.server_too_large(False)
        self.assertNotIn(bad["eventId"].lower(),
                         {e["eventId"].lower() for e in emu.dump()})

    def test_failure_event_too_large_written_anyway(self):
        """A server that writes the batch it answers 413 to (spec 4.4): a
        second run must not write the event again."""
        emu, want, bad = self.server_too_large(True)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        have = emu.dump()
        self.assertPrefixes(want, have)
        if p.returncode == 0:
            self.assertSameEvents(want, have)
        else:
            self.assertStop(p, "customer-2")

    def test_failure_stream_written_by_someone_else(self):
        self.prepare(30)
        want = self.expected()
        victim = "customer-1"
        self.assertIn(victim, {e["stream"] for e in want})
        emu = rptest.Emulator(self)
        foreign = {"eventId": "0f3e4a52-5a8c-4d0e-9b7e-1c2d3e4f5a6b",
                   "eventType": "SomethingElse", "data": {"by": "another app"}}
        self.assertEqual(emu.append(victim, [foreign]), 201)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(p, victim)
        self.assertRegex(p.stderr.lower(), r"conflict|foreign|someone|another")
        have = emu.dump()
        mine = [e for e in have if e["stream"] == victim]
        self.assertEqual([e["eventId"] for e in mine], [foreign["eventId"]])
        others = [e for e in have if e["stream"] != victim]
        self.assertPrefixes(want, others)

    def test_failure_damaged_checkpoint(self):
        """A damaged local checkpoint stops the run naming the file; once
        it is removed the run resumes from the target, writing nothing
        twice."""
        self.prepare(30)
        emu = rptest.Emulator(self)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        rptest.import_records(self.store, rptest.workload(self.rng, 10, 31))
        with open(self.checkpoint, "r+b") as f:
            f.seek(5)
            f.write(b"\x00garbage\x00")
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertStop(p, self.checkpoint)
        self.assertRegex(p.stderr.lower(), r"damaged|corrupt|invalid|line")
        os.remove(self.checkpoint)
        p = rptest.run(self.args(emu.url), cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameEvents(self.expected(), emu.dump())

    def tail_then(self, damage):
        self.prepare(30)
        emu = rptest.Emulator(self)
        args = self.args(emu.url)
        args.remove("--until-caught-up")
        p = rptest.start_replicator(self, args, cwd=self.dir)
        want = self.expected()
        rptest.wait_for(lambda: len(emu.dump()) >= len(want), 60,
                        what="the first events")
        files = sorted(f for f in os.listdir(self.store) if f.endswith(".dat"))
        path = os.path.join(self.store, files[-1])
        damage(path)
        status = p.wait(30)
        self.assertEqual(status, 1, p.stderr())
        self.assertIn(files[-1], p.stderr())
        self.assertSameEvents(want, emu.dump())
        return p

    def test_failure_store_file_shrinks(self):
        def shrink(path):
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        p = self.tail_then(shrink)
        self.assertRegex(p.stderr().lower(), r"shr|truncat|smaller|size")

    def test_failure_store_file_vanishes(self):
        p = self.tail_then(os.remove)
        self.assertRegex(p.stderr().lower(),
                         r"vanish|no such file|missing|removed|deleted|gone")

    def test_failure_cluster_node_that_never_answers(self):
        """A cluster node that takes connections and never answers holds
        neither the run nor a stop signal for a whole request timeout
        (30 s here): /gossip gets 2 s a node."""
        import socket
        self.prepare(10)
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        emu = rptest.Emulator(self)
        targets = "http://127.0.0.1:%d,%s" % (silent.getsockname()[1],
                                              emu.url)
        p = rptest.start_replicator(self, self.args(targets), cwd=self.dir)
        time.sleep(0.5)
        asked = time.monotonic()
        self.assertEqual(p.stop(signal.SIGTERM, 60), 0, p.stderr())
        self.assertLess(time.monotonic() - asked, 10,
                        "the stop waited for the silent node")
        q = rptest.run(self.args(targets), cwd=self.dir, timeout=60)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertSameEvents(self.expected(), emu.dump())

    def test_failure_location_out_of_range(self):
        """A 201 whose Location names an event number out of range is a
        malformed answer: the run stops naming it, never "caught up"."""
        self.prepare(10)
        emu = rptest.Emulator(self)
        bad = "/streams/x/9223372036854775807"
        proxy = LocationProxy(self, emu.url, emu.url + bad)
        p = rptest.run(self.args(proxy.url), cwd=self.dir)
        self.assertStop(p, bad, "out of range")
        self.assertNotIn("caught up", p.stderr)

    def test_failure_stop_signal_while_failing(self):
        """SIGTERM during an outage: exit 0, nothing half-done."""
        self.prepare(10)
        url = "http://127.0.0.1:%d" % rptest.free_port()
        p = rptest.start_replicator(self, self.args(url), cwd=self.dir)
        time.sleep(1.0)
        self.assertEqual(p.stop(signal.SIGTERM, 30), 0, p.stderr())
