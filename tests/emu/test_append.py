"""esdb-emu appends: status, Location, numbering, atomicity, expected
versions (behaviours 1-8), plain bodies and the no-id redirect (17-21),
content types and header values (22-23), body validation and data handling
(24-27) and deletes (28-29)."""
import json
import re
import threading
import unittest

from emuclient import (APP_JSON, EVENTS_JSON, MAX_EVENT, OCTET, EmuTestCase,
                       ev, fresh, new_id, quote)

UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-" \
    "[0-9a-fA-F]{12}"


class AppendBasics:
    """Behaviours 1-8; mixed into one class per profile."""

    V25 = False

    def wev(self, r, current):
        self.assertWEV(r, current, v25=self.V25)

    # 1
    def test_b01_created_location_and_empty_body(self):
        s = fresh()
        r = self.emu.append(s, [ev(), ev()], -1)
        self.assertCreated(r, self.emu, s, 0)
        r = self.emu.append(s, [ev()])
        self.assertCreated(r, self.emu, s, 2)

    def test_b01_location_escapes_stream_name(self):
        s = fresh("a$b c")
        r = self.emu.append(s, [ev()])
        self.assertStatus(r, 201)
        loc = r.header("Location")
        self.assertEqual(loc, "%s/streams/%s/0" % (self.emu.url, quote(s)))
        self.assertIn("a%24b%20c-", loc)
        self.assertEqual(self.emu.dump_stream(s)[0]["stream"], s)

    def test_b01_location_escapes_utf8_and_slash(self):
        for name, escaped in [("str\u00fcm", "str%C3%BCm"), ("a/b", "a%2Fb"),
                              ("x@y", None)]:
            s = fresh(name)
            r = self.emu.append(s, [ev()])
            self.assertCreated(r, self.emu, s, 0)
            if escaped:
                self.assertIn("/streams/" + escaped + "-", r.header("Location"))
            self.assertEqual(self.emu.dump_stream(s)[0]["stream"], s)

    # 2
    def test_b02_big_batch_is_contiguous(self):
        s = fresh()
        ids = [new_id() for _ in range(3000)]
        self.assertCreated(self.emu.append(s, [ev(i) for i in ids], -1,
                                           timeout=20), self.emu, s, 0)
        d = self.emu.dump_stream(s)
        self.assertEqual([x["eventId"] for x in d], ids)
        self.assertEqual([x["eventNumber"] for x in d], list(range(3000)))

    def test_b02_concurrent_appends(self):
        # racing -2 appends all land, contiguous; racing -1 appends: one wins
        s, t = fresh(), fresh()
        results = []
        lock = threading.Lock()

        def worker(k):
            mine = []
            for _ in range(10):
                mine.append(self.emu.append(s, [ev(), ev()]))
            first = self.emu.append(t, [ev()], -1)
            with lock:
                results.append((mine, first))

        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(len(results), 8)
        starts = sorted(int(r.header("Location").rsplit("/", 1)[1])
                        for mine, _ in results for r in mine)
        self.assertEqual(starts, list(range(0, 160, 2)))
        self.assertEqual([x["eventNumber"] for x in self.emu.dump_stream(s)],
                         list(range(160)))
        firsts = [f for _, f in results]
        self.assertEqual(sorted(f.status for f in firsts), [201] + [400] * 7)
        for f in firsts:
            if f.status == 400:
                self.assertWEV(f, 0, v25=self.V25)
        self.assertEqual(len(self.emu.dump_stream(t)), 1)

    # 2
    def test_b02_numbers_are_contiguous(self):
        s = fresh()
        ids = [new_id() for _ in range(6)]
        self.assertCreated(self.emu.append(s, [ev(i) for i in ids[:2]]),
                           self.emu, s, 0)
        self.assertCreated(self.emu.append(s, [ev(i) for i in ids[2:5]], 1),
                           self.emu, s, 2)
        self.assertCreated(self.emu.append(s, [ev(ids[5])], -2),
                           self.emu, s, 5)
        self.assertIds(self.emu, s, ids)

    def test_b02_refused_batch_writes_nothing(self):
        s = fresh()
        ids = self.seed_stream(self.emu, s, 2)
        # second event invalid: whole batch refused
        bad = [ev(), {"eventId": "nope", "eventType": "T", "data": {}}]
        self.assertStatus(self.emu.append(s, bad, 1), 400)
        bad = [ev(), {"eventId": new_id(), "data": {}}]
        self.assertStatus(self.emu.append(s, bad, 1), 400)
        # wrong expected version
        self.wev(self.emu.append(s, [ev(), ev()], 5), 1)
        self.assertIds(self.emu, s, ids)
        # on a new stream as well
        t = fresh()
        self.assertStatus(self.emu.append(t, bad), 400)
        self.assertAbsent(self.emu, t)

    # 3
    def test_b03_missing_expected_version_is_any(self):
        s = fresh()
        ids = [new_id(), new_id()]
        self.assertCreated(self.emu.append(s, [ev(i) for i in ids]),
                           self.emu, s, 0)
        # idempotent like -2: same batch again is not written twice
        self.assertCreated(self.emu.append(s, [ev(i) for i in ids]),
                           self.emu, s, 0)
        # corrupted like -2
        r = self.emu.append(s, [ev(ids[0]), ev()])
        self.assertStatus(r, 400)
        self.assertIsNotNone(r.header("ES-CurrentVersion"))
        # and appends at the end like -2
        more = new_id()
        self.assertCreated(self.emu.append(s, [ev(more)]), self.emu, s, 2)
        self.assertIds(self.emu, s, ids + [more])

    # 4
    def test_b04_bad_expected_version_values(self):
        s = fresh()
        ids = self.seed_stream(self.emu, s, 1)
        for bad in ["abc", "1.5", "-5", "0x1", "1 2", "--1",
                    "99999999999999999999", "-99999999999999999999"]:
            r = self.emu.append(s, [ev()], bad)
            self.assertStatus(r, 400, "ES-ExpectedVersion %r" % bad)
            self.assertIsNone(r.header("ES-CurrentVersion"), repr(r))
            self.assertBadRequestText(r, "ExpectedVersion header in wrong "
                                      "format.")
        self.assertIds(self.emu, s, ids)
        t = fresh()
        self.assertStatus(self.emu.append(t, [ev()], "x"), 400)
        self.assertAbsent(self.emu, t)

    # 5
    def test_b05_expected_beyond_last(self):
        s = fresh()
        self.wev(self.emu.append(s, [ev()], 0), -1)
        self.wev(self.emu.append(s, [ev()], 7), -1)
        self.assertAbsent(self.emu, s)
        ids = self.seed_stream(self.emu, s, 3)
        self.wev(self.emu.append(s, [ev()], 3), 2)
        self.wev(self.emu.append(s, [ev(), ev()], 100), 2)
        self.assertIds(self.emu, s, ids)

    # 6
    def test_b06_expected_equal_last_writes_duplicates(self):
        s = fresh()
        ids = self.seed_stream(self.emu, s, 2)
        r = self.emu.append(s, [ev(i) for i in ids], 1)
        self.assertCreated(r, self.emu, s, 2)
        self.assertIds(self.emu, s, ids + ids)

    # 7
    def test_b07_no_stream(self):
        s = fresh()
        ids = [new_id(), new_id()]
        self.assertCreated(self.emu.append(s, [ev(i) for i in ids], -1),
                           self.emu, s, 0)
        # existing stream, event 0 has another id
        self.wev(self.emu.append(s, [ev()], -1), 1)
        self.wev(self.emu.append(s, [ev(), ev(ids[1])], -1), 1)
        self.assertIds(self.emu, s, ids)

    # 8
    def test_b08_stream_exists(self):
        s = fresh()
        self.wev(self.emu.append(s, [ev()], -4), -1)
        self.assertAbsent(self.emu, s)
        ids = self.seed_stream(self.emu, s, 2)
        more = new_id()
        self.assertCreated(self.emu.append(s, [ev(more)], -4), self.emu, s, 2)
        self.assertIds(self.emu, s, ids + [more])

    def test_b05_new_stream_only_any_and_no_stream(self):
        # spec 3.2: for a never-seen stream only -2 and -1 succeed
        for e in [0, 1, -4]:
            s = fresh()
            self.wev(self.emu.append(s, [ev()], e), -1)
            self.assertAbsent(self.emu, s)


class AppendV5(AppendBasics, EmuTestCase):
    ARGS = ["--profile", "v5"]

    def assertBadRequestText(self, r, text):
        self.assertIn(text, r.reason)
        self.assertEqual(r.body, b"")


class AppendV20(AppendBasics, EmuTestCase):
    ARGS = ["--profile", "v20"]

    def assertBadRequestText(self, r, text):
        self.assertIn(text, r.reason)
        self.assertEqual(r.body, b"")


class AppendV25(AppendBasics, EmuTestCase):
    ARGS = ["--profile", "v25"]
    V25 = True

    def assertBadRequestText(self, r, text):
        self.assertEqual(r.reason, "Bad Request")
        self.assertIn(text, r.body.decode())


class PlainBodies(EmuTestCase):
    """Behaviours 17-21: application/json and octet-stream single events."""

    ARGS = ["--profile", "v20"]

    # 17
    def test_b17_json_body_stored_verbatim_unvalidated(self):
        s = fresh()
        i = new_id()
        body = b'{a : "1",\n  "b":   [1,2 ,3]'    # not JSON at all
        r = self.emu.post_plain(s, body, event_type="Raw", event_id=i)
        self.assertCreated(r, self.emu, s, 0)
        d = self.emu.dump_stream(s)
        self.assertEqual(len(d), 1)
        self.assertEqual(d[0]["eventId"], i)
        self.assertEqual(d[0]["eventType"], "Raw")
        self.assertIs(d[0]["isJson"], True)
        self.assertEqual(d[0]["data"], body.decode())
        self.assertEqual(d[0]["metadata"], "")
        got = self.emu.read_bytes(s, 0)
        self.assertStatus(got, 200)
        self.assertEqual(got.body, body)

    def test_b17_json_body_with_charset_and_expected_version(self):
        s = fresh()
        body = b'{"x": 1}'
        r = self.emu.post_plain(s, body, APP_JSON + "; charset=utf-8",
                                event_id=new_id(), expected=-1)
        self.assertCreated(r, self.emu, s, 0)
        r = self.emu.post_plain(s, body, event_id=new_id(), expected=5)
        self.assertWEV(r, 0)
        self.assertEqual(self.emu.read_bytes(s, 0).body, body)

    # 18
    def test_b18_json_body_needs_event_type(self):
        s = fresh()
        r = self.emu.post_plain(s, b"{}", event_type=None, event_id=new_id())
        self.assertStatus(r, 400)
        r = self.emu.post_plain(s, b"{}", event_type=None, event_id=None)
        self.assertStatus(r, 400)      # type checked before the redirect
        self.assertIsNone(r.header("Location"))
        self.assertAbsent(self.emu, s)

    # 19
    def test_b19_json_body_without_id_redirects(self):
        s = fresh("a$b")
        r = self.emu.post_plain(s, b'{"k": 1}', event_id=None)
        self.assertStatus(r, 307)
        loc = r.header("Location")
        m = re.fullmatch(re.escape(self.emu.stream_url(s)) + "/incoming/("
                         + UUID_RE + ")", loc or "")
        self.assertIsNotNone(m, loc)
        self.assertEqual(r.body, b"Forwarding to idempotent URI")
        self.assertTrue(r.header("Content-Type").startswith("text/plain"),
                        repr(r))
        self.assertAbsent(self.emu, s)
        # two redirects give two fresh ids
        r2 = self.emu.post_plain(s, b'{"k": 1}', event_id=None)
        self.assertNotEqual(r2.header("Location"), loc)

    # 20
    def test_b20_incoming_is_idempotent(self):
        s = fresh()
        r = self.emu.post_plain(s, b'{"k": 1}', event_id=None)
        self.assertStatus(r, 307)
        loc = r.header("Location")
        path = loc[len(self.emu.url):]
        eid = path.rsplit("/", 1)[1]
        for _ in range(2):
            r = self.emu.request("POST", path, b'{"k": 1}',
                                 [("Content-Type", APP_JSON),
                                  ("ES-EventType", "Incoming")])
            self.assertCreated(r, self.emu, s, 0)
        d = self.emu.dump_stream(s)
        self.assertEqual([x["eventId"] for x in d], [eid])
        self.assertEqual(d[0]["eventType"], "Incoming")
        self.assertEqual(d[0]["data"], '{"k": 1}')
        # events+json is refused there
        r = self.emu.request("POST", "/streams/%s/incoming/%s"
                             % (quote(s), new_id()),
                             json.dumps([ev()]),
                             [("Content-Type", EVENTS_JSON)])
        self.assertStatus(r, 415)
        self.assertEqual(len(self.emu.dump_stream(s)), 1)

    def test_b20_incoming_fresh_id_then_other_events(self):
        s = fresh()
        self.seed_stream(self.emu, s, 2)
        i = new_id()
        path = "/streams/%s/incoming/%s" % (quote(s), i)
        h = [("Content-Type", APP_JSON), ("ES-EventType", "In")]
        self.assertCreated(self.emu.request("POST", path, b"[1]", h),
                           self.emu, s, 2)
        self.assertCreated(self.emu.request("POST", path, b"[1]", h),
                           self.emu, s, 2)
        self.assertEqual([x["eventId"] for x in self.emu.dump_stream(s)][2:],
                         [i])
        # still the original Location after other events were appended
        self.assertStatus(self.emu.append(s, [ev(), ev()]), 201)
        self.assertCreated(self.emu.request("POST", path, b"[1]", h),
                           self.emu, s, 2)
        self.assertEqual(len(self.emu.dump_stream(s)), 5)

    # 21
    def test_b21_octet_stream_exact_bytes(self):
        s = fresh()
        body = bytes(range(256)) + b"\x00\xff\xfe" + "é".encode()
        i = new_id()
        r = self.emu.post_plain(s, body, OCTET, event_type="Bin", event_id=i)
        self.assertCreated(r, self.emu, s, 0)
        got = self.emu.read_bytes(s, 0)
        self.assertStatus(got, 200)
        self.assertEqual(got.body, body)
        d = self.emu.dump_stream(s)[0]
        self.assertIs(d["isJson"], False)
        self.assertEqual(d["eventId"], i)
        self.assertEqual(d["eventType"], "Bin")
        import base64
        self.assertEqual(base64.b64decode(d["dataBase64"]), body)

    def test_b21_octet_stream_utf8_text_and_empty(self):
        s = fresh()
        for body in [b"SGVsbG8gV29ybGQ=", b"", b'{"a":1}']:
            r = self.emu.post_plain(s, body, OCTET, event_type="Bin",
                                    event_id=new_id())
            self.assertStatus(r, 201)
        for n, body in enumerate([b"SGVsbG8gV29ybGQ=", b"", b'{"a":1}']):
            self.assertEqual(self.emu.read_bytes(s, n).body, body)
        d = self.emu.dump_stream(s)
        self.assertEqual(d[0]["data"], "SGVsbG8gV29ybGQ=")
        self.assertEqual([x["isJson"] for x in d], [False, False, False])

    def test_b21_octet_stream_needs_event_type(self):
        s = fresh()
        for eid in [new_id(), None]:
            r = self.emu.post_plain(s, b"\x01", OCTET, event_type=None,
                                    event_id=eid)
            self.assertStatus(r, 400)
            self.assertIsNone(r.header("Location"))
        self.assertAbsent(self.emu, s)

    def test_b21_octet_stream_without_id(self):
        s = fresh()
        r = self.emu.post_plain(s, b"\x01\x02", OCTET, event_type="Bin")
        self.assertStatus(r, 307)
        loc = r.header("Location")
        self.assertRegex(loc, "^" + re.escape(self.emu.stream_url(s))
                         + "/incoming/" + UUID_RE + "$")
        r = self.emu.request("POST", loc[len(self.emu.url):], b"\x01\x02",
                             [("Content-Type", OCTET),
                              ("ES-EventType", "Bin")])
        self.assertStatus(r, 415)
        self.assertAbsent(self.emu, s)


class ContentTypes(EmuTestCase):
    """Behaviours 22-23."""

    ARGS = ["--profile", "v20"]

    # 22
    def test_b22_missing_or_unknown_content_type(self):
        s = fresh()
        body = json.dumps([ev()])
        for ct in [None, "text/plain", "application/xml-whatever",
                   "application/vnd.eventstore.events+json-x",
                   "Application/Vnd.EventStore.Events+Json",
                   EVENTS_JSON + "; charset=latin1",
                   EVENTS_JSON + "; charset=iso-8859-1",
                   OCTET + "; charset=utf-8"]:
            h = [("ES-EventType", "T"), ("ES-EventId", new_id())]
            if ct is not None:
                h.append(("Content-Type", ct))
            r = self.emu.request("POST", "/streams/" + quote(s), body, h)
            self.assertStatus(r, 415, "Content-Type %r" % ct)
            self.assertEqual(r.reason, "Invalid or missing Content-Type")
        self.assertAbsent(self.emu, s)

    def test_b22_charset_utf8_accepted(self):
        s = fresh()
        for ct in [EVENTS_JSON + "; charset=utf-8",
                   EVENTS_JSON + "; charset=UTF-8",
                   EVENTS_JSON + ";charset=Utf-8"]:
            r = self.emu.append(s, [ev()], content_type=ct)
            self.assertStatus(r, 201, ct)
        self.assertEqual(len(self.emu.dump_stream(s)), 3)

    # 23
    def test_b23_bad_event_id_header(self):
        s = fresh()
        for bad in ["nope", "1234", "00000000-0000-0000-0000-000000000000",
                    new_id() + "x"]:
            r = self.emu.post_plain(s, b"{}", event_id=bad)
            self.assertStatus(r, 400, "ES-EventId %r" % bad)
        self.assertAbsent(self.emu, s)

    def test_b23_bad_require_leader_header(self):
        s = fresh()
        for name in ["ES-RequireLeader", "ES-RequireMaster"]:
            for bad in ["yes", "1", "truex"]:
                r = self.emu.append(s, [ev()], headers=[(name, bad)])
                self.assertStatus(r, 400, "%s: %r" % (name, bad))
        self.assertAbsent(self.emu, s)

    def test_b23_bad_hard_delete_header(self):
        s = fresh()
        ids = self.seed_stream(self.emu, s, 1)
        for bad in ["yes", "1", "maybe"]:
            r = self.emu.request("DELETE", "/streams/" + quote(s), None,
                                 [("ES-HardDelete", bad)])
            self.assertStatus(r, 400, "ES-HardDelete %r" % bad)
        self.assertIds(self.emu, s, ids)

    def test_b23_bad_resolve_link_tos_header(self):
        s = fresh()
        self.seed_stream(self.emu, s, 1)
        for bad in ["yes", "0", "x"]:
            r = self.emu.feed(s, headers=[("ES-ResolveLinkTos", bad)])
            self.assertStatus(r, 400, "ES-ResolveLinkTos %r" % bad)
        r = self.emu.feed(s, headers=[("ES-ResolveLinkTos", "false")])
        self.assertStatus(r, 200)

    def test_b23_bad_long_poll_header(self):
        s = fresh()
        self.seed_stream(self.emu, s, 1)
        for bad in ["abc", "0", "-1", "1.5"]:
            r = self.emu.feed(s, "/0/forward/5",
                              headers=[("ES-LongPoll", bad)])
            self.assertStatus(r, 400, "ES-LongPoll %r" % bad)


class BodyValidation:
    """Behaviour 24, per profile: where the message goes."""

    def check_invalid(self, raw, text=None):
        s = fresh()
        r = self.emu.append(s, None, raw_body=raw)
        self.assertStatus(r, 400, repr(raw))
        self.assertIsNone(r.header("ES-CurrentVersion"))
        if text is None:
            self.assertMessage(r, None)
        else:
            self.assertMessage(r, text)
        self.assertAbsent(self.emu, s)

    def test_b24_invalid_json(self):
        self.check_invalid(b'[{"eventId": ', "Write request body invalid.")

    def test_b24_not_an_array(self):
        self.check_invalid(json.dumps(ev()).encode(),
                           "Write request body invalid.")

    def test_b24_empty_array(self):
        self.check_invalid(b"[]", "Write request body invalid.")

    def test_b24_empty_body(self):
        self.check_invalid(b"", "Write request body invalid.")

    def test_b24_bad_uuid(self):
        self.check_invalid(json.dumps([{"eventId": "x-y", "eventType": "T",
                                        "data": {}}]).encode(),
                           "Write request body invalid.")

    def test_b24_missing_event_id(self):
        self.check_invalid(json.dumps([{"eventType": "T",
                                        "data": {}}]).encode())

    def test_b24_missing_event_type(self):
        self.check_invalid(json.dumps([{"eventId": new_id(),
                                        "data": {}}]).encode())
        self.check_invalid(json.dumps([{"eventId": new_id(), "eventType": "",
                                        "data": {}}]).encode())

    def test_b24_elements_not_objects(self):
        self.check_invalid(b"[1, 2]", "Write request body invalid.")
        self.check_invalid(b'["x"]', "Write request body invalid.")

    def test_b24_null_id_or_type(self):
        self.check_invalid(json.dumps([{"eventId": None, "eventType": "T",
                                        "data": {}}]).encode())
        self.check_invalid(json.dumps([{"eventId": new_id(),
                                        "eventType": None}]).encode())

    def test_b24_one_bad_event_refuses_the_batch(self):
        self.check_invalid(json.dumps([ev(), ev(), {"eventId": "bad",
                                                    "eventType": "T"}])
                           .encode(), "Write request body invalid.")

    def test_b24_zero_event_id(self):
        self.check_invalid(json.dumps(
            [{"eventId": "00000000-0000-0000-0000-000000000000",
              "eventType": "T", "data": {}}]).encode())


class ReasonPhraseMessages(BodyValidation):
    def assertMessage(self, r, text):
        # v5 and v20-22: the message is the reason phrase, the body is empty
        self.assertEqual(r.body, b"")
        self.assertNotEqual(r.reason, "Bad Request")
        self.assertTrue(r.reason)
        if text is not None:
            self.assertEqual(r.reason, text)


class BodyMessages(BodyValidation):
    def assertMessage(self, r, text):
        # v23+: reason "Bad Request", the message is a text/plain body
        self.assertEqual(r.reason, "Bad Request")
        self.assertTrue((r.header("Content-Type") or "")
                        .startswith("text/plain"), repr(r))
        self.assertTrue(r.body.strip(), repr(r))
        if text is not None:
            self.assertEqual(r.body.decode().strip(), text)


class BodyValidationV5(ReasonPhraseMessages, EmuTestCase):
    ARGS = ["--profile", "v5"]


class BodyValidationV20(ReasonPhraseMessages, EmuTestCase):
    ARGS = ["--profile", "v20"]


class BodyValidationV23(BodyMessages, EmuTestCase):
    ARGS = ["--profile", "v23"]


class BodyValidationV25(BodyMessages, EmuTestCase):
    ARGS = ["--profile", "v25"]


class DataHandling(EmuTestCase):
    """Behaviours 25-27."""

    ARGS = ["--profile", "v20"]

    def store_one(self, **kw):
        s = fresh()
        self.assertStatus(self.emu.append(s, [ev(**kw)]), 201)
        d = self.emu.dump_stream(s)
        self.assertEqual(len(d), 1)
        return s, d[0]

    # 25
    def test_b25_object_and_array_data_are_json(self):
        _, d = self.store_one(data={"a": [1, 2], "b": "x"})
        self.assertIs(d["isJson"], True)
        self.assertEqual(json.loads(d["data"]), {"a": [1, 2], "b": "x"})
        _, d = self.store_one(data=[1, {"z": None}])
        self.assertIs(d["isJson"], True)
        self.assertEqual(json.loads(d["data"]), [1, {"z": None}])

    def test_b25_json_looking_string_is_json(self):
        _, d = self.store_one(data='{"q": 5}')
        self.assertIs(d["isJson"], True)
        self.assertEqual(json.loads(d["data"]), {"q": 5})
        _, d = self.store_one(data="[true]")
        self.assertIs(d["isJson"], True)
        self.assertEqual(json.loads(d["data"]), [True])

    def test_b25_plain_string_verbatim(self):
        for text in ["hello world", "5@some-stream", "42", "\"quoted\"",
                     "{not json", "ünï"]:
            s, d = self.store_one(data=text)
            self.assertIs(d["isJson"], False, text)
            self.assertEqual(d["data"], text)
            self.assertEqual(self.emu.read_bytes(s, 0).body, text.encode())

    def test_b25_scalar_data_is_empty(self):
        for value in [42, 1.5, True, False, None]:
            s, d = self.store_one(data=value)
            self.assertEqual(d["data"], "", repr(value))
            self.assertIs(d["isJson"], False, repr(value))
            self.assertEqual(self.emu.read_bytes(s, 0).body, b"")
        s, d = self.store_one(no_data=True)
        self.assertEqual(d["data"], "")
        self.assertIs(d["isJson"], False)

    def test_b25_is_json_is_data_or_metadata(self):
        _, d = self.store_one(data="plain", metadata={"m": 1})
        self.assertIs(d["isJson"], True)
        self.assertEqual(d["data"], "plain")
        self.assertEqual(json.loads(d["metadata"]), {"m": 1})
        _, d = self.store_one(data={"x": 1}, metadata="meta text")
        self.assertIs(d["isJson"], True)
        self.assertEqual(d["metadata"], "meta text")
        _, d = self.store_one(data="plain", metadata="meta text")
        self.assertIs(d["isJson"], False)
        _, d = self.store_one(data=7, metadata='{"m": 2}')
        self.assertIs(d["isJson"], True)
        self.assertEqual(d["data"], "")
        self.assertEqual(json.loads(d["metadata"]), {"m": 2})
        _, d = self.store_one(data="plain", metadata=12)
        self.assertEqual(d["metadata"], "")
        self.assertIs(d["isJson"], False)

    # 26
    def test_b26_json_data_is_reserialized(self):
        s = fresh()
        value = {"when": "2024-05-01T10:00:00.1234567+02:00",
                 "d": "2024-05-01T10:00:00Z", "n": [1, 2, {"k": "v"}]}
        compact = json.dumps(value, separators=(",", ":"))
        spaced = json.dumps(value, indent=7)
        for text in [compact, spaced]:
            raw = ('[{"eventId":"%s","eventType":"T","data":%s}]'
                   % (new_id(), text)).encode()
            self.assertStatus(self.emu.append(s, None, raw_body=raw), 201)
        d = self.emu.dump_stream(s)
        for row, text in zip(d, [compact, spaced]):
            self.assertNotEqual(row["data"], text)
            self.assertEqual(json.loads(row["data"]), value)
        # one canonical form, whatever the input layout
        self.assertEqual(d[0]["data"], d[1]["data"])
        self.assertEqual(self.emu.read_bytes(s, 0).body.decode(),
                         d[0]["data"])

    # 27
    def test_b27_size_limit_boundary(self):
        s = fresh()
        r = self.emu.append(s, [ev(data="x" * MAX_EVENT)], timeout=20)
        self.assertCreated(r, self.emu, s, 0)
        r = self.emu.append(s, [ev(data="x" * (MAX_EVENT - 10),
                                   metadata="m" * 10)], timeout=20)
        self.assertCreated(r, self.emu, s, 1)
        self.assertEqual(len(self.emu.read_bytes(s, 0).body), MAX_EVENT)


class TooLarge(EmuTestCase):
    """Behaviour 27 and the write_on_413 switch (open question 1); one
    emulator per test, the switch is global."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def test_b27_too_large_refused_nothing_written(self):
        emu = self.start_emu(["--profile", "v20"])
        emu.switches(write_on_413=False)
        s = fresh()
        ids = self.seed_stream(emu, s, 1)
        for big in [ev(data="x" * (MAX_EVENT + 1)),
                    ev(data="x" * (MAX_EVENT - 4), metadata="12345")]:
            r = emu.append(s, [ev(), big, ev()], timeout=20)
            self.assertStatus(r, 413)
            self.assertTrue(r.reason.startswith("Too large events received"),
                            r.reason)
        self.assertIds(emu, s, ids)

    def test_b27_plain_bodies_too_large(self):
        emu = self.start_emu(["--profile", "v20"])
        emu.switches(write_on_413=False)
        s = fresh()
        for ct in [OCTET, APP_JSON]:
            r = emu.post_plain(s, b"1" * (MAX_EVENT + 1), ct,
                               event_id=new_id())
            self.assertStatus(r, 413, ct)
        self.assertAbsent(emu, s)
        r = emu.post_plain(s, b"1" * MAX_EVENT, OCTET, event_id=new_id())
        self.assertCreated(r, emu, s, 0)

    def test_b27_write_on_413_switch(self):
        emu = self.start_emu(["--profile", "v20"])
        emu.switches(write_on_413=True)
        s = fresh()
        big = ev(data="y" * (MAX_EVENT + 1))
        small = ev()
        r = emu.append(s, [small, big], -1, timeout=20)
        self.assertStatus(r, 413)
        d = emu.dump_stream(s)
        self.assertEqual([x["eventId"] for x in d],
                         [small["eventId"], big["eventId"]])
        self.assertEqual(len(emu.read_bytes(s, 1).body), MAX_EVENT + 1)
        # and off again
        emu.switches(write_on_413=False)
        self.assertStatus(emu.append(s, [ev(data="z" * (MAX_EVENT + 1))],
                                     timeout=20), 413)
        self.assertEqual(len(emu.dump_stream(s)), 2)


class Deletes(EmuTestCase):
    """Behaviours 28-29."""

    ARGS = ["--profile", "v20"]

    # 29
    def test_b29_soft_delete(self):
        s = fresh()
        self.seed_stream(self.emu, s, 3)
        r = self.emu.delete(s)
        self.assertStatus(r, 204)
        # 28: soft-deleted reads 404
        self.assertStatus(self.emu.feed(s), 404)
        self.assertStatus(self.emu.feed(s, "/0/forward/20"), 404)
        self.assertStatus(self.emu.read_bytes(s, 0), 404)

    # 28
    def test_b28_soft_deleted_accepts_any_and_no_stream(self):
        for e in [-2, -1, None]:
            s = fresh()
            self.seed_stream(self.emu, s, 3)
            self.assertStatus(self.emu.delete(s), 204)
            i = new_id()
            r = self.emu.append(s, [ev(i, data="again")], e)
            self.assertCreated(r, self.emu, s, 3)
            got = self.emu.read_bytes(s, 3)
            self.assertStatus(got, 200)
            self.assertEqual(got.body, b"again")
            # the events before the delete stay gone
            self.assertEqual([x["eventNumber"] for x in
                              self.emu.read_all(s)], [3])
            self.assertStatus(self.emu.read_bytes(s, 0), 404)
            r = self.emu.append(s, [ev()], 3)
            self.assertCreated(r, self.emu, s, 4)

    def test_b28_stream_exists_on_soft_deleted_is_gone(self):
        s = fresh()
        self.seed_stream(self.emu, s, 2)
        self.assertStatus(self.emu.delete(s), 204)
        self.assertStatus(self.emu.append(s, [ev()], -4), 410)
        self.assertStatus(self.emu.feed(s), 404)

    def test_b28_hard_deleted_is_gone_for_everything(self):
        s = fresh()
        ids = self.seed_stream(self.emu, s, 2)
        r = self.emu.delete(s, hard=True)
        self.assertStatus(r, 204)
        for e in [None, -2, -1, -4, 0, 1, 5]:
            r = self.emu.append(s, [ev(ids[0])], e)
            self.assertStatus(r, 410, "E=%r" % e)
        r = self.emu.post_plain(s, b"{}", event_id=new_id())
        self.assertStatus(r, 410)
        self.assertStatus(self.emu.feed(s), 410)
        self.assertStatus(self.emu.feed(s, "/0/forward/20"), 410)
        self.assertStatus(self.emu.read_bytes(s, 0), 410)
        # no more events appeared
        self.assertLessEqual(len(self.emu.dump_stream(s)), 2)

    def test_b29_hard_delete_header_any_case(self):
        s = fresh()
        self.seed_stream(self.emu, s, 1)
        r = self.emu.request("DELETE", "/streams/" + quote(s), None,
                             [("es-harddelete", "TRUE")])
        self.assertStatus(r, 204)
        self.assertStatus(self.emu.append(s, [ev()]), 410)

    def test_b29_hard_delete_false_is_soft(self):
        s = fresh()
        self.seed_stream(self.emu, s, 1)
        r = self.emu.request("DELETE", "/streams/" + quote(s), None,
                             [("ES-HardDelete", "False")])
        self.assertStatus(r, 204)
        self.assertCreated(self.emu.append(s, [ev()]), self.emu, s, 1)

    def test_b29_delete_absent_stream_is_wev(self):
        s = fresh()
        r = self.emu.delete(s)
        self.assertStatus(r, 400)
        self.assertAbsent(self.emu, s)

    def test_b29_delete_wev_current_version_by_profile(self):
        # spec 7: ES-CurrentVersion on a delete's WEV only since 22.6
        for profile, current in [("v5", None), ("v23", "1"), ("v25", "1")]:
            emu = self.start_emu(["--profile", profile])
            s = fresh()
            self.seed_stream(emu, s, 2)
            r = emu.delete(s, expected=5)
            self.assertStatus(r, 400, profile)
            self.assertEqual(r.header("ES-CurrentVersion"), current, profile)
            if profile == "v25":
                self.assertEqual(r.header("Kurrent-CurrentVersion"), current)
            self.assertEqual(len(emu.dump_stream(s)), 2)

    def test_b29_delete_with_wrong_expected_version(self):
        s = fresh()
        ids = self.seed_stream(self.emu, s, 2)
        r = self.emu.delete(s, expected=0)
        self.assertStatus(r, 400)
        self.assertIds(self.emu, s, ids)
        self.assertStatus(self.emu.delete(s, expected=1), 204)
        self.assertStatus(self.emu.feed(s), 404)



class Metadata(EmuTestCase):
    """Spec 4.3 (the metadata stream) and its part in behaviour 8."""

    ARGS = ["--profile", "v20"]

    def post_meta(self, stream, body, headers=()):
        h = [("Content-Type", APP_JSON), ("ES-EventId", new_id())]
        return self.emu.request("POST", "/streams/%s/metadata" % quote(stream),
                                body, h + list(headers))

    def test_metadata_read_and_write(self):
        s = fresh()
        self.seed_stream(self.emu, s, 1)
        r = self.emu.get("/streams/%s/metadata" % quote(s), accept=APP_JSON)
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {})
        r = self.post_meta(s, b'{"owner": "x"}')
        self.assertCreated(r, self.emu, "$$" + s, 0)
        r = self.emu.get("/streams/%s/metadata" % quote(s), accept=APP_JSON)
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"owner": "x"})
        meta = self.emu.dump_stream("$$" + s)
        self.assertEqual(len(meta), 1)
        self.assertEqual(meta[0]["eventType"], "$metadata")
        # the stream itself is untouched
        self.assertEqual(len(self.emu.dump_stream(s)), 1)

    def test_metadata_refuses_other_event_types(self):
        s = fresh()
        r = self.post_meta(s, b"{}", [("ES-EventType", "Other")])
        self.assertStatus(r, 400)
        self.assertEqual(self.emu.dump_stream("$$" + s), [])
        r = self.post_meta(s, b"{}", [("ES-EventType", "$metadata")])
        self.assertStatus(r, 201)

    # 8: -4 needs the stream or its metadata stream
    def test_b08_stream_exists_with_metadata_only(self):
        s = fresh()
        self.assertStatus(self.post_meta(s, b'{"k": 1}'), 201)
        r = self.emu.append(s, [ev()], -4)
        self.assertCreated(r, self.emu, s, 0)


if __name__ == "__main__":
    unittest.main()
