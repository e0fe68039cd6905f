"""esdb-emu reads: content negotiation (behaviour 30), the feed shape (31),
paging (32), embed levels (33), read errors (34), single events (35), link
resolution (36); and the /_emu/dump and /_emu/stats control endpoints."""
import base64
import json
import unittest

from emuclient import (APP_JSON, ATOM_JSON, KURRENT_ATOM_JSON, OCTET,
                       EmuTestCase, ev, fresh, new_id, quote)

ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$"


def links(doc):
    """A feed's or entry's links as {relation: uri}."""
    out = {}
    for link in doc["links"]:
        out[link["relation"]] = link["uri"]
    return out


def numbers(doc):
    """The event numbers of a page's entries, from their titles ({n}@{s}),
    which every embed level has."""
    return [int(e["title"].split("@", 1)[0]) for e in doc["entries"]]


class Negotiation(EmuTestCase):
    """Behaviour 30."""

    ARGS = ["--profile", "v20"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = fresh()
        assert cls.emu.append(cls.s, [ev()]).status == 201

    def test_b30_no_accept_is_406_with_description(self):
        for accept in [None, "*/*"]:
            r = self.emu.get("/streams/" + quote(self.s), accept=accept)
            self.assertStatus(r, 406, repr(accept))
            doc = r.json()
            self.assertIn("title", doc)
            self.assertIn("description", doc)
            self.assertIn("_links", doc)

    def test_b30_format_query_overrides_accept(self):
        # spec 5.1: ?format=json instead of an Accept header
        r = self.emu.get("/streams/%s?format=json" % quote(self.s),
                         accept=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["streamId"], self.s)

    def test_b30_no_accept_on_page_urls(self):
        r = self.emu.get("/streams/%s/0/forward/5" % quote(self.s),
                         accept=None)
        self.assertStatus(r, 406)

    def test_b30_feed_media_types(self):
        for accept in [ATOM_JSON, APP_JSON]:
            r = self.emu.get("/streams/" + quote(self.s), accept=accept)
            self.assertStatus(r, 200, accept)
            self.assertTrue(r.header("Content-Type").startswith(accept),
                            r.header("Content-Type"))
            self.assertEqual(r.json()["streamId"], self.s)

    def test_b30_kurrent_type_only_in_v25(self):
        r = self.emu.get("/streams/" + quote(self.s), accept=KURRENT_ATOM_JSON)
        self.assertStatus(r, 406)
        emu = self.start_emu(["--profile", "v25"])
        s = fresh()
        self.assertStatus(emu.append(s, [ev()]), 201)
        r = emu.get("/streams/" + quote(s), accept=KURRENT_ATOM_JSON)
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["streamId"], s)
        r = emu.get("/streams/" + quote(s), accept=ATOM_JSON)
        self.assertStatus(r, 200)


class Feed(EmuTestCase):
    """Behaviours 31-34 on a stream of 25 events and one of 5."""

    ARGS = ["--profile", "v20"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = fresh("big")
        cls.big_ids = [new_id() for _ in range(25)]
        r = cls.emu.append(cls.big, [ev(i, "T%d" % n, {"n": n})
                                     for n, i in enumerate(cls.big_ids)])
        assert r.status == 201, r
        cls.s = fresh("five")
        cls.ids = [new_id() for _ in range(5)]
        r = cls.emu.append(cls.s, [ev(i, data={"n": n})
                                   for n, i in enumerate(cls.ids)])
        assert r.status == 201, r

    def page(self, stream, page, embed=None):
        r = self.emu.feed(stream, page, embed)
        self.assertStatus(r, 200, page)
        return r.json()

    def url(self, stream, rest=""):
        return self.emu.stream_url(stream) + rest

    # 31
    def test_b31_top_level_shape(self):
        doc = self.page(self.s, "")
        for key in ["title", "id", "updated", "streamId", "author",
                    "headOfStream", "links", "entries"]:
            self.assertIn(key, doc)
        self.assertEqual(doc["title"], "Event stream '%s'" % self.s)
        self.assertEqual(doc["id"], self.url(self.s))
        self.assertEqual(doc["streamId"], self.s)
        self.assertEqual(doc["author"], {"name": "EventStore"})
        self.assertIs(doc["headOfStream"], True)
        self.assertRegex(doc["updated"], ISO_Z)
        for link in doc["links"]:
            self.assertEqual(set(link) - {"type"}, {"uri", "relation"})
        # backward head read: selfUrl and eTag
        self.assertIsInstance(doc["selfUrl"], str)
        self.assertTrue(doc["selfUrl"])
        self.assertIsInstance(doc["eTag"], str)
        self.assertTrue(doc["eTag"])
        self.assertEqual(numbers(doc), [4, 3, 2, 1, 0])

    def test_b31_default_page_size(self):
        doc = self.page(self.big, "")
        self.assertEqual(numbers(doc), list(range(24, 4, -1)))
        lk = links(doc)
        self.assertEqual(lk["next"], self.url(self.big, "/4/backward/20"))
        self.assertEqual(lk["previous"], self.url(self.big, "/25/forward/20"))
        self.assertEqual(lk["metadata"], self.url(self.big, "/metadata"))

    def test_b31_newest_first_in_forward_pages(self):
        doc = self.page(self.big, "/3/forward/10")
        self.assertEqual(numbers(doc), list(range(12, 2, -1)))
        doc = self.page(self.big, "/20/forward/10", "body")
        self.assertEqual(numbers(doc), [24, 23, 22, 21, 20])
        self.assertEqual([e["eventId"] for e in doc["entries"]],
                         self.big_ids[20:][::-1])

    # 32
    def test_b32_forward_page_links(self):
        doc = self.page(self.s, "/0/forward/2")
        self.assertEqual(numbers(doc), [1, 0])
        self.assertIs(doc["headOfStream"], False)
        lk = links(doc)
        self.assertEqual(lk["previous"], self.url(self.s, "/2/forward/2"))
        self.assertEqual(lk["first"], self.url(self.s, "/head/backward/2"))
        self.assertNotIn("next", lk)
        self.assertNotIn("last", lk)
        doc = self.page(self.s, "/2/forward/2")
        self.assertEqual(numbers(doc), [3, 2])
        lk = links(doc)
        self.assertEqual(lk["previous"], self.url(self.s, "/4/forward/2"))
        self.assertEqual(lk["next"], self.url(self.s, "/1/backward/2"))
        self.assertEqual(lk["last"], self.url(self.s, "/0/forward/2"))

    def test_b32_forward_page_reaching_the_end(self):
        doc = self.page(self.s, "/3/forward/2")
        self.assertEqual(numbers(doc), [4, 3])
        self.assertIs(doc["headOfStream"], True)
        self.assertEqual(links(doc)["previous"],
                         self.url(self.s, "/5/forward/2"))
        doc = self.page(self.s, "/4/forward/5")
        self.assertEqual(numbers(doc), [4])
        self.assertIs(doc["headOfStream"], True)
        self.assertEqual(links(doc)["previous"],
                         self.url(self.s, "/5/forward/5"))

    def test_b32_past_the_end(self):
        for page in ["/5/forward/2", "/10/forward/3", "/1000/forward/20"]:
            doc = self.page(self.s, page)
            self.assertEqual(doc["entries"], [], page)
            self.assertIs(doc["headOfStream"], True, page)
            self.assertNotIn("previous", links(doc), page)

    def test_b32_backward_pages(self):
        doc = self.page(self.s, "/3/backward/2")
        self.assertEqual(numbers(doc), [3, 2])
        self.assertIs(doc["headOfStream"], False)
        lk = links(doc)
        self.assertEqual(lk["next"], self.url(self.s, "/1/backward/2"))
        self.assertEqual(lk["previous"], self.url(self.s, "/4/forward/2"))
        doc = self.page(self.s, "/1/backward/2")
        self.assertEqual(numbers(doc), [1, 0])
        self.assertNotIn("next", links(doc))
        doc = self.page(self.s, "/2/3")          # short form is backward
        self.assertEqual(numbers(doc), [2, 1, 0])
        doc = self.page(self.s, "/head/backward/3")
        self.assertEqual(numbers(doc), [4, 3, 2])
        self.assertIs(doc["headOfStream"], True)
        self.assertEqual(links(doc)["next"], self.url(self.s, "/1/backward/3"))
        doc = self.page(self.s, "/20/backward/3")   # beyond the end
        self.assertEqual(links(doc)["previous"],
                         self.url(self.s, "/5/forward/3"))

    def test_b32_pages_cover_the_stream(self):
        # following 'previous' from 0 reads everything exactly once
        seen = []
        url = self.url(self.big, "/0/forward/7")
        for _ in range(10):
            doc = self.page(self.big, url[len(self.url(self.big)):])
            seen.extend(reversed(numbers(doc)))
            if "previous" not in links(doc):
                break
            url = links(doc)["previous"]
        self.assertEqual(seen, list(range(25)))

    # 33
    def test_b33_embed_none(self):
        doc = self.page(self.s, "/0/forward/1")
        e = doc["entries"][0]
        self.assertEqual(e["title"], "0@" + self.s)
        self.assertEqual(e["summary"], "Tested")
        self.assertRegex(e["updated"], ISO_Z)
        self.assertEqual(e["author"], {"name": "EventStore"})
        self.assertEqual(e["id"], self.url(self.s, "/0"))
        lk = links(e)
        self.assertEqual(lk["edit"], self.url(self.s, "/0"))
        self.assertEqual(lk["alternate"], self.url(self.s, "/0"))
        for rich in ["eventId", "data", "isJson"]:
            self.assertNotIn(rich, e)

    def test_b33_embed_body_and_tryharder(self):
        s = fresh()
        events = [ev(data={"j": 1}),
                  ev(data="plain text"),
                  ev(data={"j": 2}, metadata={"m": 1}),
                  ev(data="text", metadata="meta")]
        self.assertStatus(self.emu.append(s, events), 201)
        doc = self.page(s, "", "body")
        es = list(reversed(doc["entries"]))
        for n, e in enumerate(es):
            self.assertEqual(e["eventId"], events[n]["eventId"])
            self.assertEqual(e["eventType"], "Tested")
            self.assertEqual(e["eventNumber"], n)
            self.assertEqual(e["streamId"], s)
            self.assertEqual(e["positionEventNumber"], n)
            self.assertEqual(e["positionStreamId"], s)
            self.assertIsInstance(e["isMetaData"], bool)
            self.assertIs(e["isLinkMetaData"], False)
        # events without metadata
        self.assertIs(es[0]["isMetaData"], False)
        self.assertIs(es[1]["isMetaData"], False)
        self.assertEqual([e["isJson"] for e in es], [True, False, True, False])
        self.assertIsInstance(es[0]["data"], str)
        self.assertEqual(json.loads(es[0]["data"]), {"j": 1})
        self.assertIsNone(es[1].get("data"))           # non-JSON: absent
        self.assertIsNone(es[3].get("data"))
        self.assertIsNone(es[0].get("metaData"))       # empty metadata
        self.assertEqual(json.loads(es[2]["metaData"]), {"m": 1})
        self.assertEqual(es[3]["metaData"], "meta")
        doc = self.page(s, "", "tryharder")
        es = list(reversed(doc["entries"]))
        self.assertEqual(es[1]["data"], "plain text")
        self.assertEqual(es[3]["data"], "text")
        self.assertEqual(json.loads(es[0]["data"]), {"j": 1})

    # 34
    def test_b34_never_existing_stream(self):
        s = fresh()
        self.assertStatus(self.emu.feed(s), 404)
        self.assertStatus(self.emu.feed(s, "/0/forward/20"), 404)
        self.assertStatus(self.emu.read_bytes(s, 0), 404)

    def test_b34_bad_counts(self):
        for count in ["0", "-1", "abc", "1.5"]:
            r = self.emu.feed(self.s, "/0/forward/" + count)
            self.assertStatus(r, 400, count)
            r = self.emu.feed(self.s, "/4/backward/" + count)
            self.assertStatus(r, 400, count)
        for page in ["/0/forward/4097", "/head/backward/5000"]:
            r = self.emu.feed(self.s, page)
            self.assertStatus(r, 500, page)
            self.assertEqual(r.reason, "Read size too big, should be less "
                             "than 4096 items")
        doc = self.page(self.s, "/0/forward/4096")
        self.assertEqual(numbers(doc), [4, 3, 2, 1, 0])

    def test_b34_bad_from(self):
        for page in ["/-1/forward/2", "/x/forward/2", "/head/forward/2"]:
            self.assertStatus(self.emu.feed(self.s, page), 400, page)

    # 35
    def test_b35_single_event(self):
        s = fresh()
        raw = b"\x00binary\xff"
        self.assertStatus(self.emu.append(s, [ev(data={"a": [1, "x"]}),
                                              ev(data="just text")]), 201)
        self.assertStatus(self.emu.post_plain(s, raw, OCTET, "B", new_id()),
                          201)
        r = self.emu.read_bytes(s, 2)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, raw)
        r = self.emu.read_bytes(s, 1)
        self.assertEqual(r.body, b"just text")
        r = self.emu.get("/streams/%s/0" % quote(s), accept=APP_JSON)
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"a": [1, "x"]})
        r = self.emu.get("/streams/%s/1" % quote(s), accept=APP_JSON)
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), "just text")
        r = self.emu.get("/streams/%s/head" % quote(s), accept=OCTET)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, raw)
        for n in [3, 99]:
            self.assertStatus(self.emu.read_bytes(s, n), 404)
            self.assertStatus(self.emu.get("/streams/%s/%d" % (quote(s), n),
                                           accept=APP_JSON), 404)


class Links(EmuTestCase):
    """Behaviour 36."""

    ARGS = ["--profile", "v20"]

    def test_b36_link_resolution(self):
        t = fresh("target")
        tids = [new_id() for _ in range(3)]
        self.assertStatus(self.emu.append(t, [ev(i, "Tgt%d" % n, {"k": n})
                                              for n, i in enumerate(tids)]),
                          201)
        lnk = fresh("index")
        lids = [new_id(), new_id()]
        r = self.emu.append(lnk, [ev(lids[0], "$>", "1@" + t),
                                  ev(lids[1], "$>", "2@" + t)])
        self.assertStatus(r, 201)
        # default: resolved
        doc = self.emu.feed(lnk, "", "body").json()
        e1, e0 = doc["entries"]
        self.assertEqual(e0["eventType"], "Tgt1")
        self.assertEqual(e0["eventNumber"], 1)
        self.assertEqual(e0["streamId"], t)
        self.assertEqual(e0["eventId"], tids[1])
        self.assertEqual(json.loads(e0["data"]), {"k": 1})
        self.assertEqual(e0["positionStreamId"], lnk)
        self.assertEqual(e0["positionEventNumber"], 0)
        self.assertEqual(e1["eventNumber"], 2)
        self.assertEqual(e1["positionEventNumber"], 1)
        # explicit true is the same
        doc = self.emu.feed(lnk, "", "body",
                            [("ES-ResolveLinkTos", "True")]).json()
        self.assertEqual(doc["entries"][1]["eventId"], tids[1])
        # false: the raw link
        doc = self.emu.feed(lnk, "", "tryharder",
                            [("ES-ResolveLinkTos", "false")]).json()
        e1, e0 = doc["entries"]
        self.assertEqual(e0["eventType"], "$>")
        self.assertEqual(e0["eventId"], lids[0])
        self.assertEqual(e0["streamId"], lnk)
        self.assertEqual(e0["eventNumber"], 0)
        self.assertEqual(e0["data"], "1@" + t)
        self.assertEqual(e1["data"], "2@" + t)
        doc = self.emu.feed(lnk, "", "body",
                            [("ES-ResolveLinkTos", "false")]).json()
        self.assertIsNone(doc["entries"][1].get("data"))
        # single-event reads resolve by default too
        r = self.emu.read_bytes(lnk, 0)
        self.assertEqual(json.loads(r.body), {"k": 1})
        r = self.emu.get("/streams/%s/0" % quote(lnk), accept=OCTET,
                         headers=[("ES-ResolveLinkTos", "false")])
        self.assertEqual(r.body, ("1@" + t).encode())
        d = self.emu.dump_stream(lnk)
        self.assertEqual([x["data"] for x in d], ["1@" + t, "2@" + t])
        self.assertEqual([x["eventType"] for x in d], ["$>", "$>"])

    def test_b36_link_to_stream_with_at_sign(self):
        t = fresh("a@b")
        tid = new_id()
        self.assertStatus(self.emu.append(t, [ev(tid)]), 201)
        lnk = fresh()
        self.assertStatus(self.emu.post_plain(lnk, ("0@" + t).encode(), OCTET,
                                              "$>", new_id()), 201)
        doc = self.emu.feed(lnk, "", "body").json()
        self.assertEqual(doc["entries"][0]["eventId"], tid)
        self.assertEqual(doc["entries"][0]["streamId"], t)
        self.assertEqual(doc["entries"][0]["positionStreamId"], lnk)


class ControlEndpoint(EmuTestCase):
    """GET /_emu/dump and /_emu/stats (interfaces.md)."""

    ARGS = ["--profile", "v20"]

    def test_dump_rows(self):
        emu = self.start_emu(["--profile", "v20"])
        b, a = fresh("b"), fresh("a")
        ia, ib = new_id(), new_id()
        self.assertStatus(emu.append(b, [ev(ib, "TB", "text")]), 201)
        self.assertStatus(emu.append(a, [ev(ia, "TA", {"x": 1},
                                            {"m": True})]), 201)
        self.assertStatus(emu.post_plain(a, b"\xff\x00", OCTET, "Bin",
                                         new_id()), 201)
        rows = emu.dump()
        self.assertEqual([(r["stream"], r["eventNumber"]) for r in rows],
                         [(a, 0), (a, 1), (b, 0)])
        r0 = rows[0]
        self.assertEqual(r0["eventId"], ia)
        self.assertEqual(r0["eventType"], "TA")
        self.assertIs(r0["isJson"], True)
        self.assertEqual(json.loads(r0["data"]), {"x": 1})
        self.assertEqual(json.loads(r0["metadata"]), {"m": True})
        self.assertEqual(base64.b64decode(rows[1]["dataBase64"]), b"\xff\x00")
        self.assertNotIn("data", rows[1])
        self.assertEqual(rows[2]["data"], "text")
        self.assertIs(rows[2]["isJson"], False)
        self.assertEqual(rows[2]["metadata"], "")

    def test_stats(self):
        emu = self.start_emu(["--profile", "v20"])
        st = emu.stats()
        self.assertEqual((st["appends"], st["events"], st["streams"]),
                         (0, 0, 0))
        s, t = fresh(), fresh()
        self.assertStatus(emu.append(s, [ev(), ev()]), 201)
        self.assertStatus(emu.append(t, [ev()]), 201)
        st = emu.stats()
        self.assertEqual((st["appends"], st["events"], st["streams"]),
                         (2, 3, 2))
        self.assertGreaterEqual(st["requests"], 2)
        before = st["requests"]
        emu.feed(s)
        self.assertGreater(emu.stats()["requests"], before)
        # a refused append stores nothing and creates no stream
        self.assertStatus(emu.append(fresh(), [ev()], 3), 400)
        st = emu.stats()
        self.assertEqual((st["events"], st["streams"]), (3, 2))

    def test_control_refuses_unknown_fault_kind(self):
        emu = self.start_emu(["--profile", "v20"])
        for obj in [{"kind": "no-such-fault"}, {}, {"kind": 3}]:
            r = emu.control("POST", "/_emu/faults", obj)
            self.assertStatus(r, 400, repr(obj))
        r = emu.request("POST", "/_emu/faults", b"{not json",
                        [("Content-Type", "application/json")], auth=None)
        self.assertStatus(r, 400)
        s = fresh()
        self.assertStatus(emu.append(s, [ev()]), 201)

    def test_control_needs_no_auth(self):
        emu = self.start_emu(["--profile", "v23", "--auth", "u:p"])
        self.assertStatus(emu.control("GET", "/_emu/stats"), 200)
        self.assertStatus(emu.control("GET", "/_emu/dump"), 200)
        emu.clear_cache()
        emu.fault("not-ready")
        emu.clear_faults()
        emu.switches(anonymous=False)


if __name__ == "__main__":
    unittest.main()
