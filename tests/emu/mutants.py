#!/usr/bin/env python3
"""Checks that the tests of tests/emu catch a broken emulator: builds copies
of bin/esdb-emu with one deliberate bug each (a "mutant") and runs the tests
that should notice it.  Every mutant must be CAUGHT (some test fails).

    python3 tests/emu/mutants.py [NAME-PREFIX ...]

Not part of `make e2e`: it rebuilds the emulator once per mutant (about a
two minutes in all).  A mutant whose code pattern no longer exists is reported as
such; update its pattern when the emulator's code changes."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (name, file in tests/emu, RP_TEST_FILTER of the tests expected to fail,
#  code, its replacement)
MUTANTS = [
    ('M1 partial overlap appends', 'store.c', 'test_b11',
     '            return EMU_WEV; /* partial overlap */',
     '            return EMU_APPEND;'),
    ('M2 corrupted -2 appends', 'store.c', 'test_b14',
     '                return EMU_WEV; /* corrupted idempotency */',
     '                return EMU_APPEND;'),
    ('M3 E==last checks ids', 'store.c', 'test_b06',
     '    if (expected == c)\n        return EMU_APPEND;',
     ''),
    ('M4 -4 absent appends', 'store.c', 'test_b08',
     '        if (m == NULL || m->count == 0)\n            return EMU_WEV;',
     ''),
    ('M5 -2 hit Location c+1', 'store.c', 'test_b12',
     '        *first = n0;',
     '        *first = c + 1;'),
    ('M6 write_on_413 ignored', 'api.c', 'test_b27',
     '        if (!srv->write_on_413)\n            goto done;',
     '        goto done;'),
    ('M7 timeout-committed not written', 'api.c', 'test_b42',
     '    if (dec == EMU_APPEND) {\n        first = emu_store_append',
     '    if (dec == EMU_APPEND && kind != EMU_F_TIMEOUT_COMMITTED) {\n        first = emu_store_append'),
    ('M8 drop-after not written', 'api.c', 'drop_after',
     '    if (dec == EMU_APPEND) {\n        first = emu_store_append',
     '    if (dec == EMU_APPEND && kind != EMU_F_DROP_AFTER) {\n        first = emu_store_append'),
    ('M9 clear cache no-op', 'store.c', 'test_b15',
     '    for (s = st->first; s != NULL; s = s->all) {\n        free(s->cache);',
     '    for (s = st->first; s != NULL && 0; s = s->all) {\n        free(s->cache);'),
    ('M10 WEV current+1', 'api.c', 'test_b05',
     '        reply_wev(srv, rep, current);',
     '        reply_wev(srv, rep, current + 1);'),
    ('M11 redirect without path', 'api.c', 'test_b39',
     '    rp_buf_add(&loc, req->target, req->target_len);',
     ''),
    ('M12 oldest first', 'read.c', 'test_b31',
     '    for (n = hi; n >= lo; n--) {\n        if (n != hi)',
     '    for (n = lo; n <= hi; n++) {\n        if (n != lo)'),
    ('M13 no leader writes ok', 'api.c', 'test_b40',
     '    if (srv->leader < 0) {\n        emu_reply_status(rep, 503',
     '    if (srv->leader < -5) {\n        emu_reply_status(rep, 503'),
    ('M14 follower ignores require-leader', 'api.c', 'test_b39',
     '    if (req->node == srv->leader || !need_leader)',
     '    if (1)'),
    ('M15 idempotent-not-ready answers', 'api.c', 'test_b43',
     '    case EMU_F_TIMEOUT_COMMITTED:\n    case EMU_F_IDEMPOTENT_NOT_READY:',
     '    case EMU_F_TIMEOUT_COMMITTED:'),
    ('M16 torn tail not cut', 'store.c', 'test_persistence',
     '    if (ftruncate(st->log_fd, (off_t)good) != 0) {',
     '    if (0) {'),
    ('M17 soft-deleted -1 refused', 'store.c', 'test_b28',
     '            if (p == 0 && expected == -1 && s->state == EMU_SOFT_DELETED)\n                return EMU_APPEND;',
     ''),
    ('M18 seed ignored', 'main.c', 'Random',
     '    srv.rng = have_seed ? seed : (uint64_t)time(NULL) ^ (uint64_t)getpid();',
     # (not time ^ pid ^ seed: two runs a second apart, their pids one
     # apart, often give the same value, and the mutant goes unseen)
     '    srv.rng = rp_now_ns() ^ seed;'),
    ('M19 v23 message in reason', 'api.c', 'test_b24',
     '    if (srv->profile == EMU_V5 || srv->profile == EMU_V20) {\n        emu_reply_status(rep, 400, msg);',
     '    if (1) {\n        emu_reply_status(rep, 400, msg);'),
    ('M20 v23 anonymous allowed', 'api.c', 'test_b38',
     '    return who != AUTH_ANON || srv->anonymous;',
     '    return 1;'),
    ('M21 v5 gossip Leader', 'api.c', 'test_b41',
     '        return v5 ? "Master" : "Leader";',
     '        return "Leader";'),
    ('M22 half-sent no timeout', 'server.c', 'half_sent',
     '            timer_set(lp, c, c->req_start + lp->srv->request_timeout_ms);',
     '            timer_set(lp, c, c->req_start + 100000);'),
    ('M23 timeout-committed not written, -2 retry', 'api.c', 'any_retry',
     '    if (dec == EMU_APPEND) {\n        first = emu_store_append',
     '    if (dec == EMU_APPEND && kind != EMU_F_TIMEOUT_COMMITTED) {\n        first = emu_store_append'),
    ('M24 latency serialised', 'server.c', 'Latency',
     '    delay = rep.delay_ms + srv->latency_ms;',
     '    { struct timespec ts = {0, (long)srv->latency_ms * 1000000L}; nanosleep(&ts, NULL); } delay = rep.delay_ms;'),
    ('M25 json shown verbatim', 'common.c', 'test_b26',
     '        if (emu_json_indent(tmp, e->data, e->data_len) == 0) {',
     '        if (0) {'),
    ('M26 no Kurrent-CurrentVersion', 'api.c', 'test_b05',
     '    if (srv->profile == EMU_V25)\n        emu_reply_header(rep, "Kurrent-CurrentVersion"',
     '    if (0)\n        emu_reply_header(rep, "Kurrent-CurrentVersion"'),
    ('M27 restart keeps -2 cache', 'store.c', 'test_b15_restart',
     '    emu_store_clear_cache(st);',
     ''),
]


def build(work, path, old, new):
    """Copies the emulator sources into work/src with one replacement and
    builds work/esdb-emu.  Returns None or the reason it could not."""
    src = os.path.join(work, "src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    for name in os.listdir(HERE):
        if name.endswith((".c", ".h")):
            shutil.copy(os.path.join(HERE, name), src)
    with open(os.path.join(src, path)) as f:
        text = f.read()
    if old not in text:
        return "pattern not found"
    with open(os.path.join(src, path), "w") as f:
        f.write(text.replace(old, new, 1))
    cmd = ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O1", "-w",
           "-I" + os.path.join(ROOT, "src"), "-I" + src,
           "-o", os.path.join(work, "esdb-emu")]
    cmd += [os.path.join(src, n) for n in sorted(os.listdir(src))
            if n.endswith(".c")]
    cmd += [os.path.join(ROOT, "src", "util.c"),
            os.path.join(ROOT, "src", "json.c"), "-lm", "-lpthread"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return None if r.returncode == 0 else "build failed: " + r.stderr[-300:]


def main(prefixes):
    missed = 0
    with tempfile.TemporaryDirectory(prefix="emu-mutants-") as work:
        for name, path, flt, old, new in MUTANTS:
            if prefixes and not any(name.startswith(p) for p in prefixes):
                continue
            why = build(work, path, old, new)
            if why:
                print("SKIPPED %s: %s" % (name, why))
                missed += 1
                continue
            env = dict(os.environ, RP_BIN_DIR=work, RP_TEST_FILTER=flt)
            r = subprocess.run([sys.executable,
                                os.path.join(ROOT, "tests", "pyrun.py"),
                                HERE], env=env, capture_output=True,
                               text=True, timeout=600)
            last = (r.stdout + r.stderr).strip().splitlines()[-1]
            print("%s %s: %s" % ("CAUGHT" if r.returncode else "MISSED",
                                 name, last))
            missed += r.returncode == 0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
