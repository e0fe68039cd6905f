"""esdb-emu cluster mode (--cluster N): leader routing and redirects
(behaviour 39), no leader (40), gossip shapes per profile (41), leader moves
through POST /_emu/leader."""
import json
import unittest
import urllib.parse

from emuclient import EmuTestCase, ev, fresh, quote


class ClusterBase:
    """A 3-node cluster per test: leadership is global state.  Mixed into
    one EmuTestCase per profile."""

    PROFILE = "v20"
    LEADER, FOLLOWER = "Leader", "Follower"
    HOST_KEYS = ("httpEndPointIp", "httpEndPointPort")
    OTHER_KEYS = ("externalHttpIp", "externalHttpPort")

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.emu = self.start_emu(["--profile", self.PROFILE,
                                   "--cluster", "3"])
        self.assertEqual(len(self.emu.urls), 3, self.emu.line)
        self.assertEqual(len(set(self.emu.urls)), 3)
        for u in self.emu.urls:
            self.assertRegex(u, r"^http://127\.0\.0\.1:\d+$")
        self.s = fresh()

    def gossip(self, node=0):
        r = self.emu.get("/gossip", accept="application/json", node=node)
        self.assertStatus(r, 200)
        return r.json()

    def endpoint(self, m):
        return "http://%s:%d" % (m[self.HOST_KEYS[0]], m[self.HOST_KEYS[1]])

    def check_gossip(self, leader_node):
        for node in range(3):
            g = self.gossip(node)
            host, port = self.emu.hostport(node)
            self.assertEqual(g["serverIp"], host)
            self.assertEqual(g["serverPort"], port)
            members = g["members"]
            self.assertEqual(len(members), 3)
            self.assertEqual(sorted(self.endpoint(m) for m in members),
                             sorted(self.emu.urls))
            ids = set()
            for m in members:
                self.assertIs(m["isAlive"], True)
                self.assertIsInstance(m["instanceId"], str)
                self.assertIsInstance(m["timeStamp"], str)
                ids.add(m["instanceId"])
                for k in self.OTHER_KEYS:
                    self.assertNotIn(k, m)
                self.assertIsInstance(m["state"], str)
            self.assertEqual(len(ids), 3)
            states = {self.endpoint(m): m["state"] for m in members}
            for n, u in enumerate(self.emu.urls):
                if n == leader_node:
                    self.assertEqual(states[u], self.LEADER)
                else:
                    self.assertNotEqual(states[u], self.LEADER)
                    if leader_node is not None:
                        self.assertEqual(states[u], self.FOLLOWER)

    def require(self):
        return [("ES-RequireLeader", "True")]

    # 41
    def test_b41_gossip(self):
        self.check_gossip(0)

    # 39
    def test_b39_follower_redirects_with_require_leader(self):
        for node in (1, 2):
            for hdr in self.require() + [("ES-RequireMaster", "True"),
                                         ("es-requireleader", "true")]:
                if self.PROFILE == "v5" and hdr[0].lower() != \
                        "es-requiremaster":
                    continue
                path = "/streams/%s?x=1&y=%%24z" % quote(self.s)
                r = self.emu.append(self.s, [ev()], node=node,
                                    headers=[hdr])
                self.assertStatus(r, 307, repr(hdr))
                self.assertEqual(r.header("Location"),
                                 self.emu.urls[0] + "/streams/"
                                 + quote(self.s))
                r = self.emu.request("POST", path, json.dumps([ev()]), [
                    ("Content-Type", "application/vnd.eventstore.events+json"),
                    hdr], node=node)
                self.assertStatus(r, 307)
                self.assertEqual(r.header("Location"), self.emu.urls[0] + path)
        self.assertAbsent(self.emu, self.s)

    def test_b39_leader_accepts_require_leader(self):
        r = self.emu.append(self.s, [ev()], -1, headers=self.require())
        self.assertCreated(r, self.emu, self.s, 0)

    def test_b39_follower_without_header_returns_leaders_result(self):
        b = [ev(), ev()]
        r = self.emu.append(self.s, b, -1, node=1)
        self.assertStatus(r, 201)
        loc = r.header("Location")
        self.assertIn(urllib.parse.urlsplit(loc).netloc,
                      [urllib.parse.urlsplit(u).netloc
                       for u in self.emu.urls])
        self.assertTrue(loc.endswith("/streams/%s/0" % quote(self.s)), loc)
        ids = [e["eventId"] for e in b]
        self.assertIds(self.emu, self.s, ids)
        self.assertEqual(self.emu.dump(node=1), self.emu.dump(node=0))
        # WEV and idempotent repeats come back from the leader too
        r = self.emu.append(self.s, [ev()], 5, node=2)
        self.assertWEV(r, 1)
        r = self.emu.append(self.s, b, -1, node=2)
        self.assertStatus(r, 201)
        self.assertTrue(r.header("Location").endswith("/0"))
        r = self.emu.append(self.s, [ev()], 1, node=1,
                            headers=[("ES-RequireLeader", "False")])
        self.assertStatus(r, 201)
        self.assertTrue(r.header("Location").endswith("/2"))
        self.assertEqual(len(self.emu.dump_stream(self.s)), 3)

    def test_b39_follower_reads(self):
        self.seed_stream(self.emu, self.s, 2)
        r = self.emu.feed(self.s, node=1)
        self.assertStatus(r, 200)
        self.assertEqual(len(r.json()["entries"]), 2)
        r = self.emu.feed(self.s, node=1, headers=self.require())
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"),
                         self.emu.urls[0] + "/streams/" + quote(self.s))

    # 40
    def test_b40_no_leader(self):
        self.emu.leader(None)
        for node in range(3):
            for hdr in [[], self.require()]:
                r = self.emu.append(self.s, [ev()], node=node, headers=hdr)
                self.assertStatus(r, 503, "node %d %r" % (node, hdr))
                self.assertEqual(r.reason, "Server Is Not Ready")
        self.assertAbsent(self.emu, self.s)
        self.check_gossip(None)
        self.emu.leader(1)
        r = self.emu.append(self.s, [ev()], -1, node=1,
                            headers=self.require())
        self.assertCreated(r, self.emu, self.s, 0, node=1)

    def test_b40_leader_move(self):
        self.seed_stream(self.emu, self.s, 1)
        self.emu.leader(2)
        self.check_gossip(2)
        r = self.emu.append(self.s, [ev()], 0, node=0, headers=self.require())
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"),
                         self.emu.urls[2] + "/streams/" + quote(self.s))
        r = self.emu.append(self.s, [ev()], 0, node=2, headers=self.require())
        self.assertStatus(r, 201)
        r = self.emu.append(self.s, [ev()], 1, node=1)
        self.assertStatus(r, 201)
        self.assertEqual(len(self.emu.dump_stream(self.s)), 3)
        self.emu.leader(0)
        self.check_gossip(0)
        r = self.emu.append(self.s, [ev()], 2, node=2, headers=self.require())
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"),
                         self.emu.urls[0] + "/streams/" + quote(self.s))


    # 15 and open question 2: a leader change empties the -2 cache
    def test_b15_leader_change_forgets_any_cache(self):
        b = [ev(), ev()]
        self.assertCreated(self.emu.append(self.s, b), self.emu, self.s, 0)
        self.assertCreated(self.emu.append(self.s, b), self.emu, self.s, 0)
        self.emu.leader(1)
        r = self.emu.append(self.s, b, node=1)
        self.assertCreated(r, self.emu, self.s, 2, node=1)
        ids = [e["eventId"] for e in b]
        self.assertIds(self.emu, self.s, ids + ids)
        # exact E still finds them (index based)
        r = self.emu.append(self.s, b, -1, node=1)
        self.assertCreated(r, self.emu, self.s, 0, node=1)


class ClusterV20(ClusterBase, EmuTestCase):
    PROFILE = "v20"


class ClusterV25(ClusterBase, EmuTestCase):
    PROFILE = "v25"

    def test_b47_kurrent_require_leader(self):
        r = self.emu.append(self.s, [ev()], node=1,
                            headers=[("Kurrent-RequireLeader", "true")])
        self.assertStatus(r, 307)
        self.assertEqual(r.header("Location"),
                         self.emu.urls[0] + "/streams/" + quote(self.s))


class ClusterV5(ClusterBase, EmuTestCase):
    PROFILE = "v5"
    LEADER, FOLLOWER = "Master", "Slave"
    HOST_KEYS = ("externalHttpIp", "externalHttpPort")
    OTHER_KEYS = ("httpEndPointIp", "httpEndPointPort")

    def require(self):
        return [("ES-RequireMaster", "True")]

    def test_b39_v5_ignores_require_leader(self):
        # ES-RequireLeader is a 20.6+ header: a v5 follower proxies the write
        r = self.emu.append(self.s, [ev()], -1, node=1,
                            headers=[("ES-RequireLeader", "True")])
        self.assertStatus(r, 201)
        self.assertEqual(len(self.emu.dump_stream(self.s)), 1)


class SingleNodeGossip(EmuTestCase):
    ARGS = ["--profile", "v20"]

    def test_b41_single_node(self):
        for profile, state, key in [("v20", "Leader", "httpEndPointPort"),
                                    ("v5", "Master", "externalHttpPort")]:
            emu = self.start_emu(["--profile", profile])
            r = emu.get("/gossip", accept="application/json")
            self.assertStatus(r, 200)
            g = r.json()
            self.assertEqual(len(g["members"]), 1)
            self.assertEqual(g["members"][0]["state"], state)
            self.assertEqual(g["members"][0][key], emu.hostport()[1])
            self.assertEqual(g["serverPort"], emu.hostport()[1])


if __name__ == "__main__":
    unittest.main()
