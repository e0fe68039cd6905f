"""esdb-emu idempotency (behaviours 9-16), the rules of
eventstore-http-api.md 3.2 and the worked examples of 3.3."""
import unittest

from emuclient import EmuTestCase, ev, fresh, new_id


class Idempotency:
    V25 = False

    def setUp(self):
        # events 0..4 with ids a..e (spec 3.3)
        self.s = fresh()
        self.ids = self.seed_stream(self.emu, self.s, 5)
        self.a, self.b, self.c, self.d, self.e = self.ids

    def post(self, ids, expected):
        return self.emu.append(self.s, [ev(i) for i in ids], expected)

    def wev(self, r, current):
        self.assertWEV(r, current, v25=self.V25)

    def unchanged(self):
        self.assertIds(self.emu, self.s, self.ids)

    # 9
    def test_b09_exact_e_repeat(self):
        self.assertCreated(self.post([self.d, self.e], 2), self.emu, self.s, 3)
        self.assertCreated(self.post([self.c], 1), self.emu, self.s, 2)
        self.assertCreated(self.post(self.ids, -1), self.emu, self.s, 0)
        self.assertCreated(self.post([self.a, self.b], -1), self.emu,
                           self.s, 0)
        self.assertCreated(self.post([self.b, self.c, self.d, self.e], 0),
                           self.emu, self.s, 1)
        self.unchanged()

    def test_b09_exact_e_ignores_any_cache_clearing(self):
        # index-based: holds when the -2 cache is gone
        self.emu.clear_cache()
        self.assertCreated(self.post([self.d, self.e], 2), self.emu, self.s, 3)
        self.assertCreated(self.post([self.b], 0), self.emu, self.s, 1)
        self.unchanged()

    def test_b09_ids_compare_as_guids(self):
        # event ids are GUIDs (spec 4.2): the text's case does not matter
        up = [self.d.upper(), self.e.upper()]
        self.assertCreated(self.post(up, 2), self.emu, self.s, 3)
        self.assertCreated(self.post(up, -2), self.emu, self.s, 3)
        t = fresh()
        i = new_id()
        self.assertCreated(self.emu.append(t, [ev(i.upper())], -1), self.emu,
                           t, 0)
        self.assertCreated(self.emu.append(t, [ev(i)], -1), self.emu, t, 0)
        self.assertCreated(self.emu.append(t, [ev(i)]), self.emu, t, 0)
        self.assertIds(self.emu, t, [i])
        self.unchanged()

    # 10
    def test_b10_first_mismatch(self):
        self.wev(self.post([new_id(), self.e], 2), 4)
        self.wev(self.post([self.e], 2), 4)
        self.wev(self.post([self.a], 0), 4)
        self.wev(self.post([new_id()], -1), 4)
        self.unchanged()

    # 11
    def test_b11_partial_overlap(self):
        f = new_id()
        self.wev(self.post([self.d, self.e, f], 2), 4)      # runs past last
        self.wev(self.post([self.c, new_id()], 1), 4)       # id differs
        self.wev(self.post([self.b, self.c, self.e], 0), 4)
        self.wev(self.post(self.ids + [f], -1), 4)
        self.unchanged()
        self.assertEqual(self.emu.dump_stream(self.s)[-1]["eventId"], self.e)

    # 12
    def test_b12_any_hit(self):
        self.assertCreated(self.post([self.d, self.e], -2), self.emu,
                           self.s, 3)
        self.assertCreated(self.post([self.b], -2), self.emu, self.s, 1)
        self.assertCreated(self.post(self.ids, -2), self.emu, self.s, 0)
        self.assertCreated(self.post([self.c, self.d], None), self.emu,
                           self.s, 2)
        self.unchanged()

    def test_b12_any_hit_with_stream_exists(self):
        # E = -4 behaves like Any on an existing stream (rule 6)
        self.assertCreated(self.post([self.d, self.e], -4), self.emu,
                           self.s, 3)
        self.unchanged()

    def test_b12_any_hit_location_is_original_number(self):
        # the Location is the cached number of the first id, not C+1
        more = [new_id(), new_id()]
        self.assertCreated(self.post(more, -2), self.emu, self.s, 5)
        self.assertCreated(self.post(more, -2),
                           self.emu, self.s, 5)
        self.assertCreated(self.post(more[1:], -2), self.emu, self.s, 6)
        self.assertIds(self.emu, self.s, self.ids + more)

    # 13
    def test_b13_any_miss_first_id_decides(self):
        f = new_id()
        self.assertCreated(self.post([f, self.d], -2), self.emu, self.s, 5)
        self.assertIds(self.emu, self.s, self.ids + [f, self.d])

    def test_b13_any_miss_stream_exists(self):
        f = new_id()
        self.assertCreated(self.post([f, self.a, self.b], -4), self.emu,
                           self.s, 5)
        self.assertIds(self.emu, self.s, self.ids + [f, self.a, self.b])

    # 14
    def test_b14_any_corrupted(self):
        for expected in [-2, None, -4]:
            r = self.post([self.d, new_id()], expected)
            self.assertStatus(r, 400, "E=%r" % expected)
            self.assertEqual(r.reason, "Wrong expected EventNumber")
            self.assertIsNotNone(r.header("ES-CurrentVersion"), repr(r))
            r = self.post([self.a, self.b, new_id(), self.c], expected)
            self.assertStatus(r, 400)
        self.unchanged()

    # 15
    def test_b15_clearing_the_cache_duplicates(self):
        self.assertCreated(self.post([self.d, self.e], -2), self.emu,
                           self.s, 3)
        self.emu.clear_cache()
        self.assertCreated(self.post([self.d, self.e], -2), self.emu,
                           self.s, 5)
        self.assertIds(self.emu, self.s, self.ids + [self.d, self.e])
        # ids written after the clear are cached again
        self.assertCreated(self.post([self.d, self.e], -2), self.emu,
                           self.s, 5)
        self.assertIds(self.emu, self.s, self.ids + [self.d, self.e])

    def test_b15_clear_is_every_stream(self):
        t = fresh()
        tids = self.seed_stream(self.emu, t, 2, expected=-2)
        self.emu.clear_cache()
        self.assertCreated(self.post([self.a], -2), self.emu, self.s, 5)
        r = self.emu.append(t, [ev(i) for i in tids], -2)
        self.assertCreated(r, self.emu, t, 2)
        self.assertIds(self.emu, t, tids + tids)

    # 16
    def test_b16_ids_scoped_per_stream(self):
        t = fresh()
        x = new_id()
        self.assertCreated(self.emu.append(t, [ev(x)], -1), self.emu, t, 0)
        # a and b live in s; in t they are new
        r = self.emu.append(t, [ev(self.a), ev(self.b)], -2)
        self.assertCreated(r, self.emu, t, 1)
        # x cached for t, d cached only for s: corrupted in t
        r = self.emu.append(t, [ev(x), ev(self.d)], -2)
        self.assertStatus(r, 400)
        # the same ids again in t are now cached for t
        r = self.emu.append(t, [ev(self.a), ev(self.b)], -2)
        self.assertCreated(r, self.emu, t, 1)
        self.assertIds(self.emu, t, [x, self.a, self.b])
        self.unchanged()

    def test_b16_exact_e_in_other_stream(self):
        t = fresh()
        r = self.emu.append(t, [ev(i) for i in self.ids], -1)
        self.assertCreated(r, self.emu, t, 0)
        self.assertIds(self.emu, t, self.ids)

    # rule 8 vs rule 10 (3.3 worked example "E=4, [d,e]")
    def test_b06_expected_last_duplicates_after_repeat(self):
        self.assertCreated(self.post([self.d, self.e], 4), self.emu, self.s, 5)
        self.assertIds(self.emu, self.s, self.ids + [self.d, self.e])


class IdempotencyV20(Idempotency, EmuTestCase):
    ARGS = ["--profile", "v20"]


class IdempotencyV25(Idempotency, EmuTestCase):
    ARGS = ["--profile", "v25"]
    V25 = True


class PlainIdempotency(EmuTestCase):
    """Plain bodies with ES-EventId follow the same rules."""

    ARGS = ["--profile", "v5"]

    def test_b12_plain_body_any_repeat(self):
        s = fresh()
        i = new_id()
        for _ in range(2):
            r = self.emu.post_plain(s, b'{"p": 1}', event_id=i)
            self.assertCreated(r, self.emu, s, 0)
        self.assertIds(self.emu, s, [i])

    def test_b09_plain_body_exact_repeat(self):
        s = fresh()
        i = new_id()
        self.assertCreated(self.emu.post_plain(s, b"1", event_id=i,
                                               expected=-1), self.emu, s, 0)
        self.emu.post_plain(s, b"2", event_id=new_id())
        self.emu.clear_cache()
        self.assertCreated(self.emu.post_plain(s, b"1", event_id=i,
                                               expected=-1), self.emu, s, 0)
        self.assertEqual(len(self.emu.dump_stream(s)), 2)


if __name__ == "__main__":
    unittest.main()
