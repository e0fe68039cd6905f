"""Helpers for the black-box tests of bin/esdb-emu: start an emulator on a
free port, talk to it over real HTTP with exact control of the headers, read
its state back through the feed and the /_emu control endpoints, stop it.

Every request has a socket timeout, so a broken emulator fails a test instead
of hanging it."""
import base64
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

EVENTS_JSON = "application/vnd.eventstore.events+json"
KURRENT_EVENTS_JSON = "application/vnd.kurrent.events+json"
ATOM_JSON = "application/vnd.eventstore.atom+json"
KURRENT_ATOM_JSON = "application/vnd.kurrent.atom+json"
OCTET = "application/octet-stream"
APP_JSON = "application/json"

ADMIN = ("admin", "changeit")
# The short timeouts every test uses unless it needs others.
FAST = ["--write-timeout-ms", "200", "--request-timeout-ms", "1000"]
# Default socket timeout of a request, in seconds.
TIMEOUT = 5.0
# The largest event the server accepts: len(data) + len(metadata).
MAX_EVENT = 4 * 1024 * 1024

_counter = [0]
_counter_lock = threading.Lock()


def emu_path():
    """The emulator binary: $RP_BIN_DIR/esdb-emu, else bin/ of the checkout."""
    d = os.environ.get("RP_BIN_DIR")
    if not d:
        here = os.path.dirname(os.path.abspath(__file__))
        d = os.path.join(here, "..", "..", "bin")
    return os.path.join(d, "esdb-emu")


def fresh(prefix="s"):
    """A stream name never used before in this process."""
    with _counter_lock:
        _counter[0] += 1
        n = _counter[0]
    return "%s-%d-%s" % (prefix, n, uuid.uuid4().hex[:8])


def new_id():
    return str(uuid.uuid4())


_DEFAULT = object()


def ev(event_id=None, event_type="Tested", data=_DEFAULT, metadata=_DEFAULT,
       no_data=False):
    """One element of an events+json array.  data defaults to a small object
    (None sends JSON null); no_data leaves the member out; metadata is left
    out unless given."""
    e = {"eventId": event_id or new_id(), "eventType": event_type}
    if not no_data:
        e["data"] = {"n": 1} if data is _DEFAULT else data
    if metadata is not _DEFAULT:
        e["metadata"] = metadata
    return e


def quote(stream):
    """A stream name as it appears in a URL path (RFC 3986, '$' -> '%24')."""
    return urllib.parse.quote(stream, safe="")


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode()
    return "Basic " + base64.b64encode(raw).decode()


class Response:
    """A complete answer: status, reason, headers (case-insensitive), body."""

    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers        # list of (name, value)
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        """The value of header 'name' (any case), None when absent."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%s %s %r %r>" % (self.status, self.reason, self.headers,
                                  self.body[:200])


class Dropped(Exception):
    """The emulator closed the connection without a complete answer."""


class Emu:
    """One emulator process.  Use start(); then request(), append(), ...
    on node 0 unless node= says otherwise; stop() at the end."""

    def __init__(self, args=(), fast=True):
        self.args = list(args) + (FAST if fast else [])
        self.proc = None
        self.urls = []
        self.errfile = None

    # -- process -----------------------------------------------------------

    def start(self, timeout=15.0):
        binary = emu_path()
        if not os.path.exists(binary):
            raise unittest.SkipTest("no emulator binary at %s" % binary)
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "--port", "0"] + self.args,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self.errfile)
        line = b""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise AssertionError("emulator %r printed no URL line in %gs"
                                     % (self.args, timeout))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1)
                if not chunk:
                    rc = self.proc.wait()
                    raise AssertionError(
                        "emulator %r exited (%s) before its URL line: %s"
                        % (self.args, rc, self.stderr()))
                line += chunk
        self.line = line.decode()
        self.urls = self.line.rstrip("\n").split(" ")
        return self

    def stderr(self):
        if self.errfile is None:
            return ""
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def check_stderr(self):
        """Fails on a sanitizer report in the emulator's stderr."""
        text = self.stderr()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                    "UndefinedBehaviorSanitizer"):
            if bad in text:
                raise AssertionError("sanitizer report from esdb-emu:\n"
                                     + text[-4000:])

    def stop(self, timeout=10.0):
        """SIGTERM; the emulator must exit 0 promptly and cleanly."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("esdb-emu ignored SIGTERM for %gs" % timeout)
        self.proc.stdout.close()
        self.check_stderr()
        if rc != 0:
            raise AssertionError("esdb-emu exited %s on SIGTERM: %s"
                                 % (rc, self.stderr()[-2000:]))
        return rc

    def kill(self):
        """SIGKILL (a crash): no clean-up runs in the emulator."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()

    # -- addresses ---------------------------------------------------------

    @property
    def url(self):
        return self.urls[0]

    def hostport(self, node=0):
        u = urllib.parse.urlsplit(self.urls[node])
        return u.hostname, u.port

    def stream_url(self, stream, node=0):
        return "%s/streams/%s" % (self.urls[node], quote(stream))

    # -- raw HTTP ----------------------------------------------------------

    def connect(self, node=0, timeout=TIMEOUT):
        host, port = self.hostport(node)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method, path, body=None, headers=(), node=0,
                auth=ADMIN, timeout=TIMEOUT, conn=None):
        """Sends exactly the given headers (plus Host unless given,
        Content-Length when a body is given, and Authorization when auth is
        set) and returns a Response.  Raises Dropped when the connection
        closes unanswered and socket.timeout when nothing comes within
        'timeout' seconds."""
        own = conn is None
        if own:
            conn = self.connect(node, timeout)
        if isinstance(body, str):
            body = body.encode("utf-8")
        t0 = time.monotonic()
        if isinstance(headers, dict):
            headers = list(headers.items())
        own_host = any(k.lower() == "host" for k, _ in headers)
        try:
            conn.putrequest(method, path, skip_host=own_host,
                            skip_accept_encoding=True)
            if auth is not None:
                conn.putheader("Authorization", basic(*auth))
            for k, v in headers:
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
        except (http.client.RemoteDisconnected, ConnectionResetError,
                BrokenPipeError, http.client.IncompleteRead) as e:
            if own:
                conn.close()
            raise Dropped(repr(e))
        if own:
            conn.close()
        return Response(r.status, r.reason, r.getheaders(), data,
                        time.monotonic() - t0)

    def outcome(self, *args, **kw):
        """request(), with a dropped connection reported as the string
        'dropped' instead of an exception."""
        try:
            return self.request(*args, **kw)
        except Dropped:
            return "dropped"

    # -- the EventStoreDB API ----------------------------------------------

    def append(self, stream, events, expected=None, node=0,
               content_type=EVENTS_JSON, headers=(), auth=ADMIN,
               timeout=TIMEOUT, raw_body=None):
        """POST an events+json batch (a list of dicts, or raw_body bytes)."""
        h = [("Content-Type", content_type)] if content_type else []
        if expected is not None:
            h.append(("ES-ExpectedVersion", str(expected)))
        h.extend(headers)
        body = raw_body if raw_body is not None else json.dumps(events)
        return self.request("POST", "/streams/" + quote(stream), body, h,
                            node=node, auth=auth, timeout=timeout)

    def post_plain(self, stream, body, content_type=APP_JSON,
                   event_type="Plain", event_id=None, expected=None,
                   path_suffix="", headers=(), auth=ADMIN):
        """POST one event with a plain body and ES-EventType/ES-EventId."""
        h = [("Content-Type", content_type)] if content_type else []
        if event_type is not None:
            h.append(("ES-EventType", event_type))
        if event_id is not None:
            h.append(("ES-EventId", event_id))
        if expected is not None:
            h.append(("ES-ExpectedVersion", str(expected)))
        h.extend(headers)
        return self.request("POST", "/streams/" + quote(stream) + path_suffix,
                            body, h, auth=auth)

    def get(self, path, accept=ATOM_JSON, headers=(), node=0, auth=ADMIN,
            timeout=TIMEOUT):
        h = [("Accept", accept)] if accept else []
        h.extend(headers)
        return self.request("GET", path, None, h, node=node, auth=auth,
                            timeout=timeout)

    def feed(self, stream, page="", embed=None, headers=(), accept=ATOM_JSON,
             node=0):
        """GET /streams/{s}{page}[?embed=..] as the feed JSON (a Response)."""
        path = "/streams/" + quote(stream) + page
        if embed:
            path += "?embed=" + embed
        return self.get(path, accept=accept, headers=headers, node=node)

    def read_all(self, stream, resolve=False):
        """Every event of a stream oldest first, as rich entries (embed=
        tryharder), read through the forward feed in pages of 4096; None when
        the stream answers 404."""
        out = []
        start = 0
        h = [("ES-ResolveLinkTos", "true" if resolve else "false")]
        while True:
            r = self.feed(stream, "/%d/forward/4096" % start, "tryharder", h)
            if r.status == 404:
                return None
            if r.status != 200:
                raise AssertionError("feed read of %s: %r" % (stream, r))
            entries = r.json()["entries"]
            if not entries:
                return out
            out.extend(reversed(entries))
            start = out[-1]["eventNumber"] + 1

    def read_bytes(self, stream, number, node=0):
        """The exact stored data of one event (octet-stream read)."""
        return self.get("/streams/%s/%d" % (quote(stream), number),
                        accept=OCTET, node=node)

    def delete(self, stream, hard=False, expected=None, headers=()):
        h = []
        if hard:
            h.append(("ES-HardDelete", "true"))
        if expected is not None:
            h.append(("ES-ExpectedVersion", str(expected)))
        h.extend(headers)
        return self.request("DELETE", "/streams/" + quote(stream), None, h)

    # -- control endpoint --------------------------------------------------

    def control(self, method, path, obj=None, node=0):
        body = None if obj is None else json.dumps(obj)
        h = [("Content-Type", "application/json")] if body else []
        return self.request(method, path, body, h, node=node, auth=None)

    def _ok(self, r, what):
        if not 200 <= r.status < 300:
            raise AssertionError("%s: %r" % (what, r))
        return r

    def fault(self, kind, count=None, stream=None, ms=None, node=0):
        obj = {"kind": kind}
        if count is not None:
            obj["count"] = count
        if stream is not None:
            obj["stream"] = stream
        if ms is not None:
            obj["ms"] = ms
        return self._ok(self.control("POST", "/_emu/faults", obj, node),
                        "arm fault %r" % obj)

    def clear_faults(self):
        return self._ok(self.control("DELETE", "/_emu/faults"),
                        "disarm faults")

    def switches(self, node=0, **kw):
        return self._ok(self.control("POST", "/_emu/switches", kw, node),
                        "switches %r" % kw)

    def clear_cache(self, node=0):
        return self._ok(self.control("POST", "/_emu/clear-idempotency-cache",
                                     None, node), "clear cache")

    def leader(self, n, node=0):
        return self._ok(self.control("POST", "/_emu/leader", {"node": n},
                                     node), "leader %r" % n)

    def stats(self, node=0):
        r = self._ok(self.control("GET", "/_emu/stats", node=node), "stats")
        return r.json()

    def dump(self, node=0):
        """Every stored event as a dict, in (stream, number) order."""
        r = self._ok(self.control("GET", "/_emu/dump", node=node), "dump")
        rows = []
        for line in r.body.decode("utf-8").split("\n"):
            if line.strip():
                rows.append(json.loads(line))
        return rows

    def dump_stream(self, stream, node=0):
        return [d for d in self.dump(node) if d["stream"] == stream]

    # -- raw sockets -------------------------------------------------------

    def raw_socket(self, node=0, timeout=TIMEOUT):
        s = socket.create_connection(self.hostport(node), timeout=timeout)
        return s


def read_raw_response(sock, limit=1 << 20):
    """Reads from sock until the peer closes or a full response (headers plus
    Content-Length bytes) arrived.  Returns (status or None, data)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if len(rest) >= length:
                break
    status = None
    if data.startswith(b"HTTP/1."):
        parts = data.split(b" ", 2)
        if len(parts) > 1 and parts[1].isdigit():
            status = int(parts[1])
    return status, data


class EmuTestCase(unittest.TestCase):
    """A test case whose class shares one emulator (fresh stream names per
    test).  Subclasses set ARGS; per-test emulators use self.start_emu()."""

    ARGS = ["--profile", "v20"]
    emu = None

    @classmethod
    def setUpClass(cls):
        cls.emu = Emu(cls.ARGS).start()

    @classmethod
    def tearDownClass(cls):
        if cls.emu is not None:
            cls.emu.stop()

    def start_emu(self, args, fast=True):
        e = Emu(args, fast=fast).start()
        self.addCleanup(e.stop)
        return e

    # -- assertions ----------------------------------------------------

    def assertStatus(self, r, status, msg=None):
        if r == "dropped":
            self.fail("connection dropped, expected %s %s" % (status,
                                                               msg or ""))
        self.assertEqual(r.status, status, "%r %s" % (r, msg or ""))

    def assertCreated(self, r, emu, stream, number, node=0):
        """201, Location = {url}/streams/{escaped}/{number} with the URL of
        the node asked, empty body."""
        self.assertStatus(r, 201)
        self.assertEqual(r.header("Location"),
                         "%s/%d" % (emu.stream_url(stream, node), number))
        self.assertEqual(r.body, b"")

    def assertWEV(self, r, current, v25=False):
        """400 Wrong expected EventNumber with ES-CurrentVersion (and the
        Kurrent- twin in v25), empty body."""
        self.assertStatus(r, 400)
        self.assertEqual(r.reason, "Wrong expected EventNumber", repr(r))
        self.assertEqual(r.header("ES-CurrentVersion"), str(current), repr(r))
        if v25:
            self.assertEqual(r.header("Kurrent-CurrentVersion"), str(current),
                             repr(r))
        self.assertEqual(r.body, b"")

    def assertIds(self, emu, stream, ids):
        """The stream holds exactly these event ids, in order, both in the
        dump and in the feed; ids == [] also accepts an absent stream."""
        dumped = emu.dump_stream(stream)
        self.assertEqual([d["eventId"] for d in dumped], ids,
                         "dump of %s" % stream)
        self.assertEqual([d["eventNumber"] for d in dumped],
                         list(range(len(ids))),
                         "dump numbering of %s" % stream)
        read = emu.read_all(stream)
        if read is None:
            self.assertEqual(ids, [], "feed of %s is 404" % stream)
        else:
            self.assertEqual([e["eventId"] for e in read], ids,
                             "feed of %s" % stream)
            self.assertEqual([e["eventNumber"] for e in read],
                             list(range(len(ids))))

    def assertAbsent(self, emu, stream):
        """Nothing was ever written to the stream: no dump row, feed 404."""
        self.assertEqual(emu.dump_stream(stream), [])
        self.assertStatus(emu.feed(stream), 404)

    def seed_stream(self, emu, stream, n, expected=-1):
        """Writes n events to a new stream; returns their ids."""
        ids = [new_id() for _ in range(n)]
        r = emu.append(stream, [ev(i) for i in ids], expected)
        self.assertStatus(r, 201)
        return ids
