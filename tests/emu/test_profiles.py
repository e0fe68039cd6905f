"""esdb-emu profile differences: authentication (behaviours 37-38), AtomPub
on/off and /info (46), header names and media types (47), response shapes
(48)."""
import json
import unittest

from emuclient import (ADMIN, APP_JSON, EVENTS_JSON, KURRENT_EVENTS_JSON,
                       EmuTestCase, basic, ev, fresh, new_id, quote)


class Auth(EmuTestCase):
    """Behaviours 37-38; one emulator per profile and test."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def bad_credentials(self, emu, strict_scheme=True):
        s = fresh()
        for auth in [("admin", "wrong"), ("nobody", "changeit"),
                     ("admin", ""), ("admin", "changeit ")]:
            r = emu.append(s, [ev()], auth=auth)
            self.assertStatus(r, 401, repr(auth))
            r = emu.get("/streams/" + quote(s), auth=auth)
            self.assertStatus(r, 401, repr(auth))
        good = basic(*ADMIN).split(" ", 1)[1]
        raws = ["Basic !!!notbase64", "Basic",
                "Basic " + "YWRtaW4="]          # "admin", no colon
        if strict_scheme:
            # 20.6+: the scheme must be exactly "Basic" (spec 8)
            raws += ["basic " + good, "BASIC " + good, "Bearer abc"]
        for raw in raws:
            r = emu.request("POST", "/streams/" + quote(s), json.dumps([ev()]),
                            [("Content-Type", EVENTS_JSON),
                             ("Authorization", raw)], auth=None)
            self.assertStatus(r, 401, raw)
        self.assertEqual(emu.dump_stream(s), [])

    # 37
    def test_b37_v23_requires_credentials(self):
        emu = self.start_emu(["--profile", "v23"])
        s = fresh()
        r = emu.append(s, [ev()], auth=None)
        self.assertStatus(r, 401)
        r = emu.get("/streams/" + quote(s), auth=None)
        self.assertStatus(r, 401)
        self.assertEqual(emu.dump_stream(s), [])
        self.bad_credentials(emu)
        self.assertCreated(emu.append(s, [ev()], auth=ADMIN), emu, s, 0)
        self.assertCreated(emu.append(s, [ev()], auth=("ops", "changeit")),
                           emu, s, 1)
        self.assertStatus(emu.feed(s), 200)

    def test_b37_bad_credentials_in_every_profile(self):
        for profile in ["v5", "v20", "v25"]:
            with self.subTest(profile=profile):
                self.bad_credentials(self.start_emu(["--profile", profile]),
                                     strict_scheme=profile != "v5")

    def test_b37_auth_flag_replaces_users(self):
        emu = self.start_emu(["--profile", "v23", "--auth", "repl:s3:cr:et"])
        s = fresh()
        self.assertStatus(emu.append(s, [ev()], auth=ADMIN), 401)
        self.assertStatus(emu.append(s, [ev()], auth=("ops", "changeit")),
                          401)
        self.assertStatus(emu.append(s, [ev()], auth=("repl", "s3")), 401)
        # the password is split at the first colon
        self.assertCreated(emu.append(s, [ev()], auth=("repl", "s3:cr:et")),
                           emu, s, 0)

    def test_b37_never_403(self):
        for profile in ["v5", "v23"]:
            emu = self.start_emu(["--profile", profile])
            for auth in [None, ("admin", "bad"), ("ops", "changeit")]:
                for path in ["/streams/%24all", "/streams/%24sys-x",
                             "/streams/plain"]:
                    r = emu.get(path, auth=auth)
                    self.assertNotEqual(r.status, 403, (profile, auth, path))
                    r = emu.append("$sys-" + fresh(), [ev()], auth=auth)
                    self.assertNotEqual(r.status, 403, (profile, auth))

    # 38
    def test_b38_anonymous_allowed_in_v5_and_v20(self):
        for profile in ["v5", "v20"]:
            emu = self.start_emu(["--profile", profile])
            s = fresh()
            self.assertCreated(emu.append(s, [ev()], auth=None), emu, s, 0)
            self.assertStatus(emu.get("/streams/" + quote(s), auth=None), 200)
            self.assertStatus(emu.read_bytes(s, 0), 200)
            self.assertStatus(emu.request("DELETE", "/streams/" + quote(s),
                                          auth=None), 204)

    def test_b38_anonymous_refused_in_v23_and_v25(self):
        for profile in ["v23", "v25"]:
            emu = self.start_emu(["--profile", profile])
            s = fresh()
            self.assertStatus(emu.append(s, [ev()], auth=None), 401)
            self.assertStatus(emu.post_plain(s, b"{}", event_id=new_id(),
                                             auth=None), 401)
            self.assertEqual(emu.dump_stream(s), [])
            self.seed_stream(emu, s, 1)
            self.assertStatus(emu.get("/streams/" + quote(s), auth=None), 401)
            self.assertStatus(emu.get("/streams/%s/0" % quote(s),
                                      accept="application/octet-stream",
                                      auth=None), 401)
            self.assertStatus(emu.request("DELETE", "/streams/" + quote(s),
                                          auth=None), 401)
            self.assertStatus(emu.feed(s), 200)
            # /gossip stays anonymous
            self.assertStatus(emu.get("/gossip", accept=APP_JSON, auth=None),
                              200)

    def test_b38_anonymous_switch(self):
        emu = self.start_emu(["--profile", "v23"])
        s = fresh()
        emu.switches(anonymous=True)
        self.assertCreated(emu.append(s, [ev()], auth=None), emu, s, 0)
        self.assertStatus(emu.get("/streams/" + quote(s), auth=None), 200)
        emu.switches(anonymous=False)
        self.assertStatus(emu.append(s, [ev()], auth=None), 401)
        self.assertEqual(len(emu.dump_stream(s)), 1)

    def test_b38_anonymous_flag(self):
        emu = self.start_emu(["--profile", "v23", "--anonymous", "on"])
        s = fresh()
        self.assertCreated(emu.append(s, [ev()], auth=None), emu, s, 0)
        emu = self.start_emu(["--profile", "v20", "--anonymous", "off"])
        self.assertStatus(emu.append(s, [ev()], auth=None), 401)
        self.assertEqual(emu.dump(), [])

    def test_b38_all_and_system_streams_need_admin(self):
        for profile in ["v5", "v20", "v23"]:
            emu = self.start_emu(["--profile", profile])
            self.seed_stream(emu, fresh(), 2)
            for path in ["/streams/%24all", "/streams/$all"]:
                self.assertStatus(emu.get(path, auth=None), 401,
                                  (profile, path))
                self.assertStatus(emu.get(path, auth=("ops", "changeit")),
                                  401, (profile, path))
                self.assertStatus(emu.get(path), 200, (profile, path))
            sys_stream = "$sys-" + fresh()
            self.assertStatus(emu.append(sys_stream, [ev()], auth=None), 401)
            self.assertEqual(emu.dump_stream(sys_stream), [])
            self.assertStatus(emu.append(sys_stream, [ev()]), 201)


class AtomPub(EmuTestCase):
    """Behaviour 46."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def info(self, emu):
        r = emu.get("/info", accept=APP_JSON)
        self.assertStatus(r, 200)
        return r.json()

    def all_404(self, emu, s):
        self.assertStatus(emu.append(s, [ev()]), 404)
        self.assertStatus(emu.post_plain(s, b"{}", event_id=new_id()), 404)
        self.assertStatus(emu.feed(s), 404)
        self.assertStatus(emu.feed(s, "/0/forward/5"), 404)
        self.assertStatus(emu.read_bytes(s, 0), 404)
        self.assertStatus(emu.delete(s), 404)
        self.assertStatus(emu.get("/streams/%24all"), 404)

    def test_b46_no_atompub_flag(self):
        for profile in ["v20", "v23", "v25"]:
            emu = self.start_emu(["--profile", profile, "--no-atompub"])
            s = fresh()
            self.all_404(emu, s)
            self.assertEqual(emu.dump_stream(s), [])
            self.assertIs(self.info(emu)["features"]["atomPub"], False)
            self.assertStatus(emu.get("/gossip", accept=APP_JSON), 200)

    def test_b46_atompub_on_by_default(self):
        for profile in ["v20", "v25"]:
            emu = self.start_emu(["--profile", profile])
            self.assertIs(self.info(emu)["features"]["atomPub"], True)
            s = fresh()
            self.assertStatus(emu.append(s, [ev()]), 201)

    def test_b46_atompub_switch(self):
        emu = self.start_emu(["--profile", "v20"])
        s = fresh()
        self.seed_stream(emu, s, 1)
        emu.switches(atompub=False)
        self.all_404(emu, s)
        self.assertIs(self.info(emu)["features"]["atomPub"], False)
        emu.switches(atompub=True)
        self.assertIs(self.info(emu)["features"]["atomPub"], True)
        self.assertCreated(emu.append(s, [ev()]), emu, s, 1)


class HeaderNames(EmuTestCase):
    """Behaviour 47 in profile v20."""

    ARGS = ["--profile", "v20"]

    def test_b47_header_names_any_case(self):
        s = fresh()
        for name in ["es-expectedversion", "ES-EXPECTEDVERSION",
                     "Es-ExpectedVersion"]:
            r = self.emu.append(s, [ev()], headers=[(name, "3")])
            self.assertWEV(r, -1)
        r = self.emu.request("POST", "/streams/" + quote(s), b"{}",
                             [("content-type", APP_JSON),
                              ("es-eventtype", "Lower"),
                              ("ES-EVENTID", new_id())])
        self.assertCreated(r, self.emu, s, 0)
        self.assertEqual(self.emu.dump_stream(s)[0]["eventType"], "Lower")

    def test_b47_boolean_values_any_case(self):
        t = fresh()
        self.assertStatus(self.emu.append(t, [ev(data={"x": 1})]), 201)
        lnk = fresh()
        self.assertStatus(self.emu.append(lnk, [ev(event_type="$>",
                                                   data="0@" + t)]), 201)
        for value, kind in [("FALSE", "$>"), ("fAlSe", "$>"),
                            ("TRUE", "Tested"), ("True", "Tested")]:
            r = self.emu.feed(lnk, "", "body",
                              [("ES-ResolveLinkTos", value)])
            self.assertStatus(r, 200)
            self.assertEqual(r.json()["entries"][0]["eventType"], kind, value)
        for value in ["TRUE", "tRuE"]:
            s = fresh()
            self.seed_stream(self.emu, s, 1)
            r = self.emu.delete(s, headers=[("ES-HardDelete", value)])
            self.assertStatus(r, 204)
            self.assertStatus(self.emu.append(s, [ev()]), 410)
        r = self.emu.append(fresh(), [ev()],
                            headers=[("ES-RequireLeader", "FALSE")])
        self.assertStatus(r, 201)

    def test_b47_kurrent_names_unknown_before_v25(self):
        s = fresh()
        r = self.emu.append(s, [ev()], content_type=KURRENT_EVENTS_JSON)
        self.assertStatus(r, 415)
        # an unknown header: no concurrency check at all (like -2)
        r = self.emu.append(s, [ev()],
                            headers=[("Kurrent-ExpectedVersion", "7")])
        self.assertCreated(r, self.emu, s, 0)
        self.assertIsNone(r.header("Kurrent-CurrentVersion"))
        r = self.emu.append(s, [ev()], 5)
        self.assertIsNone(r.header("Kurrent-CurrentVersion"))
        self.assertWEV(r, 0)


class HeaderNamesV25(EmuTestCase):
    """Behaviour 47 in profile v25: Kurrent- names and media types."""

    ARGS = ["--profile", "v25"]

    def test_b47_kurrent_expected_version(self):
        s = fresh()
        r = self.emu.append(s, [ev()], headers=[("Kurrent-ExpectedVersion",
                                                 "3")])
        self.assertWEV(r, -1, v25=True)
        ids = self.seed_stream(self.emu, s, 2)
        r = self.emu.append(s, [ev(i) for i in ids],
                            headers=[("kurrent-expectedversion", "-1")])
        self.assertCreated(r, self.emu, s, 0)
        r = self.emu.append(s, [ev()],
                            headers=[("Kurrent-ExpectedVersion", "x")])
        self.assertStatus(r, 400)
        self.assertIsNone(r.header("ES-CurrentVersion"))
        self.assertIds(self.emu, s, ids)

    def test_b47_kurrent_name_read_first(self):
        s = fresh()
        r = self.emu.append(s, [ev()], headers=[
            ("ES-ExpectedVersion", "-2"), ("Kurrent-ExpectedVersion", "4")])
        self.assertWEV(r, -1, v25=True)
        r = self.emu.append(s, [ev()], headers=[
            ("Kurrent-ExpectedVersion", "-1"), ("ES-ExpectedVersion", "9")])
        self.assertCreated(r, self.emu, s, 0)

    def test_b47_kurrent_media_types_and_event_headers(self):
        s = fresh()
        a = ev()
        r = self.emu.append(s, [a], -1, content_type=KURRENT_EVENTS_JSON)
        self.assertCreated(r, self.emu, s, 0)
        r = self.emu.append(s, [a], -1,
                            content_type=KURRENT_EVENTS_JSON
                            + "; charset=utf-8")
        self.assertCreated(r, self.emu, s, 0)
        i = new_id()
        r = self.emu.request("POST", "/streams/" + quote(s), b"{\"k\": 2}",
                             [("Content-Type", APP_JSON),
                              ("Kurrent-EventType", "KType"),
                              ("Kurrent-EventId", i)])
        self.assertCreated(r, self.emu, s, 1)
        d = self.emu.dump_stream(s)
        self.assertEqual([x["eventId"] for x in d], [a["eventId"], i])
        self.assertEqual(d[1]["eventType"], "KType")
        r = self.emu.request("POST", "/streams/" + quote(s), b"{}",
                             [("Content-Type", APP_JSON),
                              ("Kurrent-EventType", "KType")])
        self.assertStatus(r, 307)
        r = self.emu.request("POST", "/streams/" + quote(s), b"{}",
                             [("Content-Type", APP_JSON),
                              ("Kurrent-EventType", "KType"),
                              ("Kurrent-EventId", "bad")])
        self.assertStatus(r, 400)

    def test_b47_kurrent_read_and_delete_headers(self):
        t = fresh()
        self.assertStatus(self.emu.append(t, [ev(data={"x": 1})]), 201)
        lnk = fresh()
        self.assertStatus(self.emu.append(lnk, [ev(event_type="$>",
                                                   data="0@" + t)]), 201)
        r = self.emu.feed(lnk, "", "body",
                          [("Kurrent-ResolveLinkTos", "false")])
        self.assertEqual(r.json()["entries"][0]["eventType"], "$>")
        r = self.emu.feed(lnk, "/0/forward/1",
                          headers=[("Kurrent-LongPoll", "soon")])
        self.assertStatus(r, 400)
        r = self.emu.delete(t, headers=[("Kurrent-HardDelete", "true")])
        self.assertStatus(r, 204)
        self.assertStatus(self.emu.append(t, [ev()]), 410)


class Shapes(EmuTestCase):
    """Behaviour 48: null fields and author names per profile."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def pages(self, profile):
        emu = self.start_emu(["--profile", profile])
        s = fresh()
        self.assertStatus(emu.append(s, [ev(data={"a": 1}), ev()]), 201)
        head = emu.feed(s, "", "body")
        page = emu.feed(s, "/0/forward/1", "body")
        self.assertStatus(head, 200)
        self.assertStatus(page, 200)
        return head.json(), page.json()

    def test_b48_v5_omits_nulls(self):
        head, page = self.pages("v5")
        for e in head["entries"]:
            self.assertNotIn("metaData", e)
            for k, v in e.items():
                self.assertIsNotNone(v, k)
        for k, v in page.items():
            self.assertIsNotNone(v, k)
        self.assertNotIn("selfUrl", page)
        self.assertNotIn("eTag", page)
        self.assertEqual(head["author"]["name"], "EventStore")

    def test_b48_explicit_nulls_from_v23(self):
        for profile, author in [("v23", "EventStore"), ("v25", "Kurrent")]:
            head, page = self.pages(profile)
            for e in head["entries"]:
                self.assertIn("metaData", e)
                self.assertIsNone(e["metaData"])
                self.assertEqual(e["author"]["name"], author)
            self.assertIn("selfUrl", page)
            self.assertIsNone(page["selfUrl"])
            self.assertIn("eTag", page)
            self.assertIsNone(page["eTag"])
            self.assertEqual(head["author"]["name"], author)
            self.assertEqual(page["author"]["name"], author)

    def test_b48_author_v20(self):
        head, _ = self.pages("v20")
        self.assertEqual(head["author"]["name"], "EventStore")

    def test_b48_is_redacted_from_v23(self):
        # spec 5.2: 23.6+ adds isRedacted to rich entries
        for profile, present in [("v5", False), ("v20", False),
                                 ("v23", True), ("v25", True)]:
            head, _ = self.pages(profile)
            for e in head["entries"]:
                if present:
                    self.assertIs(e["isRedacted"], False, profile)
                else:
                    self.assertNotIn("isRedacted", e, profile)


if __name__ == "__main__":
    unittest.main()
