"""esdb-emu --data FILE: a restart after SIGKILL keeps the streams, forgets
the -2 idempotency cache (behaviour 15, open question 2) and keeps exact-E
idempotency (behaviour 9); a torn last line does not stop it from starting."""
import os
import shutil
import tempfile
import unittest

from emuclient import OCTET, Emu, EmuTestCase, ev, fresh, new_id


class Persistence(EmuTestCase):

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="emu-data-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "store.jsonl")

    def boot(self, profile="v20"):
        e = Emu(["--profile", profile, "--data", self.path]).start()
        self.addCleanup(e.kill)
        return e

    def crash(self, emu):
        emu.kill()
        emu.check_stderr()

    def test_restart_keeps_streams(self):
        emu = self.boot()
        s, t, u, h = fresh(), fresh("a$b c"), fresh(), fresh()
        raw = bytes(range(256))
        self.assertStatus(emu.append(s, [ev(data={"x": [1, 2]},
                                            metadata={"m": "é"}),
                                         ev(data="text")], -1), 201)
        self.assertStatus(emu.post_plain(s, raw, OCTET, "Bin", new_id()), 201)
        self.assertStatus(emu.post_plain(t, b'{a : 1}', event_id=new_id()),
                          201)
        self.seed_stream(emu, u, 2)
        self.assertStatus(emu.delete(u), 204)
        self.seed_stream(emu, h, 1)
        self.assertStatus(emu.delete(h, hard=True), 204)
        before = emu.dump()
        self.crash(emu)
        emu = self.boot()
        self.assertEqual(emu.dump(), before)
        self.assertEqual(emu.read_bytes(s, 2).body, raw)
        self.assertEqual(emu.read_bytes(t, 0).body, b'{a : 1}')
        self.assertCreated(emu.append(s, [ev()], 2), emu, s, 3)
        self.assertWEV(emu.append(s, [ev()], 2), 3)
        self.assertStatus(emu.feed(u), 404)
        self.assertCreated(emu.append(u, [ev()], -2), emu, u, 2)
        self.assertStatus(emu.append(h, [ev()]), 410)
        self.assertStatus(emu.feed(h), 410)
        emu.stop()

    def test_b15_restart_forgets_any_cache(self):
        emu = self.boot()
        s = fresh()
        b = [ev(), ev()]
        self.assertCreated(emu.append(s, b), emu, s, 0)
        self.assertCreated(emu.append(s, b), emu, s, 0)
        self.crash(emu)
        emu = self.boot()
        self.assertCreated(emu.append(s, b), emu, s, 2)
        ids = [e["eventId"] for e in b]
        self.assertIds(emu, s, ids + ids)

    def test_b09_exact_e_idempotency_after_restart(self):
        emu = self.boot()
        s = fresh()
        ids = self.seed_stream(emu, s, 5)
        self.crash(emu)
        emu = self.boot()
        self.assertCreated(emu.append(s, [ev(i) for i in ids[3:]], 2),
                           emu, s, 3)
        self.assertCreated(emu.append(s, [ev(i) for i in ids], -1), emu, s, 0)
        self.assertWEV(emu.append(s, [ev(new_id())], 2), 4)
        self.assertWEV(emu.append(s, [ev(ids[3]), ev(ids[4]), ev()], 2), 4)
        self.assertIds(emu, s, ids)

    def test_torn_last_line(self):
        emu = self.boot()
        s = fresh()
        kept = self.seed_stream(emu, s, 3)
        last = new_id()
        self.assertStatus(emu.append(s, [ev(last, data="z" * 300)], 2), 201)
        self.crash(emu)
        size = os.path.getsize(self.path)
        self.assertGreater(size, 300)
        with open(self.path, "r+b") as f:
            f.truncate(size - 40)
        emu = self.boot()
        got = [d["eventId"] for d in emu.dump_stream(s)]
        self.assertEqual(got[:3], kept)
        self.assertIn(got, [kept, kept + [last]])
        n = len(got)
        more = new_id()
        self.assertCreated(emu.append(s, [ev(more)], n - 1), emu, s, n)
        # what is written after the torn line survives the next crash
        self.crash(emu)
        emu = self.boot()
        self.assertEqual([d["eventId"] for d in emu.dump_stream(s)],
                         got + [more])
        emu.stop()

    def test_garbage_tail_without_newline(self):
        emu = self.boot()
        s = fresh()
        kept = self.seed_stream(emu, s, 2)
        self.crash(emu)
        with open(self.path, "ab") as f:
            f.write(b'{"stream": "' + s.encode() + b'", "eventNum')
        emu = self.boot()
        self.assertEqual([d["eventId"] for d in emu.dump_stream(s)], kept)
        more = new_id()
        self.assertCreated(emu.append(s, [ev(more)], 1), emu, s, 2)
        self.crash(emu)
        emu = self.boot()
        self.assertEqual([d["eventId"] for d in emu.dump_stream(s)],
                         kept + [more])

    def test_sigterm_keeps_data(self):
        emu = self.boot()
        s = fresh()
        ids = self.seed_stream(emu, s, 4)
        self.assertEqual(emu.stop(), 0)
        emu = self.boot()
        self.assertIds(emu, s, ids)
        emu.stop()

    def test_missing_file_is_created(self):
        self.assertFalse(os.path.exists(self.path))
        emu = self.boot()
        s = fresh()
        ids = self.seed_stream(emu, s, 1)
        self.crash(emu)
        self.assertTrue(os.path.exists(self.path))
        emu = self.boot()
        self.assertIds(emu, s, ids)

    def test_unusable_data_path_is_an_error(self):
        bad = os.path.join(self.dir, "no", "such", "dir", "store.jsonl")
        e = Emu(["--profile", "v20", "--data", bad])
        with self.assertRaises(AssertionError) as cm:
            e.start(timeout=10)
        e.kill()
        self.assertIn("exited", str(cm.exception))
        self.assertNotEqual(e.proc.returncode, 0)
        self.assertIn(bad, e.stderr())


if __name__ == "__main__":
    unittest.main()
