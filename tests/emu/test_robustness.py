"""esdb-emu under bad input: huge bodies, malformed requests and headers,
half-sent requests, idle connections; the trailing-slash redirect
(behaviour 45), routing errors, keep-alive, signals."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import socket
import threading
import time
import unittest

from emuclient import (EVENTS_JSON, Emu, EmuTestCase, basic, emu_path, ev,
                       fresh,
                       quote, read_raw_response)

REQUEST_TIMEOUT = 1.0


class Robustness(EmuTestCase):
    """One emulator per test: these tests try to break it, and stop()
    checks it still exits 0 without a sanitizer report."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.emu = self.start_emu(["--profile", "v20"])

    def still_serving(self):
        s = fresh()
        r = self.emu.append(s, [ev()])
        self.assertCreated(r, self.emu, s, 0)

    def head(self, method, path, extra=b"", length=None):
        host, port = self.emu.hostport()
        h = ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s\r\n"
             % (method, path, host, port, basic("admin", "changeit")))
        if length is not None:
            h += "Content-Length: %d\r\n" % length
        return h.encode() + extra

    def exchange(self, data, timeout=6.0):
        """Sends raw bytes; returns (status or None, response bytes,
        seconds until the answer or the close)."""
        sock = self.emu.raw_socket(timeout=timeout)
        t0 = time.monotonic()
        try:
            sock.sendall(data)
            try:
                status, resp = read_raw_response(sock)
            except socket.timeout:
                self.fail("no answer and no close within %gs to %r"
                          % (timeout, data[:120]))
        finally:
            sock.close()
        return status, resp, time.monotonic() - t0

    # -- huge and half-sent bodies -------------------------------------

    def test_huge_body_refused_without_hanging(self):
        s = fresh()
        sock = self.emu.raw_socket(timeout=8)
        t0 = time.monotonic()
        sock.sendall(self.head("POST", "/streams/" + s,
                               ("Content-Type: %s\r\n\r\n"
                                % EVENTS_JSON).encode(), length=1 << 30))
        sent = [0]
        limit = 64 << 20

        def feed():
            chunk = b"[" + b" " * 65535
            try:
                while sent[0] < limit:
                    sock.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass

        sender = threading.Thread(target=feed)
        sender.start()
        try:
            status, _ = read_raw_response(sock)
        except socket.timeout:
            status = "hang"
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass            # already closed by the emulator
            sender.join(10)
            sock.close()
        elapsed = time.monotonic() - t0
        self.assertNotEqual(status, "hang", "huge body: no answer, no close")
        self.assertIn(status, (None, 413, 400), "huge body answer")
        self.assertLess(elapsed, 8)
        self.assertLess(sent[0], limit, "the emulator read 64 MiB of a 1 GiB "
                        "body without answering")
        self.assertEqual(self.emu.dump_stream(s), [])
        self.still_serving()

    def test_huge_content_length_header_alone(self):
        s = fresh()
        status, _, elapsed = self.exchange(self.head(
            "POST", "/streams/" + s,
            ("Content-Type: %s\r\n\r\n" % EVENTS_JSON).encode(),
            length=1 << 40))
        self.assertIn(status, (None, 413, 400, 408))
        self.assertLess(elapsed, REQUEST_TIMEOUT + 3)
        self.still_serving()

    def test_half_sent_body(self):
        s = fresh()
        body = json.dumps([ev()]).encode()
        data = self.head("POST", "/streams/" + s,
                         ("Content-Type: %s\r\n\r\n" % EVENTS_JSON).encode()
                         + body[:10], length=len(body))
        status, _, elapsed = self.exchange(data)
        self.assertIn(status, (None, 408))
        self.assertGreaterEqual(elapsed, REQUEST_TIMEOUT * 0.9)
        self.assertLess(elapsed, REQUEST_TIMEOUT + 3)
        self.assertEqual(self.emu.dump_stream(s), [])
        self.still_serving()

    def test_half_sent_headers(self):
        data = self.head("GET", "/streams/x")[:-10]
        status, _, elapsed = self.exchange(data)
        self.assertIn(status, (None, 408))
        self.assertGreaterEqual(elapsed, REQUEST_TIMEOUT * 0.9)
        self.assertLess(elapsed, REQUEST_TIMEOUT + 3)
        self.still_serving()

    def test_silent_connections_do_not_block_others(self):
        idle = [self.emu.raw_socket() for _ in range(5)]
        half = self.emu.raw_socket()
        half.sendall(self.head("POST", "/streams/x", b"Content-Type: "
                               + EVENTS_JSON.encode() + b"\r\n\r\n[",
                               length=100))
        try:
            t0 = time.monotonic()
            self.still_serving()
            self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT * 0.9)
        finally:
            for c in idle + [half]:
                c.close()
        self.still_serving()

    def test_client_closes_mid_body(self):
        s = fresh()
        for _ in range(20):
            sock = self.emu.raw_socket()
            sock.sendall(self.head("POST", "/streams/" + s,
                                   b"Content-Type: " + EVENTS_JSON.encode()
                                   + b"\r\n\r\n[{\"eventId\"", length=500))
            sock.close()
        self.still_serving()
        self.assertEqual(self.emu.dump_stream(s), [])

    def test_client_closes_before_answer(self):
        # the emulator must survive writing to a closed socket (SIGPIPE)
        self.emu.fault("slow", ms=300, count=5)
        for _ in range(5):
            s = fresh()
            sock = self.emu.raw_socket()
            body = json.dumps([ev()]).encode()
            sock.sendall(self.head("POST", "/streams/" + s,
                                   b"Content-Type: " + EVENTS_JSON.encode()
                                   + b"\r\n\r\n" + body, length=len(body)))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
        time.sleep(0.5)
        self.still_serving()

    # -- malformed requests --------------------------------------------

    def test_garbage_request_lines(self):
        for data in [b"GARBAGE\r\n\r\n", b"\x00\x01\x02\xff\r\n\r\n",
                     b"GET\r\n\r\n", b"GET /streams/x HTTP/9.9\r\n\r\n",
                     b"GET /streams/x FOO/1.1\r\nHost: x\r\n\r\n",
                     b"POST  HTTP/1.1\r\n\r\n",
                     b"GET " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n"]:
            status, resp, elapsed = self.exchange(data)
            self.assertIn(status, (None, 400, 404, 405, 414, 431, 505),
                          (data[:40], resp[:200]))
            self.assertLess(elapsed, REQUEST_TIMEOUT + 3)
        self.still_serving()

    def test_bad_headers(self):
        body = json.dumps([ev()]).encode()
        cases = [
            b"Content-Type: " + EVENTS_JSON.encode() + b"\r\nNoColonHere\r\n",
            b"Content-Type: " + EVENTS_JSON.encode() + b"\r\nX-Big: "
            + b"a" * 200000 + b"\r\n",
            b"Content-Type: " + EVENTS_JSON.encode() + b"\r\n"
            + b"".join(b"X-H%d: v\r\n" % k for k in range(5000)),
            b"Content-Type: " + EVENTS_JSON.encode() + b"\r\n: empty\r\n",
        ]
        for extra in cases:
            s = fresh()
            data = self.head("POST", "/streams/" + s, extra + b"\r\n" + body,
                             length=len(body))
            status, resp, elapsed = self.exchange(data)
            self.assertIn(status, (None, 400, 413, 431), resp[:200])
            self.assertLess(elapsed, REQUEST_TIMEOUT + 3)
            self.assertEqual(self.emu.dump_stream(s), [])
        self.still_serving()

    def test_bad_content_length(self):
        body = json.dumps([ev()]).encode()
        for cl in [b"abc", b"-5", b"1e3", b"12, 13",
                   b"99999999999999999999999"]:
            s = fresh()
            data = (self.head("POST", "/streams/" + s)
                    + b"Content-Type: " + EVENTS_JSON.encode() + b"\r\n"
                    + b"Content-Length: " + cl + b"\r\n\r\n" + body)
            status, resp, elapsed = self.exchange(data)
            self.assertIn(status, (None, 400, 413), (cl, resp[:200]))
            self.assertEqual(self.emu.dump_stream(s), [])
        # two different lengths
        s = fresh()
        data = (self.head("POST", "/streams/" + s)
                + b"Content-Type: " + EVENTS_JSON.encode() + b"\r\n"
                + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n"
                % len(body) + body)
        status, resp, _ = self.exchange(data)
        self.assertIn(status, (None, 400), resp[:200])
        self.assertEqual(self.emu.dump_stream(s), [])
        self.still_serving()

    def test_chunked_body_answered(self):
        s = fresh()
        body = json.dumps([ev()]).encode()
        data = (self.head("POST", "/streams/" + s)
                + b"Content-Type: " + EVENTS_JSON.encode() + b"\r\n"
                + b"Transfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        status, resp, elapsed = self.exchange(data)
        self.assertIsNotNone(status, "chunked request: closed unanswered")
        self.assertLess(elapsed, REQUEST_TIMEOUT + 3)
        if status == 201:
            self.assertEqual(len(self.emu.dump_stream(s)), 1)
        else:
            self.assertIn(status, (400, 411, 501))
            self.assertEqual(self.emu.dump_stream(s), [])
        self.still_serving()

    def test_bad_percent_escapes_and_long_names(self):
        for path in ["/streams/%zz", "/streams/%", "/streams/a%00b",
                     "/streams/" + "n" * 20000]:
            r = self.emu.outcome("POST", path, json.dumps([ev()]),
                                 [("Content-Type", EVENTS_JSON)])
            self.assertTrue(r == "dropped" or r.status in (201, 400, 404,
                                                           414, 431),
                            (path[:40], r))
        self.still_serving()

    def test_trailing_text_and_deep_nesting(self):
        s = fresh()
        r = self.emu.append(s, None, raw_body=b'[{"eventId":"%s",'
                            b'"eventType":"T","data":{"a":1}}] trailing'
                            % ev()["eventId"].encode())
        self.assertStatus(r, 400)
        r = self.emu.append(s, None, raw_body=b"[" * 100000 + b"]" * 100000)
        self.assertStatus(r, 400)
        self.assertEqual(self.emu.dump_stream(s), [])
        # deep data inside a valid event: answered either way, no crash
        deep = (b'[{"eventId":"%s","eventType":"T","data":'
                % ev()["eventId"].encode()) + b"[" * 100000 + b"]" * 100000 \
            + b"}]"
        r = self.emu.append(s, None, raw_body=deep)
        self.assertIn(r.status, (201, 400))
        self.still_serving()

    # -- routing --------------------------------------------------------

    # 45
    def test_b45_trailing_slash_redirect(self):
        s = fresh()
        r = self.emu.request("POST", "/streams/%s/" % quote(s),
                             json.dumps([ev()]),
                             [("Content-Type", EVENTS_JSON)])
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"), self.emu.stream_url(s))
        self.assertEqual(r.header("Cache-Control"),
                         "max-age=31536000, public")
        self.assertEqual(self.emu.dump_stream(s), [])
        self.seed_stream(self.emu, s, 1)
        r = self.emu.get("/streams/%s/" % quote(s))
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"), self.emu.stream_url(s))
        r = self.emu.get("/streams/%s/0/forward/5/" % quote(s))
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"),
                         self.emu.stream_url(s) + "/0/forward/5")

    def test_unknown_path_and_wrong_verb(self):
        self.assertStatus(self.emu.get("/no/such/route"), 404)
        s = fresh()
        self.seed_stream(self.emu, s, 1)
        r = self.emu.request("PUT", "/streams/" + quote(s), json.dumps([ev()]),
                             [("Content-Type", EVENTS_JSON)])
        self.assertStatus(r, 405)
        self.assertEqual(len(self.emu.dump_stream(s)), 1)

    def test_query_string_ignored_on_append(self):
        s = fresh()
        r = self.emu.request("POST", "/streams/%s?foo=bar" % quote(s),
                             json.dumps([ev()]),
                             [("Content-Type", EVENTS_JSON)])
        self.assertCreated(r, self.emu, s, 0)

    # -- connections ----------------------------------------------------

    def test_keep_alive(self):
        s = fresh()
        conn = self.emu.connect()
        try:
            for n in range(3):
                r = self.emu.request("POST", "/streams/" + quote(s),
                                     json.dumps([ev()]),
                                     [("Content-Type", EVENTS_JSON)],
                                     conn=conn)
                self.assertCreated(r, self.emu, s, n)
            # an error answer leaves the connection usable
            r = self.emu.request("POST", "/streams/" + quote(s), b"[",
                                 [("Content-Type", EVENTS_JSON)], conn=conn)
            self.assertStatus(r, 400)
            r = self.emu.request("GET", "/streams/" + quote(s), None,
                                 [("Accept", "application/json")], conn=conn)
            self.assertStatus(r, 200)
            self.assertEqual(len(r.json()["entries"]), 3)
        finally:
            conn.close()

    def test_pipelined_requests(self):
        s = fresh()
        one = json.dumps([ev()]).encode()
        req = self.head("POST", "/streams/" + s,
                        ("Content-Type: %s\r\n\r\n" % EVENTS_JSON).encode()
                        + one, length=len(one))
        sock = self.emu.raw_socket()
        try:
            sock.sendall(req + req.replace(one, json.dumps([ev()]).encode()))
            data = b""
            deadline = time.monotonic() + 5
            while data.count(b"HTTP/1.1 201") < 2 and \
                    time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        self.assertEqual(data.count(b" 201 "), 2, data)
        self.assertEqual(len(self.emu.dump_stream(s)), 2)

    def test_expect_100_continue(self):
        # libcurl sends Expect: 100-continue with large bodies
        s = fresh()
        body = json.dumps([ev()]).encode()
        sock = self.emu.raw_socket(timeout=3)
        try:
            sock.sendall(self.head("POST", "/streams/" + s,
                                   ("Content-Type: %s\r\nExpect: 100-continue"
                                    "\r\n\r\n" % EVENTS_JSON).encode(),
                                   length=len(body)))
            interim = sock.recv(100)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n"),
                            interim)
            sock.sendall(body)
            status, resp = read_raw_response(sock)
        finally:
            sock.close()
        self.assertEqual(status, 201, resp)
        self.assertEqual(len(self.emu.dump_stream(s)), 1)

    def test_connection_close_and_http10(self):
        for data in [b"GET /ping HTTP/1.0\r\n\r\n",
                     b"GET /ping HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n"]:
            sock = self.emu.raw_socket(timeout=3)
            try:
                sock.sendall(data)
                status, _ = read_raw_response(sock)
                self.assertEqual(status, 200, data)
                self.assertEqual(sock.recv(10), b"", "not closed: %r" % data)
            finally:
                sock.close()

    def test_location_follows_host_header(self):
        s = fresh()
        r = self.emu.request("POST", "/streams/" + quote(s),
                             json.dumps([ev()]),
                             [("Content-Type", EVENTS_JSON),
                              ("Host", "es1.example:2113")])
        self.assertStatus(r, 201)
        self.assertEqual(r.header("Location"),
                         "http://es1.example:2113/streams/%s/0" % quote(s))

    def test_hundreds_of_idle_connections(self):
        idle = []
        try:
            for _ in range(300):
                idle.append(self.emu.raw_socket())
            t0 = time.monotonic()
            self.still_serving()
            self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT * 0.9)
        finally:
            for c in idle:
                c.close()
        self.still_serving()

    def test_many_connections(self):
        s = fresh()
        for n in range(200):
            r = self.emu.append(s, [ev()], n - 1)
            self.assertStatus(r, 201)
        errors = []

        def worker(k):
            try:
                for _ in range(20):
                    r = self.emu.feed(s, "/0/forward/1")
                    if r.status != 200:
                        errors.append(r)
            except Exception as e:      # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(len(self.emu.dump_stream(s)), 200)


class Signals(unittest.TestCase):

    def test_sigint_exits_zero(self):
        e = Emu(["--profile", "v20"]).start()
        e.proc.send_signal(signal.SIGINT)
        try:
            rc = e.proc.wait(10)
        finally:
            e.kill()
        self.assertEqual(rc, 0)
        e.check_stderr()

    def test_sigterm_during_slow_request(self):
        e = Emu(["--profile", "v20"]).start()
        e.fault("slow", ms=800)
        t = threading.Thread(target=lambda: e.outcome(
            "POST", "/streams/x", json.dumps([ev()]),
            [("Content-Type", EVENTS_JSON)]))
        t.start()
        time.sleep(0.2)
        try:
            self.assertEqual(e.stop(), 0)
        finally:
            e.kill()
            t.join(10)

    def test_signal_while_appending(self):
        # Busy: connections post batches without a pause; each signal ends
        # the process with 0, promptly.
        for sig in (signal.SIGTERM, signal.SIGINT):
            e = Emu(["--profile", "v20"]).start()
            stop = threading.Event()
            sent = [0]

            def worker():
                while not stop.is_set():
                    batch = json.dumps([ev(data="x" * 200)
                                        for _ in range(200)])
                    try:
                        r = e.outcome("POST", "/streams/busy", batch,
                                      [("Content-Type", EVENTS_JSON)])
                    except OSError:
                        return  # the emulator is gone
                    if r == "dropped" or r.status != 201:
                        return
                    sent[0] += 1

            threads = [threading.Thread(target=worker) for _ in range(2)]
            for t in threads:
                t.start()
            try:
                deadline = time.monotonic() + 10
                while sent[0] < 3 and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.assertGreaterEqual(sent[0], 3)
                e.proc.send_signal(sig)
                self.assertEqual(e.proc.wait(10), 0, sig)
                e.check_stderr()
            finally:
                stop.set()
                e.kill()
                for t in threads:
                    t.join(10)

    def test_signal_during_log_replay(self):
        # A signal while --data is replayed at start (before the ready
        # line) also means exit 0, and the log is left whole: a later start
        # replays every event.
        d = tempfile.mkdtemp(prefix="emu-sig-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "log")
        e = Emu(["--profile", "v20", "--data", path]).start()
        try:
            for _ in range(20):
                batch = json.dumps([ev(data="y" * 1000)
                                    for _ in range(1000)])
                r = e.request("POST", "/streams/replayed", batch,
                              [("Content-Type", EVENTS_JSON)])
                self.assertEqual(r.status, 201)
            self.assertEqual(e.stop(), 0)
        finally:
            e.kill()
        size = os.path.getsize(path)
        for sig in (signal.SIGTERM, signal.SIGINT):
            p = subprocess.Popen([emu_path(), "--port", "0", "--data", path],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            try:
                # Signal once the log is open, i.e. once main() runs (a
                # signal before a process starts its code kills any process).
                fds = "/proc/%d/fd" % p.pid
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and p.poll() is None:
                    try:
                        if any(os.readlink(os.path.join(fds, f)) == path
                               for f in os.listdir(fds)):
                            break
                    except OSError:
                        pass
                    time.sleep(0.0005)
                p.send_signal(sig)
                out, err = p.communicate(timeout=20)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            self.assertEqual(p.returncode, 0, (sig, err))
            self.assertNotIn(b"Sanitizer", err)
            self.assertEqual(os.path.getsize(path), size)
        e = Emu(["--profile", "v20", "--data", path]).start()
        try:
            self.assertEqual(e.stats()["events"], 20000)
            self.assertEqual(e.stop(), 0)
        finally:
            e.kill()

    def test_bad_command_line(self):
        for args in [["--profile", "v99"], ["--no-such-flag"],
                     ["--fault-rate", "abc"], ["--cluster", "0"],
                     ["--latency-ms", "-5"]]:
            e = Emu(args)
            with self.assertRaises(AssertionError, msg=repr(args)):
                e.start(timeout=10)
            e.kill()
            self.assertNotEqual(e.proc.returncode, 0, args)
            self.assertTrue(e.stderr().strip(), args)


if __name__ == "__main__":
    unittest.main()
