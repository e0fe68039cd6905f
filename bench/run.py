#!/usr/bin/env python3
"""Benchmarks of bin/replicator against bin/esdb-emu (`make bench`).

Builds (and caches under build/bench/) Lokad stores with `replicator import`,
then runs each scenario and prints, per scenario, events/s, MB/s (store bytes
read per second), the replicator's CPU seconds per million events and peak
RSS (from wait4), the ratios that compare it with a baseline measured in the
same run, and whether the target is met.  bench/README.md describes the
scenarios.

    python3 bench/run.py [--full] [--only NAME[,NAME]] [--tail-seconds S]
                         [--json FILE]

--full (or env BENCH_FULL=1): the live tail runs 60 s and the memory scenario
compares 1 M with 10 M records (the 10 M store takes minutes to build once).
Exit status: 0 when every scenario ran (targets met or not), 1 when one could
not run or gave a wrong result (events lost or duplicated)."""
import argparse
import base64
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen  # noqa: E402

BIN = os.environ.get("RP_BIN_DIR", os.path.join(ROOT, "bin"))
REPLICATOR = os.path.join(BIN, "replicator")
EMU = os.environ.get("BENCH_EMU", os.path.join(BIN, "esdb-emu"))
CACHE = os.path.join(ROOT, "build", "bench")
SCRIPTS = os.path.join(HERE, "scripts")
MIB = 1024 * 1024
RUSAGE = os.path.join(CACHE, "rusage")


class BenchError(Exception):
    """A scenario could not run, or its result is wrong."""


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ---- processes ---------------------------------------------------------


def build_rusage():
    """Compiles bench/rusage.c (the launcher that measures a command on its
    own) into build/bench/ when it is missing or older than its source."""
    src = os.path.join(HERE, "rusage.c")
    exe = os.path.join(CACHE, "rusage")
    if (not os.path.exists(exe) or
            os.path.getmtime(exe) < os.path.getmtime(src)):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-O2",
                        "-Wall", "-o", exe, src], check=True)
    return exe


class Measured:
    """A child process timed from spawn to exit, with its own resource usage
    taken by bench/rusage.c (wait4 in a small parent: a child of this large
    Python process would report at least this process's resident size)."""

    live = set()

    def __init__(self, argv, stdout=subprocess.DEVNULL, stderr=None,
                 stdin=None, cwd=None):
        self.argv = argv
        fd, self.ru_path = tempfile.mkstemp(prefix="rusage-", dir=CACHE)
        os.close(fd)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([RUSAGE, self.ru_path] + argv,
                                     stdout=stdout, stderr=stderr,
                                     stdin=stdin, cwd=cwd,
                                     start_new_session=True)
        self.pid = self.proc.pid
        Measured.live.add(self)
        self.rc = None
        self.wall = None
        self.cpu = None
        self.maxrss = None

    def done(self):
        """Whether it has exited; then collects its figures."""
        if self.rc is not None:
            return True
        if self.proc.poll() is None:
            return False
        self._collect()
        return True

    def wait(self, timeout):
        """Waits for the exit (killing it after 'timeout' seconds) and
        collects its resource usage.  Returns the exit status."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
            self._collect()
            raise BenchError("%s: no exit after %.0f s (killed)" %
                             (os.path.basename(self.argv[0]), timeout))
        self._collect()
        return self.rc

    def _collect(self):
        if self.rc is not None:
            return
        Measured.live.discard(self)
        self.wall = time.perf_counter() - self.t0
        self.rc = self.proc.returncode
        try:
            with open(self.ru_path) as f:
                rc, wall, user, system, rss = f.read().split()
            self.rc, self.wall = int(rc), float(wall)
            self.cpu = float(user) + float(system)
            self.maxrss = int(rss) * 1024  # Linux: KiB
        except (OSError, ValueError):
            pass
        try:
            os.unlink(self.ru_path)
        except OSError:
            pass

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


class Emulator:
    """bin/esdb-emu on a free port, stopped with SIGTERM."""

    def __init__(self, workdir, *extra):
        if not os.access(EMU, os.X_OK):
            raise BenchError("no %s" % EMU)
        self.errpath = os.path.join(workdir, "emu-%d.err" % time.monotonic_ns())
        self.err = open(self.errpath, "wb")
        self.m = Measured([EMU, "--port", "0"] + list(extra),
                          stdout=subprocess.PIPE, stderr=self.err)
        line = self.m.proc.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.stop()
            raise BenchError("esdb-emu did not start: %s" % self.tail_err())
        self.url = line.split()[0]

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=60) as r:
            return r.read()

    def stats(self):
        return json.loads(self.get("/_emu/stats"))

    def dump(self):
        out = []
        for line in self.get("/_emu/dump").splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def read_stream(self, stream):
        """Every event of 'stream' as AtomPub entries (embed=body), oldest
        first: the entries carry the commit time in 'updated'."""
        out = []
        start = 0
        while True:
            req = urllib.request.Request(
                "%s/streams/%s/%d/forward/4096?embed=body" %
                (self.url, urllib.parse.quote(stream, safe=""), start),
                headers={"Accept": "application/vnd.eventstore.atom+json",
                         "Authorization": "Basic " + base64.b64encode(
                             b"admin:changeit").decode()})
            with urllib.request.urlopen(req, timeout=60) as r:
                page = json.loads(r.read())
            entries = sorted(page.get("entries", []),
                             key=lambda e: e["eventNumber"])
            out.extend(entries)
            if len(entries) < 4096:
                return out
            start = entries[-1]["eventNumber"] + 1

    def tail_err(self):
        self.err.flush()
        with open(self.errpath, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def stop(self):
        if self.m.rc is None:
            self.m.signal(signal.SIGTERM)
            self.m.wait(30)
        self.err.close()
        return self.m


def tail_file(path, n=2000):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - n))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def has_command(name):
    """Whether bin/replicator knows subcommand 'name' (from its --help)."""
    if not os.path.exists(REPLICATOR):
        return False
    out = subprocess.run([REPLICATOR, "--help"], capture_output=True)
    for line in out.stdout.decode(errors="replace").splitlines():
        words = line.split()
        if words and words[0] == name:
            return True
    return False


# ---- stores ------------------------------------------------------------


def store_bytes(path):
    total = 0
    for name in os.listdir(path):
        if name.lower().endswith(".dat"):
            total += os.path.getsize(os.path.join(path, name))
    return total


def ensure_store(records, keys, seed=1):
    """The cached store for these parameters, built with `import` on first
    use.  Returns its metadata (path, records, events, bytes)."""
    name = "store-r%d-k%d-s%d-g%d" % (records, keys, seed, gen.GEN_VERSION)
    path = os.path.join(CACHE, name)
    meta_path = path + ".json"
    if os.path.exists(meta_path) and os.path.isdir(path):
        with open(meta_path) as f:
            meta = json.load(f)
        meta["path"] = path
        meta["cached"] = True
        return meta
    if not has_command("import"):
        raise BenchError("bin/replicator has no 'import' command yet")
    os.makedirs(CACHE, exist_ok=True)
    shutil.rmtree(path, ignore_errors=True)
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    log("building %s (%d records, %d keys) with import..." %
        (name, records, keys))
    errpath = tmp + ".err"
    t0 = time.perf_counter()
    with open(errpath, "wb") as err:
        imp = Measured([REPLICATOR, "import", "--store", tmp],
                       stdin=subprocess.PIPE, stderr=err)
        g = gen.Generator(records, keys, seed)
        out = open(imp.proc.stdin.fileno(), "w", buffering=1 << 20,
                   closefd=False)
        try:
            gen.import_lines(g, out)
            out.flush()
        except BrokenPipeError:
            pass
        imp.proc.stdin.close()
        rc = imp.wait(3600)
    if rc != 0:
        raise BenchError("import failed (%d): %s" % (rc, tail_file(errpath)))
    os.rename(tmp, path)
    os.unlink(errpath)
    meta = {"records": records, "keys": keys, "seed": seed,
            "events": g.events, "data_bytes": g.data_bytes,
            "store_bytes": store_bytes(path),
            "build_seconds": time.perf_counter() - t0,
            "import_seconds": imp.wall, "import_cpu": imp.cpu,
            "import_maxrss": imp.maxrss}
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f)
    os.rename(meta_path + ".tmp", meta_path)
    meta["path"] = path
    meta["cached"] = False
    log("built %s in %.1f s (import %.1f s)" %
        (name, meta["build_seconds"], imp.wall))
    return meta


def link_store(store, workdir, name):
    """A private copy of a cached store (hard links, so it is free) that a
    scenario may append to."""
    dst = os.path.join(workdir, name)
    os.makedirs(dst)
    for f in sorted(os.listdir(store["path"])):
        src = os.path.join(store["path"], f)
        if os.path.isfile(src):
            try:
                os.link(src, os.path.join(dst, f))
            except OSError:
                shutil.copy2(src, os.path.join(dst, f))
    return dst


class Writer:
    """Plays a running .NET writer: a new data file in the store, frames
    appended one write each (spec 3.3: a session never appends to an old
    file)."""

    def __init__(self, store_dir, first_version, key):
        self.path = os.path.join(store_dir, gen.file_name(first_version))
        while os.path.exists(self.path):
            time.sleep(0.2)
            self.path = os.path.join(store_dir, gen.file_name(first_version))
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                          | os.O_APPEND, 0o644)
        self.key = key
        self.stamp = 0

    def append(self, body):
        self.stamp += 1
        data = gen.msgset([("Lokad.SaaS/TailTicked", body)])
        os.write(self.fd, gen.frame(self.stamp, self.key, data))
        return len(data)

    def close(self):
        os.close(self.fd)


# ---- scenarios ---------------------------------------------------------


class Row:
    """One line of the result table."""

    def __init__(self, name, events=None, wall=None, nbytes=None, proc=None,
                 note="", target="", verdict=""):
        self.name = name
        self.events = events
        self.wall = wall
        self.nbytes = nbytes
        self.cpu = proc.cpu if proc else None
        self.maxrss = proc.maxrss if proc else None
        self.note = note
        self.target = target
        self.verdict = verdict

    def eps(self):
        if self.events is None or not self.wall:
            return None
        return self.events / self.wall

    def mbps(self):
        if self.nbytes is None or not self.wall:
            return None
        return self.nbytes / MIB / self.wall

    def cpu_per_m(self):
        if self.cpu is None or not self.events:
            return None
        return self.cpu / self.events * 1e6

    def as_dict(self):
        return {"scenario": self.name, "events": self.events,
                "seconds": self.wall, "events_per_s": self.eps(),
                "mb_per_s": self.mbps(), "cpu_s_per_m": self.cpu_per_m(),
                "peak_rss_mib": self.maxrss / MIB if self.maxrss else None,
                "note": self.note, "target": self.target,
                "verdict": self.verdict}


def verdict(ok, miss_note):
    return "met" if ok else "MISSED (%s)" % miss_note


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.failures = []
        self.work = tempfile.mkdtemp(prefix="run-", dir=CACHE)
        self.results = {}  # scenario name -> Measured, for ratios
        self.peak_rss = {}  # scenario name -> highest RSS of its rounds

    def add(self, row):
        self.rows.append(row)
        self.print_row(row)

    def print_row(self, r):
        log("%s: %s" % (r.name, fmt_row(r)))

    # -- helpers --

    def replicator(self, name, argv, timeout=600, stdout=None):
        """Runs bin/replicator with 'argv' to completion, measured.  Raises
        BenchError with the tail of its log on a non-zero exit."""
        errpath = os.path.join(self.work, name + ".err")
        with open(errpath, "wb") as err:
            m = Measured([REPLICATOR] + argv, stderr=err,
                         stdout=stdout or subprocess.DEVNULL)
            rc = m.wait(timeout)
        if rc != 0:
            raise BenchError("replicator %s exited %d: %s" %
                             (argv[0], rc, tail_file(errpath)))
        return m

    def run_argv(self, script, store, url, cp, *extra):
        return ["run", "--script", os.path.join(SCRIPTS, script),
                "--store", store, "--target", url, "--checkpoint", cp,
                "--until-caught-up"] + list(extra)

    def check_events(self, emu, expected, what, store_dir):
        """Checks that the emulator holds exactly the store's events, besides
        the replicator's own checkpoint stream; returns the emulator's stats
        with 'checkpoints' (events of that stream and of its metadata
        stream) added."""
        st = emu.stats()
        cp_stream = "replicator-checkpoint-" + os.path.basename(store_dir)
        st["checkpoints"] = 0
        # The stream and its metadata stream ($maxCount).
        for stream in (cp_stream, "$$" + cp_stream):
            try:
                st["checkpoints"] += len(emu.read_stream(stream))
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise
        got = st.get("events", 0) - st["checkpoints"]
        if got != expected:
            raise BenchError("%s: the emulator holds %s events (besides %d in"
                             " %s), expected %d (stats %s)" %
                             (what, got, st["checkpoints"], cp_stream,
                              expected, st))
        return st

    # -- baselines --

    def baseline_dump(self, store):
        if not has_command("dump"):
            raise BenchError("bin/replicator has no 'dump' command yet")
        m = self.replicator("dump", ["dump", "--store", store["path"]])
        self.results["dump"] = m
        self.add(Row("baseline: dump > /dev/null", store["records"], m.wall,
                     store["store_bytes"], m,
                     note="%.0f records/s" % (store["records"] / m.wall)))

    def baseline_import(self, store):
        if store.get("import_seconds"):
            r = Row("baseline: import (when the store was built)",
                    store["records"], store["import_seconds"],
                    store["store_bytes"],
                    note="import CPU %.1f s; fed by gen.py, whose speed bounds"
                    " the wall time; %s" % (
                        store["import_cpu"],
                        "cached store" if store["cached"] else "this run"))
            r.cpu = store["import_cpu"]
            self.add(r)

    def baseline_emu(self):
        script = os.path.join(HERE, "emu_ingest.sh")
        if not os.path.exists(script):
            self.add(Row("baseline: emulator alone",
                         note="no bench/emu_ingest.sh"))
            return
        env = dict(os.environ, RP_BIN_DIR=os.path.dirname(EMU))
        p = subprocess.run(["sh", script], capture_output=True, timeout=180,
                           env=env)
        text = (p.stdout + p.stderr).decode(errors="replace").strip()
        if p.returncode != 0:
            raise BenchError("emu_ingest.sh exited %d: %s" %
                             (p.returncode, text[-500:]))
        self.add(Row("baseline: emulator alone (sh bench/emu_ingest.sh)",
                     note=" / ".join(l for l in text.splitlines()
                                     if "events" in l or "RSS" in l)))

    # -- scenarios --

    def paired(self, store, script, key, extra=()):
        """Runs dry-run of 'script' into /dev/null and `run` of it into a
        fresh emulator, alternately, --rounds times (the machine is shared:
        the best of each is the least disturbed); 'extra' flags go to both.
        Returns (best dry-run, best run, the emulator stats and CPU of that
        run, rounds)."""
        best_dr = best_run = None
        for r in range(self.args.rounds):
            dr = self.replicator("dry-run-%s-%d" % (key, r), [
                "dry-run", "--script", os.path.join(SCRIPTS, script),
                "--store", store["path"]] + list(extra))
            emu = Emulator(self.work)
            try:
                m = self.replicator("%s-%d" % (key, r), self.run_argv(
                    script, store["path"], emu.url,
                    os.path.join(self.work, "%s-%d.cp" % (key, r)),
                    *extra))
                st = self.check_events(emu, store["events"], key,
                                       store["path"])
            finally:
                e = emu.stop()
            if best_dr is None or dr.wall < best_dr.wall:
                best_dr = dr
            if best_run is None or m.wall < best_run[0].wall:
                best_run = (m, st, e.cpu)
            self.peak_rss[key] = max(self.peak_rss.get(key, 0), m.maxrss)
        self.results["dry-run-" + key] = best_dr
        self.results[key] = best_run[0]
        self.add(Row("baseline: dry-run %s%s > /dev/null" % (
            script, "".join(" " + a for a in extra)),
                     store["events"], best_dr.wall, store["store_bytes"],
                     best_dr, note="best of %d" % self.args.rounds))
        return best_dr, best_run[0], best_run[1], best_run[2]

    def one_stream(self, store, workers=1):
        extra = ("--workers", str(workers)) if workers > 1 else ()
        key = "one-stream" if workers == 1 else "one-stream-%dw" % workers
        dr, m, st, emu_cpu = self.paired(store, "passthrough.lua", key, extra)
        eps = store["events"] / m.wall
        name = "one stream, passthrough"
        if workers > 1:
            name += ", %d workers" % workers
        self.add(Row(name, store["events"], m.wall,
                     store["store_bytes"], m,
                     note="best of %d; %d requests; emu CPU %.1f s (with the "
                     "replicator's: %.1f s in %.1f s); %.2fx dry-run time, "
                     "%.2fx its CPU" % (
                         self.args.rounds, st.get("requests", 0), emu_cpu,
                         emu_cpu + m.cpu, m.wall, m.wall / dr.wall,
                         m.cpu / dr.cpu),
                     target=">= 300000 ev/s",
                     verdict=verdict(eps >= 300000, "%.0f%% of target" %
                                     (100 * eps / 300000))))

    def decode_encode(self, store):
        dr, m, st, emu_cpu = self.paired(store, "decode.lua", "decode")
        ratio = m.wall / dr.wall
        self.add(Row("decode/encode (cjson)", store["events"], m.wall,
                     store["store_bytes"], m,
                     note="best of %d; %.2fx dry-run time (%.1f s), %.2fx "
                     "its CPU; emu CPU %.1f s" % (
                         self.args.rounds, ratio, dr.wall, m.cpu / dr.cpu,
                         emu_cpu),
                     target="<= 1.25x dry-run",
                     verdict=verdict(ratio <= 1.25, "%.2fx" % ratio)))

    def workers(self, store):
        """The heavy script, examples/split-and-relink.lua (every body
        decoded with the 3.9.35 repair, WCF dates made ISO 8601, types
        renamed, metadata from the record, a second event for billing, the
        body encoded again by the core), in dry-run with 1, 2 and 4 workers,
        alternately, best of --rounds each: the scaling curve."""
        script = os.path.join(ROOT, "examples", "split-and-relink.lua")
        argv = ["dry-run", "--script", script, "--store", store["path"]]
        counts = (1, 2, 4)
        best = {}
        for r in range(self.args.rounds):
            for n in counts:
                m = self.replicator("heavy-%d-%d" % (n, r),
                                    argv + ["--workers", str(n)])
                if n not in best or m.wall < best[n].wall:
                    best[n] = m
                self.peak_rss["heavy-%d" % n] = max(
                    self.peak_rss.get("heavy-%d" % n, 0), m.maxrss)
        # The events, counted once (not timed).
        p = subprocess.Popen([REPLICATOR] + argv + ["--workers", "4"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        events = 0
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
            events += chunk.count(b"\n")
        if p.wait() != 0:
            raise BenchError("heavy dry-run exited %d" % p.returncode)
        one, two = best[1], best[2]
        for n in counts:
            m = best[n]
            rss = self.peak_rss["heavy-%d" % n]
            note = "best of %d; %.0f records/s; peak RSS %.1f MiB" % (
                self.args.rounds, store["records"] / m.wall, rss / MIB)
            target = "RSS <= 64 MiB"
            ok = rss <= 64 * MIB
            miss = "%.1f MiB" % (rss / MIB)
            if n == 2:
                ratio = m.wall / one.wall
                note += "; %.2fx the time of 1 worker, %.2fx its CPU" % (
                    ratio, m.cpu / one.cpu)
                target = "<= 0.60x 1 worker; " + target
                ok = ok and ratio <= 0.60
                miss = "%.2fx; %s" % (ratio, miss)
            elif n == 4:
                ratio = m.wall / two.wall
                note += "; %.2fx the time of 2 workers, %.2fx of 1" % (
                    ratio, m.wall / one.wall)
                target = "<= 1.00x 2 workers (%d cores); %s" % (
                    os.cpu_count(), target)
                ok = ok and ratio <= 1.0
                miss = "%.2fx; %s" % (ratio, miss)
            self.add(Row("heavy script, dry-run, %d worker%s" % (
                n, "s" if n > 1 else ""), events, m.wall,
                store["store_bytes"], m, note=note, target=target,
                verdict=verdict(ok, miss)))

    def per_aggregate(self, store):
        lat = 5
        inflight = self.args.max_in_flight
        emu = Emulator(self.work, "--latency-ms", str(lat))
        try:
            m = self.replicator("per-aggregate", self.run_argv(
                "per_aggregate.lua", store["path"], emu.url,
                os.path.join(self.work, "per-aggregate.cp"),
                "--max-in-flight", str(inflight)))
            st = self.check_events(emu, store["events"], "per aggregate",
                                   store["path"])
        finally:
            emu.stop()
        eps = store["events"] / m.wall
        appends = st.get("appends") or 1
        self.add(Row("per aggregate, %d streams, %d ms latency" %
                     (st.get("streams", 0), lat),
                     store["events"], m.wall, store["store_bytes"], m,
                     note="--max-in-flight %d, %d appends (%.1f ev/append, "
                     "%.0f us replicator CPU per append)" %
                     (inflight, appends, store["events"] / appends,
                      m.cpu / appends * 1e6),
                     target=">= 50000 ev/s",
                     verdict=verdict(eps >= 50000, "%.0f%% of target" %
                                     (100 * eps / 50000))))

    def many_streams(self, store):
        emu = Emulator(self.work)
        try:
            m = self.replicator("many-streams", self.run_argv(
                "per_aggregate.lua", store["path"], emu.url,
                os.path.join(self.work, "many-streams.cp")))
            st = self.check_events(emu, store["events"], "many streams",
                                   store["path"])
        finally:
            emu.stop()
        reads = emu_reads(st)
        streams = st.get("streams", 0)
        ok = reads is not None and reads < 100 and m.maxrss <= 64 * MIB
        self.add(Row("many streams: %d streams, fresh" % streams,
                     store["events"], m.wall, store["store_bytes"], m,
                     note="%s read requests, %d appends (%.0f us replicator "
                     "CPU per append)" %
                     ("?" if reads is None else reads, st.get("appends", 0),
                      m.cpu / max(1, st.get("appends", 0)) * 1e6),
                     target="no read per stream, RSS <= 64 MiB",
                     verdict=verdict(ok, "%s reads, %.1f MiB" %
                                     (reads, m.maxrss / MIB))))

    def memory(self, big):
        """Passthrough over the big store (in a private linked copy that the
        restart scenario then appends to); RSS compared with the 1 M run."""
        small = self.peak_rss.get("one-stream")
        store_dir = link_store(big, self.work, "memstore")
        emu = Emulator(self.work)
        cp = os.path.join(self.work, "memory.cp")
        try:
            m = self.replicator("memory", self.run_argv(
                "passthrough.lua", store_dir, emu.url, cp), timeout=1800)
            self.check_events(emu, big["events"], "memory", store_dir)
            self.results["memory"] = m
            self.add(self.memory_row(big, m, small))
            self.restart(big, store_dir, emu, cp)
        finally:
            emu.stop()

    def memory_row(self, big, m, small):
        """'small': the highest peak RSS of the 1 M one-stream runs."""
        ratio = m.maxrss / small if small else None
        ok = m.maxrss <= 64 * MIB and (ratio is None or ratio <= 1.15)
        note = "peak RSS %.1f MiB" % (m.maxrss / MIB)
        if small:
            note += "; 1 M: %.1f MiB; ratio %.2f" % (small / MIB, ratio)
        return Row("memory: %d M records, passthrough" %
                   (big["records"] // 1000000), big["events"], m.wall,
                   big["store_bytes"], m, note=note,
                   target="RSS <= 64 MiB, same as at 1 M",
                   verdict=verdict(ok, "%.1f MiB, ratio %s" % (
                       m.maxrss / MIB,
                       "?" if ratio is None else "%.2f" % ratio)))

    def restart(self, big, store_dir, emu, cp):
        # 1. Nothing new: start, find the end, exit.
        m = self.replicator("restart-idle", self.run_argv(
            "passthrough.lua", store_dir, emu.url, cp))
        full = self.results.get("memory")
        scan = "" if not full else "; the full run took CPU %.1f s" % full.cpu
        self.add(Row("restart at the end: nothing new", None, m.wall, None, m,
                     note="to exit %.3f s, CPU %.3f s%s" % (m.wall, m.cpu,
                                                           scan),
                     target="caught up <= 0.5 s",
                     verdict=verdict(m.wall <= 0.5, "%.2f s" % m.wall)))
        # 2. One record appended by a new writer session.
        before = emu.stats().get("appends", 0)
        w = Writer(store_dir, big["records"] + 1, "restart:1")
        w.append(tail_body(1))
        w.close()
        errpath = os.path.join(self.work, "restart-one.err")
        with open(errpath, "wb") as err:
            mm = Measured([REPLICATOR] + self.run_argv(
                "passthrough.lua", store_dir, emu.url, cp), stderr=err)
            first = None
            deadline = time.monotonic() + 120
            while not mm.done():
                if first is None and emu.stats().get("appends", 0) > before:
                    first = time.perf_counter() - mm.t0
                if time.monotonic() > deadline:
                    mm.wait(0)
                time.sleep(0.002)
        if mm.rc != 0:
            raise BenchError("restart with one record exited %d: %s" %
                             (mm.rc, tail_file(errpath)))
        self.check_events(emu, big["events"] + 1, "restart", store_dir)
        if first is None:
            first = mm.wall
        self.add(Row("restart at the end: one new record", None, mm.wall, None,
                     mm, note="first append after %.3f s, exit after "
                     "%.3f s" % (first, mm.wall),
                     target="sending <= 0.5 s",
                     verdict=verdict(first <= 0.5, "%.2f s" % first)))

    def live_tail(self, seconds):
        period = 0.010
        store_dir = os.path.join(self.work, "tailstore")
        os.makedirs(store_dir)
        # A small history first, as a store would have.
        w0 = Writer(store_dir, 1, "customer:1")
        for i in range(100):
            w0.append(tail_body(-1))
        w0.close()
        emu = Emulator(self.work)
        errpath = os.path.join(self.work, "tail.err")
        err = open(errpath, "wb")
        rp = Measured([REPLICATOR, "run", "--script",
                       os.path.join(SCRIPTS, "per_aggregate.lua"),
                       "--store", store_dir, "--target", emu.url,
                       "--checkpoint", os.path.join(self.work, "tail.cp")],
                      stderr=err)
        try:
            deadline = time.monotonic() + 30
            while emu.stats().get("events", 0) < 100:
                if rp.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("live tail: history not replicated: %s"
                                     % tail_file(errpath))
                time.sleep(0.05)
            time.sleep(0.5)
            n = int(seconds / period)
            w = Writer(store_dir, 101, "tail:1")
            t0 = time.monotonic()
            for i in range(n):
                delay = t0 + i * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                w.append(tail_body(i))
            w.close()
            # Wait for the last record (the stats also count checkpoint
            # events, so look at the stream itself).
            deadline = time.monotonic() + 10
            while True:
                entries = [e for e in emu.dump()
                           if e.get("stream") == "tail-1"]
                if len(entries) >= n or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            st = emu.stats()
            if entries and "createdUs" not in entries[0]:
                entries = emu.read_stream("tail-1")
        finally:
            rp.signal(signal.SIGTERM)
            rp.wait(30)
            err.close()
            emu.stop()
        lat = []
        for ev in entries:
            body = ev.get("data")
            if isinstance(body, str):
                body = json.loads(body)
            wrote = int(body["WrittenAtUs"])
            if "createdUs" in ev:  # the dump: commit time in microseconds
                lat.append((int(ev["createdUs"]) - wrote) / 1000.0)
            else:
                # AtomPub 'updated': the commit time truncated to the
                # millisecond; one more makes each figure an upper bound.
                lat.append((iso_us(ev["updated"]) + 1000 - wrote) / 1000.0)
        if len(lat) != n:
            raise BenchError("live tail: %d of %d appended records arrived "
                             "(stats %s)" % (len(lat), n, st))
        lat.sort()
        p50 = percentile(lat, 50)
        p99 = percentile(lat, 99)
        self.add(Row("live tail: 1 record / 10 ms for %d s" % seconds, n,
                     seconds, None, rp,
                     note="append->201 p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                     % (p50, p99, lat[-1]),
                     target="p50 <= 10 ms, p99 <= 50 ms",
                     verdict=verdict(p50 <= 10 and p99 <= 50,
                                     "p50 %.1f, p99 %.1f ms" % (p50, p99))))


def emu_reads(st):
    """Read requests the emulator answered, from its stats."""
    if "reads" in st:
        return st["reads"]
    if "requests" in st and "appends" in st:
        return st["requests"] - st["appends"]
    return None


def iso_us(text):
    """Unix microseconds of an ISO-8601 UTC time such as
    2013-03-15T12:00:00.1234567Z."""
    base, _, frac = text.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    us = int((frac + "000000")[:6]) if frac else 0
    return int(t.timestamp()) * 1000000 + us


def tail_body(i):
    doc = '{"Seq":%d,"WrittenAtUs":"%d"}' % (i, time.time_ns() // 1000)
    return gen.pretty(doc).encode()


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def num(v, fmt):
    return "-" if v is None else fmt % v


def fmt_row(r):
    return "%s ev/s, %s MB/s, %s CPU s/M ev, %s MiB RSS; %s %s" % (
        num(r.eps(), "%.0f"), num(r.mbps(), "%.1f"), num(r.cpu_per_m(), "%.2f"),
        num(r.maxrss / MIB if r.maxrss else None, "%.1f"), r.note, r.verdict)


HEAD = ("scenario", "events", "s", "events/s", "MB/s", "CPU s/M ev",
        "RSS MiB", "measured", "target", "verdict")


def table(rows):
    lines = ["| " + " | ".join(HEAD) + " |",
             "|" + "|".join("---" for _ in HEAD) + "|"]
    for r in rows:
        cells = [r.name, num(r.events, "%d"), num(r.wall, "%.2f"),
                 num(r.eps(), "%.0f"), num(r.mbps(), "%.1f"),
                 num(r.cpu_per_m(), "%.2f"),
                 num(r.maxrss / MIB if r.maxrss else None, "%.1f"),
                 r.note, r.target, r.verdict]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells)
                     + " |")
    return "\n".join(lines)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%s, nproc %d, %s, %.0f GiB RAM, %s, %s UTC" % (
        platform.node(), os.cpu_count(), model, mem, platform.release(),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()))


SCENARIOS = ("baselines", "one-stream", "workers", "decode", "per-aggregate",
             "many-streams", "live-tail", "memory")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true",
                    default=os.environ.get("BENCH_FULL") == "1",
                    help="60 s live tail and 10 M records for memory")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--big-records", type=int, default=None,
                    help="store size of the memory scenario (3 M; 10 M "
                    "with --full)")
    ap.add_argument("--tail-seconds", type=float, default=None)
    ap.add_argument("--max-in-flight", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate dry-run and run this many times for "
                    "the one-stream and decode ratios (best of each)")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch folder (logs, checkpoints)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    bad = only - set(SCENARIOS)
    if bad:
        ap.error("unknown scenario(s): %s" % ",".join(sorted(bad)))
    want = (lambda s: not only or s in only)
    big_records = args.big_records or (10000000 if args.full else 3000000)
    tail_s = args.tail_seconds or (60 if args.full else 15)
    if not os.access(REPLICATOR, os.X_OK):
        log("missing %s: run make first" % REPLICATOR)
        return 1
    os.makedirs(CACHE, exist_ok=True)
    build_rusage()
    b = Bench(args)
    t_start = time.perf_counter()
    load_start = "%.1f %.1f %.1f" % os.getloadavg()
    log("machine: %s" % machine())

    def step(what, fn, *a):
        log("-- %s" % what)
        try:
            fn(*a)
        except (BenchError, OSError, subprocess.SubprocessError,
                ValueError, KeyError) as e:
            msg = str(e).strip().replace("\n", " / ")
            b.failures.append("%s: %s" % (what, msg))
            b.add(Row(what, note="could not run: " + msg[:300],
                      verdict="ERROR"))

    store = None
    try:
        store = ensure_store(args.records, 3000)
    except BenchError as e:
        b.failures.append("store: %s" % e)
        b.add(Row("store %d records" % args.records, note=str(e),
                  verdict="ERROR"))
    if store:
        log("store: %d records, %d events, %.1f MB (%s)" % (
            store["records"], store["events"], store["store_bytes"] / 1e6,
            store["path"]))
        if want("baselines"):
            b.baseline_import(store)
            step("baseline: dump", b.baseline_dump, store)
        if want("baselines") or want("one-stream") or want("memory"):
            step("one stream, passthrough", b.one_stream, store)
        if want("one-stream"):
            step("one stream, passthrough, 2 workers", b.one_stream, store, 2)
        if want("workers"):
            step("heavy script, 1, 2 and 4 workers", b.workers, store)
        if want("decode"):
            step("decode/encode", b.decode_encode, store)
        if want("per-aggregate"):
            step("per aggregate with latency", b.per_aggregate, store)
    if want("many-streams"):
        def many():
            b.many_streams(ensure_store(200000, 100000))
        step("many streams", many)
    if want("live-tail"):
        step("live tail", b.live_tail, tail_s)
    if want("memory"):
        def mem():
            big = ensure_store(big_records, 3000)
            b.memory(big)
        step("memory + restart", mem)
    if want("baselines"):
        step("baseline: emulator", b.baseline_emu)

    total = time.perf_counter() - t_start
    print()
    print("Machine: %s; load average at the start %s, at the end %s" % (
        machine(), load_start, "%.1f %.1f %.1f" % os.getloadavg()))
    env = "BENCH_FULL=1 " if args.full and "--full" not in sys.argv else ""
    print("Command: %s%s (total %.0f s)" % (
        env, " ".join(["python3", "bench/run.py"] + sys.argv[1:]), total))
    print()
    print(table(b.rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "seconds": total,
                       "rows": [r.as_dict() for r in b.rows]}, f, indent=1)
    if not args.keep:
        shutil.rmtree(b.work, ignore_errors=True)
    else:
        log("scratch kept in %s" % b.work)
    if b.failures:
        print()
        for f in b.failures:
            print("error: %s" % f)
        return 1
    return 0


def kill_live():
    for m in list(Measured.live):
        m.kill()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_live()
