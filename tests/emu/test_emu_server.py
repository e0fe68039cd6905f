"""Checks of bin/esdb-emu by its author: the HTTP plumbing (keep-alive,
pipelining, bad framing, 100-continue, oversized bodies, request timeout),
the parallel latency, the log file and its torn tail, the faults, the
cluster routing and a few API rules.  Standard library only."""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from http import client as httpclient

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("RP_SRC_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("RP_BIN_DIR") or os.path.join(SRC, "bin")
EMU = os.path.join(BIN, "esdb-emu")
SLOW = 3.0 if os.environ.get("RP_SANITIZE") == "1" else 1.0
EVENTS = "application/vnd.eventstore.events+json"
ATOM = "application/vnd.eventstore.atom+json"
ADMIN = "Basic " + base64.b64encode(b"admin:changeit").decode()


class Emu:
    """One emulator process, stopped at the test's cleanup."""

    def __init__(self, test, *args, data=None, port=0, preexec=None):
        argv = [EMU, "--port", str(port)] + list(args)
        if data:
            argv += ["--data", data]
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=self.err, preexec_fn=preexec)
        test.addCleanup(self.close_log)
        test.addCleanup(self.stop)
        line = self.proc.stdout.readline().decode()
        if not line:
            self.err.seek(0)
            raise AssertionError("esdb-emu did not start: %s" %
                                 self.err.read().decode())
        self.urls = line.split()
        self.ports = [int(u.rsplit(":", 1)[1]) for u in self.urls]
        self.port = self.ports[0]

    def stop(self, sig=None):
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode

    def close_log(self):
        text = self.stderr()
        self.err.close()
        for bad in ("Sanitizer", "runtime error:"):
            if bad in text:
                raise AssertionError("esdb-emu: " + text[-3000:])

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode()

    def req(self, method, path, body=None, headers=None, node=0, timeout=30):
        conn = httpclient.HTTPConnection("127.0.0.1", self.ports[node],
                                         timeout=timeout * SLOW)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def post(self, stream, events, expected=None, node=0, extra=None):
        h = {"Content-Type": EVENTS, "Authorization": ADMIN}
        if expected is not None:
            h["ES-ExpectedVersion"] = str(expected)
        h.update(extra or {})
        return self.req("POST", "/streams/" + stream, events, h, node=node)

    def control(self, method, what, body=None):
        s, _, _, data = self.req(method, "/_emu/" + what, body)
        assert s == 200, (what, s, data)
        return data

    def dump(self):
        text = self.control("GET", "dump").decode()
        return [json.loads(l) for l in text.splitlines() if l]


def ev(i=None, data=None, typ="T"):
    return {"eventId": str(i or uuid.uuid4()), "eventType": typ,
            "data": data if data is not None else {"n": 1}}


def raw_exchange(port, payload, timeout=5):
    """Sends raw bytes; returns everything read until the server closes or
    the timeout passes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(payload)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


class TestEmuServer(unittest.TestCase):
    def test_emu_server_ready_line_and_sigterm(self):
        e = Emu(self)
        self.assertRegex(e.urls[0], r"^http://127\.0\.0\.1:\d+$")
        self.assertEqual(e.stop(), 0)

    def test_emu_server_append_and_exact_e_idempotency(self):
        e = Emu(self)
        a, b, c = ev(), ev(), ev()
        s, _, h, _ = e.post("s-1", [a, b, c], expected=-1)
        self.assertEqual(s, 201)
        self.assertTrue(h["location"].endswith("/streams/s-1/0"))
        s, _, h, _ = e.post("s-1", [b, c], expected=0)
        self.assertEqual((s, h["location"].rsplit("/", 1)[1]), (201, "1"))
        s, _, h, _ = e.post("s-1", [b, c, ev()], expected=0)
        self.assertEqual((s, h.get("es-currentversion")), (400, "2"))
        s, _, h, _ = e.post("s-1", [ev()], expected=7)
        self.assertEqual((s, h.get("es-currentversion")), (400, "2"))
        s, _, h, _ = e.post("s-1", [b], expected=2)
        self.assertEqual(s, 201)
        self.assertEqual([d["eventNumber"] for d in e.dump()], [0, 1, 2, 3])

    def test_emu_server_any_cache_per_stream_and_clear(self):
        e = Emu(self)
        a = ev()
        self.assertEqual(e.post("x", [a])[0], 201)
        s, _, h, _ = e.post("x", [a])
        self.assertEqual(s, 201)
        self.assertEqual(len(e.dump()), 1)
        self.assertEqual(e.post("y", [a])[0], 201)  # another stream
        self.assertEqual(e.post("x", [a, ev()])[0], 400)  # corrupted
        e.control("POST", "clear-idempotency-cache", {})
        self.assertEqual(e.post("x", [a])[0], 201)
        self.assertEqual([d["stream"] for d in e.dump()], ["x", "x", "y"])
        only = e.control("GET", "dump?stream=y").decode().splitlines()
        self.assertEqual([json.loads(l)["stream"] for l in only], ["y"])

    def test_emu_server_keepalive_pipelining_and_continue(self):
        e = Emu(self)
        body = json.dumps([ev()]).encode()
        one = (b"POST /streams/p HTTP/1.1\r\nHost: h:1\r\nContent-Type: " +
               EVENTS.encode() + b"\r\nContent-Length: %d\r\n"
               b"Authorization: " % len(body) + ADMIN.encode() + b"\r\n\r\n" +
               body)
        out = raw_exchange(e.port, one + one + b"GET /ping HTTP/1.1\r\n"
                           b"Connection: close\r\n\r\n")
        self.assertEqual(out.count(b"HTTP/1.1 201"), 2, out)
        self.assertIn(b"Location: http://h:1/streams/p/0", out)
        self.assertIn(b"Ping request", out)
        s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
        s.sendall(b"POST /streams/q HTTP/1.1\r\nExpect: 100-continue\r\n"
                  b"Content-Type: " + EVENTS.encode() +
                  b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100 Continue"))
        s.sendall(body)
        self.assertIn(b"201", s.recv(1000))
        s.close()

    def test_emu_server_bad_framing(self):
        e = Emu(self)
        for bad in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                    b"GET /ping HTTP/1.1\r\nNo colon here\r\n\r\n",
                    b"POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                    b"POST /x HTTP/1.1\r\nContent-Length: 1\r\n"
                    b"Content-Length: 2\r\n\r\nab"):
            out = raw_exchange(e.port, bad)
            self.assertTrue(out.startswith(b"HTTP/1.1 400"), (bad, out))
        for n in (b"30000001", b"99999999999999999999999"):
            out = raw_exchange(e.port, b"POST /streams/x HTTP/1.1\r\n"
                               b"Content-Length: " + n + b"\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 413"), out)
        # Chunked bodies are decoded.
        body = json.dumps([ev()]).encode()
        out = raw_exchange(e.port, b"POST /streams/ch HTTP/1.1\r\n"
                           b"Transfer-Encoding: chunked\r\nContent-Type: " +
                           EVENTS.encode() + b"\r\nConnection: close\r\n\r\n" +
                           b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 201"), out)
        self.assertEqual(e.req("GET", "/ping")[0], 200)

    def test_emu_server_half_sent_request_gets_408(self):
        e = Emu(self, "--request-timeout-ms", "300")
        t0 = time.monotonic()
        out = raw_exchange(e.port, b"POST /streams/x HTTP/1.1\r\n"
                           b"Content-Length: 10\r\n\r\nabc", timeout=10)
        self.assertTrue(out.startswith(b"HTTP/1.1 408"), out)
        self.assertLess(time.monotonic() - t0, 8 * SLOW)

    def test_emu_server_latency_is_parallel(self):
        e = Emu(self, "--latency-ms", "300")
        results = []

        def one():
            t = time.monotonic()
            results.append((e.req("GET", "/ping")[0], time.monotonic() - t))
        threads = [threading.Thread(target=one) for _ in range(32)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.monotonic() - t0
        self.assertEqual([r[0] for r in results], [200] * 32)
        self.assertGreaterEqual(min(r[1] for r in results), 0.29)
        self.assertLess(total, 32 * 0.3 / 2)  # far from serialised

    def test_emu_server_faults_on_demand(self):
        e = Emu(self, "--write-timeout-ms", "200")
        a, b = ev(), ev()
        e.control("POST", "faults", {"kind": "timeout-committed"})
        s, reason, _, _ = e.post("f", [a], expected=-1)
        self.assertEqual((s, reason), (500, "Write timeout"))
        s, _, h, _ = e.post("f", [a], expected=-1)
        self.assertEqual(s, 201)
        e.control("POST", "faults", {"kind": "timeout-uncommitted"})
        self.assertEqual(e.post("f", [b], expected=0)[0], 500)
        self.assertEqual(len(e.dump()), 1)
        e.control("POST", "faults", {"kind": "not-ready", "stream": "other"})
        self.assertEqual(e.post("f", [b], expected=0)[0], 201)
        self.assertEqual(e.post("other", [ev()])[1], "Server Is Not Ready")
        e.control("POST", "faults", {"kind": "drop-after-commit"})
        with self.assertRaises((httpclient.HTTPException, OSError)):
            e.post("g", [a], expected=-1)
        self.assertEqual(e.post("g", [a], expected=-1)[0], 201)
        e.control("POST", "faults", {"kind": "drop-before-commit"})
        with self.assertRaises((httpclient.HTTPException, OSError)):
            e.post("h", [a], expected=-1)
        self.assertEqual([d["stream"] for d in e.dump()], ["f", "f", "g"])
        e.control("POST", "faults", {"kind": "idempotent-not-ready"})
        self.assertEqual(e.post("h", [a], expected=-1)[0], 201)  # not a repeat
        self.assertEqual(e.post("h", [a], expected=-1)[0], 500)
        self.assertEqual(e.post("h", [a], expected=-1)[0], 201)
        e.control("POST", "faults", {"kind": "slow", "ms": 300})
        t = time.monotonic()
        self.assertEqual(e.post("h", [b], expected=0)[0], 201)
        self.assertGreaterEqual(time.monotonic() - t, 0.29)
        stats = json.loads(e.control("GET", "stats"))
        self.assertEqual(stats["events"], 5)
        self.assertEqual(stats["streams"], 3)

    def test_emu_server_random_faults_are_reproducible(self):
        def statuses():
            e = Emu(self, "--fault-rate", "0.5", "--seed", "42",
                    "--fault-kinds", "not-ready,timeout-uncommitted",
                    "--write-timeout-ms", "1")
            out = [e.post("r", [ev()])[0] for _ in range(30)]
            e.stop()
            return out
        first = statuses()
        self.assertIn(503, first)
        self.assertIn(201, first)
        self.assertEqual(first, statuses())

    def test_emu_server_data_file_restart_and_torn_tail(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "log")
        e = Emu(self, data=path)
        a, b = ev(), ev()
        self.assertEqual(e.post("d", [a, b], expected=-1)[0], 201)
        raw = {"Content-Type": "application/octet-stream",
               "ES-EventType": "bin", "ES-EventId": str(uuid.uuid4()),
               "Authorization": ADMIN}
        self.assertEqual(e.req("POST", "/streams/bin", b"\xff\x00\x01",
                               raw)[0], 201)
        before = e.dump()
        e.stop()
        with open(path, "ab") as f:
            f.write(b'{"op":"append","stream":"d","ev')
        e = Emu(self, data=path)
        self.assertIn("torn", e.stderr())
        self.assertEqual(e.dump(), before)
        self.assertEqual(before[0]["dataBase64"], "/wAB")
        # Exact-E repeats survive the restart; -2 repeats do not.
        self.assertEqual(e.post("d", [a, b], expected=-1)[0], 201)
        self.assertEqual(e.post("d", [b])[0], 201)
        self.assertEqual(len(e.dump()), 4)
        e.stop()
        e = Emu(self, data=path)
        self.assertEqual(len(e.dump()), 4)

    def test_emu_server_cluster(self):
        e = Emu(self, "--cluster", "3")
        self.assertEqual(len(e.urls), 3)
        s, _, _, data = e.req("GET", "/gossip", node=1)
        members = json.loads(data)["members"]
        self.assertEqual([m["state"] for m in members],
                         ["Leader", "Follower", "Follower"])
        self.assertEqual(members[2]["httpEndPointPort"], e.ports[2])
        s, _, h, _ = e.post("c", [ev()], node=1,
                            extra={"ES-RequireLeader": "True"})
        self.assertEqual(s, 307)
        self.assertEqual(h["location"], e.urls[0] + "/streams/c")
        self.assertEqual(e.post("c", [ev()], node=1)[0], 201)
        e.control("POST", "leader", {"node": None})
        self.assertEqual(e.post("c", [ev()])[1], "Server Is Not Ready")
        e.control("POST", "leader", {"node": 2})
        self.assertEqual(e.post("c", [ev()], node=2)[0], 201)
        v5 = Emu(self, "--cluster", "2", "--profile", "v5")
        members = json.loads(v5.req("GET", "/gossip")[3])["members"]
        self.assertEqual(members[1]["state"], "Slave")
        self.assertEqual(members[1]["externalHttpPort"], v5.ports[1])
        self.assertEqual(v5.post("c", [ev()], node=1,
                                 extra={"ES-RequireMaster": "true"})[0], 307)

    def test_emu_server_reads_round_trip(self):
        e = Emu(self, "--profile", "v23")
        blob = bytes(range(256))
        h = {"Content-Type": "application/octet-stream", "ES-EventType": "b",
             "ES-EventId": str(uuid.uuid4()), "Authorization": ADMIN}
        self.assertEqual(e.req("POST", "/streams/rt", blob, h)[0], 201)
        evs = [ev(data={"i": i}) for i in range(25)]
        self.assertEqual(e.post("rt", evs)[0], 201)
        s, _, _, data = e.req("GET", "/streams/rt/0", headers={
            "Accept": "application/octet-stream", "Authorization": ADMIN})
        self.assertEqual((s, data), (200, blob))
        self.assertEqual(e.req("GET", "/streams/rt", headers={
            "Authorization": ADMIN})[0], 406)
        s, _, _, data = e.req("GET", "/streams/rt/1/forward/10?embed=body",
                              headers={"Accept": ATOM,
                                       "Authorization": ADMIN})
        feed = json.loads(data)
        self.assertEqual([x["eventNumber"] for x in feed["entries"]],
                         list(range(10, 0, -1)))
        self.assertEqual(json.loads(feed["entries"][0]["data"]), {"i": 9})
        self.assertIn("metaData", feed["entries"][0])
        self.assertIsNone(feed["entries"][0]["metaData"])
        self.assertEqual(e.req("GET", "/streams/rt", headers={
            "Accept": ATOM})[0], 401)  # v23: no anonymous access



class TestEmuProfiles(unittest.TestCase):
    def test_emu_server_bad_request_text_by_profile(self):
        for prof, in_body in (("v5", False), ("v20", False), ("v23", True),
                              ("v25", True)):
            e = Emu(self, "--profile", prof)
            s, reason, _, data = e.post("b", "not json")
            self.assertEqual(s, 400)
            msg = "Write request body invalid."
            if in_body:
                self.assertEqual((reason, data.decode()), ("Bad Request", msg))
            else:
                self.assertEqual((reason, data), (msg, b""))
            e.stop()

    def test_emu_server_kurrent_names_in_v25(self):
        e = Emu(self, "--profile", "v25")
        h = {"Content-Type": "application/vnd.kurrent.events+json",
             "kurrent-expectedversion": "3", "Authorization": ADMIN}
        s, _, hd, _ = e.req("POST", "/streams/k", json.dumps([ev()]), h)
        self.assertEqual(s, 400)
        self.assertEqual(hd["kurrent-currentversion"], "-1")
        self.assertEqual(hd["es-currentversion"], "-1")
        s, _, _, data = e.req("POST", "/streams/k", "x", {
            "Content-Type": "application/json", "Authorization": ADMIN})
        self.assertIn(b"Kurrent-EventType", data)
        self.assertEqual(e.post("k", [ev()], extra={
            "Kurrent-RequireLeader": "TRUE"})[0], 201)
        feed = json.loads(e.req("GET", "/streams/k", headers={
            "Accept": "application/vnd.kurrent.atom+json",
            "Authorization": ADMIN})[3])
        self.assertEqual(feed["author"]["name"], "Kurrent")

    def test_emu_server_atompub_switch_and_info(self):
        e = Emu(self, "--no-atompub")
        self.assertEqual(e.post("a", [ev()])[0], 404)
        info = json.loads(e.req("GET", "/info")[3])
        self.assertIs(info["features"]["atomPub"], False)
        e.control("POST", "switches", {"atompub": True})
        self.assertEqual(e.post("a", [ev()])[0], 201)
        info = json.loads(e.req("GET", "/info")[3])
        self.assertIs(info["features"]["atomPub"], True)

    def test_emu_server_413_and_write_on_413(self):
        e = Emu(self)
        big = "x" * (4 * 1024 * 1024 + 1)
        s, reason, _, _ = e.post("big", [ev(data=big)])
        self.assertEqual(s, 413)
        self.assertIn("Too large events", reason)
        self.assertEqual(e.dump(), [])
        e.control("POST", "switches", {"write_on_413": True})
        self.assertEqual(e.post("big", [ev(data=big)])[0], 413)
        self.assertEqual(len(e.dump()), 1)

    def test_emu_server_deletes_links_and_slash(self):
        e = Emu(self, "--profile", "v5")
        a = ev()
        self.assertEqual(e.post("t", [a, ev()])[0], 201)
        self.assertEqual(e.post("l", [ev(data="1@t", typ="$>")])[0], 201)
        get = {"Accept": ATOM}
        feed = json.loads(e.req("GET", "/streams/l?embed=body",
                                headers=get)[3])
        x = feed["entries"][0]
        self.assertEqual((x["streamId"], x["eventNumber"]), ("t", 1))
        self.assertEqual((x["positionStreamId"], x["positionEventNumber"]),
                         ("l", 0))
        self.assertNotIn("metaData", x)  # v5 omits nulls
        raw = dict(get, **{"ES-ResolveLinkTos": "False"})
        x = json.loads(e.req("GET", "/streams/l?embed=tryharder",
                             headers=raw)[3])["entries"][0]
        self.assertEqual((x["eventType"], x["data"]), ("$>", "1@t"))
        s, _, h, _ = e.req("POST", "/streams/t/", "[]")
        self.assertEqual(s, 307)
        self.assertTrue(h["location"].endswith("/streams/t"))
        self.assertEqual(e.req("DELETE", "/streams/t")[0], 204)
        self.assertEqual(e.req("GET", "/streams/t", headers=get)[0], 404)
        self.assertEqual(e.post("t", [ev()], expected=-4)[0], 410)
        s, _, h, _ = e.post("t", [ev()], expected=-1)
        self.assertEqual((s, h["location"].rsplit("/", 1)[1]), (201, "2"))
        feed = json.loads(e.req("GET", "/streams/t", headers=get)[3])
        self.assertEqual([x["title"] for x in feed["entries"]], ["2@t"])
        self.assertEqual(e.req("DELETE", "/streams/t",
                               headers={"ES-HardDelete": "true"})[0], 204)
        self.assertEqual(e.req("GET", "/streams/t", headers=get)[0], 410)
        self.assertEqual(e.post("t", [ev()])[0], 410)


class TestEmuHalfClose(unittest.TestCase):
    def test_emu_server_answers_a_half_closed_request(self):
        e = Emu(self)
        s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
        s.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out)


class TestEmuLongPoll(unittest.TestCase):
    def test_emu_server_long_poll_wakes_on_write(self):
        e = Emu(self, "--request-timeout-ms", "500")
        self.assertEqual(e.post("lp", [ev()])[0], 201)
        got = []

        def poll(secs, first=1):
            t = time.monotonic()
            s, _, _, data = e.req("GET", "/streams/lp/%d/forward/20?embed=body"
                                  % first,
                                  headers={"Accept": ATOM,
                                           "ES-LongPoll": str(secs)})
            got.append((s, json.loads(data), time.monotonic() - t))
        th = threading.Thread(target=poll, args=(10,))
        th.start()
        time.sleep(0.3)
        self.assertEqual(e.post("other", [ev()])[0], 201)  # still waiting
        time.sleep(0.2)
        self.assertEqual(got, [])
        self.assertEqual(e.post("lp", [ev(data={"n": 2})])[0], 201)
        th.join(10)
        status, feed, took = got[0]
        self.assertEqual(status, 200)
        self.assertEqual([x["eventNumber"] for x in feed["entries"]], [1])
        self.assertLess(took, 5)
        # No write: an empty page once the poll time is over, not a 408.
        poll(1, 2)
        status, feed, took = got[1]
        self.assertEqual((status, feed["entries"]), (200, []))
        self.assertGreaterEqual(took, 0.9)


class TestEmuDescriptors(unittest.TestCase):
    def test_emu_server_out_of_descriptors(self):
        import resource

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        if os.environ.get("RP_SANITIZE") == "1":
            self.skipTest("the sanitizer runtime needs descriptors of its own")
        e = Emu(self, preexec=limit)
        socks = [socket.create_connection(("127.0.0.1", e.port), timeout=5)
                 for _ in range(100)]
        time.sleep(0.3)
        with open("/proc/%d/stat" % e.proc.pid) as f:
            before = sum(int(x) for x in f.read().split()[13:15])
        time.sleep(0.5)
        with open("/proc/%d/stat" % e.proc.pid) as f:
            after = sum(int(x) for x in f.read().split()[13:15])
        self.assertLess(after - before, 20)  # ticks: not spinning
        for s in socks:
            s.close()
        time.sleep(0.3)
        self.assertEqual(e.req("GET", "/ping")[0], 200)


if __name__ == "__main__":
    unittest.main()
