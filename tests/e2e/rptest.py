"""Shared helpers for the end-to-end tests: temp folders, the binaries in
RP_BIN_DIR, the emulator on a free port, stores built with `replicator
import`, and the comparison of a target (GET /_emu/dump) with a dry-run.

Standard library only.  Every process a test starts is stopped by the
test's cleanup, whatever happens."""
import base64
from http import client as httpclient
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

SRC_DIR = os.environ.get("RP_SRC_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN_DIR = os.environ.get("RP_BIN_DIR") or os.path.join(SRC_DIR, "bin")
REPLICATOR = os.path.join(BIN_DIR, "replicator")
EMULATOR = os.path.join(BIN_DIR, "esdb-emu")
CHECKPOINT_PREFIX = "replicator-checkpoint-"

# Slow machines and sanitizer builds get more time, never less.
SLOW = 3.0 if os.environ.get("RP_SANITIZE") == "1" else 1.0

_commands = {}


def has_command(name):
    """True when bin/replicator knows the subcommand 'name'."""
    if name not in _commands:
        try:
            p = subprocess.run([REPLICATOR, name, "--help"],
                               capture_output=True, text=True, timeout=30)
            _commands[name] = "unknown command" not in p.stderr
        except OSError:
            _commands[name] = False
    return _commands[name]


def require(test, *names):
    """Skips 'test' when a subcommand or the emulator is not built yet."""
    for name in names:
        if name == "esdb-emu":
            if not os.access(EMULATOR, os.X_OK):
                test.skipTest("bin/esdb-emu is not built")
        elif not has_command(name):
            test.skipTest("replicator %s is not built" % name)


def tempdir(test):
    """A fresh folder removed when 'test' ends (kept if RP_KEEP_TMP=1)."""
    d = tempfile.mkdtemp(prefix="rp-e2e-")
    if os.environ.get("RP_KEEP_TMP") != "1":
        test.addCleanup(shutil.rmtree, d, True)
    return d


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env=None, input=None, timeout=120, cwd=None, binary=None):
    """Runs bin/replicator (or 'binary') to completion; returns the
    CompletedProcess with text stdout/stderr."""
    full = dict(os.environ)
    full.update(env or {})
    if isinstance(input, str):
        input = input.encode()
    p = subprocess.run([binary or REPLICATOR] + list(args), env=full,
                       input=input, capture_output=True, timeout=timeout * SLOW,
                       cwd=cwd)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    return p


class Process:
    """A background process whose stdout and stderr go to files, so that
    nothing blocks on a full pipe and the logs can be read at any time."""

    def __init__(self, test, argv, env=None, cwd=None, logdir=None):
        full = dict(os.environ)
        full.update(env or {})
        logdir = logdir or tempdir(test)
        stem = os.path.join(logdir, "%s-%d-%d" % (
            os.path.basename(argv[0]), os.getpid(), id(self)))
        self.out_path = stem + ".out"
        self.err_path = stem + ".err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, env=full, cwd=cwd,
                                         stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        self.pid = self.proc.pid
        test.addCleanup(self.kill)

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def send(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout=60):
        """Waits for the exit; returns the status (-N for signal N)."""
        return self.proc.wait(timeout=timeout * SLOW)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends 'sig' and waits for the exit status."""
        self.send(sig)
        return self.wait(timeout)

    def kill(self):
        if self.alive():
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


def start_replicator(test, args, env=None, cwd=None):
    """bin/replicator with 'args' in the background."""
    return Process(test, [REPLICATOR] + list(args), env=env, cwd=cwd)


def wait_for(cond, timeout=30, interval=0.05, what="condition"):
    """Polls cond() until it returns a true value; returns it, or raises
    AssertionError naming 'what' after 'timeout' seconds."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


# --- HTTP -----------------------------------------------------------------

def http(method, url, body=None, headers=None, timeout=30):
    """One request; returns (status, {lower-case header: value}, body
    bytes).  'body' may be bytes, str or a JSON-able object."""
    u = urllib.parse.urlsplit(url)
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn = httpclient.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Emulator:
    """bin/esdb-emu on a free port (or 'port'), started when constructed.
    url is node 0's URL; urls lists every node in cluster mode."""

    def __init__(self, test, *args, port=0, data=None, logdir=None):
        self.test = test
        self.args = list(args)
        self.data = data
        self.logdir = logdir or tempdir(test)
        self.proc = None
        self.urls = []
        self.start(port)

    def start(self, port=None):
        """Starts (again) on 'port' (default: the last one, or a free one)."""
        if port is None:
            port = self.port
        argv = [EMULATOR, "--port", str(port)] + self.args
        if self.data:
            argv += ["--data", self.data]
        self.proc = Process(self.test, argv, logdir=self.logdir)

        def ready():
            text = self.proc.stdout()
            if "\n" in text:
                return text.split("\n", 1)[0]
            if not self.proc.alive():
                raise AssertionError("esdb-emu exited with %s: %s" % (
                    self.proc.proc.returncode, self.proc.stderr()))
            return None
        line = wait_for(ready, 20, what="the emulator's URL line")
        self.urls = line.split()
        self.url = self.urls[0]
        self.port = urllib.parse.urlsplit(self.url).port
        return self

    def stop(self, sig=signal.SIGTERM):
        """Stops the emulator; returns its exit status."""
        return self.proc.stop(sig)

    def restart(self, sig=signal.SIGTERM, same_port=True, tries=50):
        """Stops and starts it again (same --data), on the same port when
        possible; returns True when the port is the same."""
        old = self.port
        self.stop(sig)
        if same_port:
            for _ in range(tries):
                try:
                    self.start(old)
                    return True
                except AssertionError:
                    time.sleep(0.1)
        self.start(0)
        return self.port == old

    def call(self, method, path, body=None, node=0):
        status, _, data = http(method, self.urls[node] + path, body)
        if status >= 300:
            raise AssertionError("%s %s: %d %r" % (method, path, status, data))
        return data

    def dump(self, include_checkpoints=False):
        """Every stored event (GET /_emu/dump) as a list of dicts."""
        text = self.call("GET", "/_emu/dump").decode("utf-8")
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        if not include_checkpoints:
            # The checkpoint streams, and their metadata ($maxCount).
            events = [e for e in events
                      if not e["stream"].lstrip("$").startswith(
                          CHECKPOINT_PREFIX)]
        return events

    def stats(self):
        return json.loads(self.call("GET", "/_emu/stats"))

    def arm(self, kind, count=1, stream=None, ms=None):
        body = {"kind": kind, "count": count}
        if stream is not None:
            body["stream"] = stream
        if ms is not None:
            body["ms"] = ms
        self.call("POST", "/_emu/faults", body)

    def disarm(self):
        self.call("DELETE", "/_emu/faults")

    def switches(self, **kw):
        self.call("POST", "/_emu/switches", kw)

    def clear_idempotency_cache(self):
        self.call("POST", "/_emu/clear-idempotency-cache", {})

    def leader(self, node):
        self.call("POST", "/_emu/leader", {"node": node})

    def append(self, stream, events, expected=None, auth=None, node=0):
        """Writes 'events' ([{eventId, eventType, data}]) as another
        client would; returns the HTTP status."""
        headers = {"Content-Type": "application/vnd.eventstore.events+json"}
        if expected is not None:
            headers["ES-ExpectedVersion"] = str(expected)
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(
                auth.encode()).decode()
        status, _, _ = http("POST", "%s/streams/%s" % (
            self.urls[node], urllib.parse.quote(stream, safe="")),
            json.dumps(events), headers)
        return status


# --- stores ---------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def lstring(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return varint(len(b)) + b


def message_set(messages, attrs=()):
    """The Lokad.CQRS record payload (spec/lokad-store-format.md 9.1) of
    'messages' [(contract, body)] with attributes [(key, value)]."""
    out = bytearray(varint(len(attrs)))
    for k, v in attrs:
        out += lstring(k) + lstring(v)
    out += varint(len(messages))
    for contract, body in messages:
        if isinstance(body, str):
            body = body.encode("utf-8")
        out += lstring(contract) + varint(len(body)) + body
    return bytes(out)


def record(key, data):
    """One input line of `replicator import`: a key and raw data bytes."""
    return {"key": key, "data": base64.b64encode(data).decode("ascii")}


def import_records(store, records, timeout=120):
    """Appends 'records' (dicts from record()) to the store folder with
    `replicator import`; raises AssertionError when it fails."""
    text = "".join(json.dumps(r) + "\n" for r in records)
    p = run(["import", "--store", store], input=text, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("replicator import failed (%d): %s" % (
            p.returncode, p.stderr))
    return p


def dump_store(store):
    """`replicator dump` of the whole store as a list of dicts."""
    p = run(["dump", "--store", store])
    if p.returncode != 0:
        raise AssertionError("replicator dump failed: " + p.stderr)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def dry_run(script, store, extra=()):
    """`replicator dry-run` as a list of dicts."""
    p = run(["dry-run", "--script", script, "--store", store] + list(extra))
    if p.returncode != 0:
        raise AssertionError("replicator dry-run failed: " + p.stderr)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def write_file(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# --- comparing a target with a dry-run -------------------------------------

def decoded(v):
    """A JSON value with strings that hold JSON objects or arrays decoded,
    and "" taken as no value: the emulator stores a re-serialized text."""
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("{") or s.startswith("["):
            try:
                return decoded(json.loads(s))
            except ValueError:
                return v
        return None if s == "" else v
    return v


def by_stream(events, order_key):
    out = {}
    for e in sorted(events, key=order_key):
        out.setdefault(e["stream"], []).append(e)
    return out


def compare(expected, actual):
    """Compares the dry-run lines 'expected' with the dump lines 'actual'.
    Returns figures: lost, duplicated, out_of_order, foreign (events not
    in the dry-run), mismatched (same id, other type/data/metadata),
    gaps (event numbers not 0..n-1), and 'problems', a few examples."""
    exp = by_stream(expected, lambda e: (e["storeVersion"], e["index"]))
    act = by_stream(actual, lambda e: e["eventNumber"])
    fig = dict(lost=0, duplicated=0, out_of_order=0, foreign=0,
               mismatched=0, gaps=0)
    problems = []
    for stream in sorted(set(exp) | set(act)):
        want = exp.get(stream, [])
        have = act.get(stream, [])
        rank = {}
        for i, e in enumerate(want):
            rank[e["eventId"].lower()] = (i, e)
        numbers = [e["eventNumber"] for e in have]
        if numbers != list(range(len(have))):
            fig["gaps"] += 1
            problems.append("%s: event numbers %s" % (stream, numbers[:10]))
        seen = set()
        last = -1
        for e in have:
            eid = e["eventId"].lower()
            if eid not in rank:
                fig["foreign"] += 1
                problems.append("%s/%d: foreign event %s" % (
                    stream, e["eventNumber"], eid))
                continue
            if eid in seen:
                fig["duplicated"] += 1
                problems.append("%s/%d: duplicate of %s" % (
                    stream, e["eventNumber"], eid))
                continue
            seen.add(eid)
            i, w = rank[eid]
            if i < last:
                fig["out_of_order"] += 1
                problems.append("%s/%d: %s out of order" % (
                    stream, e["eventNumber"], eid))
            last = max(last, i)
            if (e["eventType"] != w["eventType"]
                    or decoded(e.get("data")) != decoded(w.get("data"))
                    or decoded(e.get("metadata")) != decoded(w.get("metadata"))):
                fig["mismatched"] += 1
                problems.append("%s/%d: %s differs from the dry-run: %r vs %r"
                                % (stream, e["eventNumber"], eid, e, w))
        for eid in rank:
            if eid not in seen:
                fig["lost"] += 1
                if len(problems) < 50:
                    problems.append("%s: lost %s (store version %s)" % (
                        stream, eid, rank[eid][1]["storeVersion"]))
    fig["problems"] = problems[:20]
    return fig


class TestCase(unittest.TestCase):
    """unittest.TestCase with the figure checks the replication tests use."""

    def assertSameEvents(self, expected, actual, msg=""):
        fig = compare(expected, actual)
        bad = {k: v for k, v in fig.items() if k != "problems" and v}
        if bad:
            self.fail("%starget differs from the dry-run: %s\n  %s" % (
                msg + ": " if msg else "", bad, "\n  ".join(fig["problems"])))
        self.assertEqual(len(actual), len(expected))
        return fig


# --- a sample workload: aggregate records and a per-aggregate script -------

SCRIPT = r'''-- Per-aggregate streams: "customer:7" -> "customer-7", "func" ->
-- "functional"; CustomerMoved also goes to "moves"; Skipped gives nothing.
local cjson = require "cjson"

function convert(record)
  local events = {}
  for _, m in ipairs(record.messages or {}) do
    local name = m.contract:match("[^/]+$")
    if name ~= "Skipped" then
      local stream = "functional"
      if record.key ~= "func" then
        stream = (record.key:gsub(":", "-"))
      end
      events[#events + 1] = {
        stream = stream,
        type = name,
        data = cjson.decode(m.body),
        metadata = { contract = m.contract },
      }
      if name == "CustomerMoved" then
        events[#events + 1] = {
          stream = "moves",
          type = name,
          data = { key = record.key, version = record.stream_version },
          metadata = { contract = m.contract },
        }
      end
    end
  end
  return events
end
'''

# Appended to a script that defines convert(): it wraps it so that each Lua
# state checks that it gets the records of the keys it sees one after the
# other, in order, and stops the command otherwise (with several workers,
# partition "key" is what makes that true).
KEY_ORDER_CHECK = r'''
local convert_events = convert
local last = {}
function convert(record)
  local prev = last[record.key]
  if prev ~= nil and record.stream_version ~= prev + 1 then
    error(record.key .. ": " .. prev .. " then " .. record.stream_version)
  end
  last[record.key] = record.stream_version
  return convert_events(record)
end
'''

CONTRACTS = ["Lokad.SaaS/CustomerCreated", "Lokad.SaaS/CustomerRenamed",
             "Lokad.SaaS/CustomerMoved", "Lokad.SaaS/Skipped",
             "Lokad.SaaS/InvoiceAdded"]


def pretty_body(obj):
    """A body laid out like the reference app's (CRLF, tabs, a space
    after ':'): opaque text that is still JSON."""
    inner = ",\r\n".join('\t"%s": %s' % (k, json.dumps(v, ensure_ascii=False))
                         for k, v in obj.items())
    return "\r\n{\r\n" + inner + "\r\n}\r\n"


def workload(rng, count, first=1, keys=8, messages=3):
    """'count' import records numbered from 'first': keys customer:N and
    func, 1..'messages' messages each, drawn from 'rng' (random.Random)."""
    out = []
    for n in range(first, first + count):
        k = rng.randrange(keys + 1)
        key = "func" if k == keys else "customer:%d" % (k + 1)
        msgs = []
        for i in range(rng.randint(1, messages)):
            contract = rng.choice(CONTRACTS)
            body = {"Id": n, "Index": i, "Name": "Ann, Ltd \u00fc #%d" % n,
                    "Amount": rng.randint(0, 10 ** 6),
                    "Tags": ["a", "b"][:rng.randint(0, 2)]}
            msgs.append((contract, pretty_body(body)))
        out.append(record(key, message_set(msgs)))
    return out


def setup_store(test, rng, count, script=SCRIPT):
    """A temp folder holding 'store/' with 'count' workload records and
    'convert.lua'; returns (folder, store, script path)."""
    d = tempdir(test)
    store = os.path.join(d, "store")
    os.mkdir(store)
    import_records(store, workload(rng, count))
    path = write_file(os.path.join(d, "convert.lua"), script)
    return d, store, path
