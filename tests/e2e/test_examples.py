"""The scripts of examples/ on the sample store (examples/sample-store.jsonl
imported with `replicator import`): what each would send, decoded."""
import json
import os
import unittest

import rptest

LUA_ENV = {"REPLICATOR_LUA_PATH": os.path.join(rptest.SRC_DIR, "lua")}
EXAMPLES = os.path.join(rptest.SRC_DIR, "examples")

# Records of the sample store (store versions) by key.
AUDIT = [2, 4, 7, 13, 15, 24]
FUNC = [1, 20, 22]
RECORDS = 25
MESSAGES = 27          # records 5 and 10 hold two messages each

NORTHWIND = {"Id": {"Id": 1}, "CustomerName": "Northwind Traders, Ltd.",
             "Currency": "Eur", "Email": "billing@northwind.example",
             "Utc": "/Date(1363338300000)/"}


class Examples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store = None

    def setUp(self):
        rptest.require(self, "dry-run", "import")
        if Examples.store is None:
            d = rptest.tempdir(self)
            # Kept for the whole class: tempdir's cleanup runs at the end of
            # this first test, so build into a folder of our own.
            Examples.tmp = d + "-store"
            os.makedirs(Examples.tmp)
            Examples.store = os.path.join(Examples.tmp, "sample-store")
            p = rptest.run(["import", "--store", Examples.store,
                            os.path.join(EXAMPLES, "sample-store.jsonl")])
            self.assertEqual(p.returncode, 0, p.stderr)

    @classmethod
    def tearDownClass(cls):
        if cls.store is not None:
            import shutil
            shutil.rmtree(cls.tmp, True)

    def dry(self, name, *extra):
        p = rptest.run(["dry-run", "--script", os.path.join(EXAMPLES, name),
                        "--store", self.store] + list(extra), env=LUA_ENV)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(l) for l in p.stdout.splitlines()]

    def test_sample_store(self):
        recs = rptest.dump_store(self.store)
        self.assertEqual(len(recs), RECORDS)
        self.assertEqual([r["storeVersion"] for r in recs
                          if r["key"] == "audit"], AUDIT)

    def test_single_stream(self):
        out = self.dry("single-stream.lua")
        self.assertEqual(len(out), MESSAGES)
        self.assertEqual({e["stream"] for e in out}, {"lokad-all"})
        self.assertEqual([(e["storeVersion"], e["index"]) for e in out],
                         sorted((e["storeVersion"], e["index"]) for e in out))
        by_pos = {(e["storeVersion"], e["index"]): e for e in out}
        created = by_pos[(8, 0)]
        self.assertEqual(created["eventType"], "CustomerCreated")
        self.assertEqual(created["data"], NORTHWIND)
        self.assertEqual(created["metadata"]["contract"],
                         "Lokad.SaaS/CustomerCreated")
        self.assertEqual(created["metadata"]["key"], "customer:1")
        self.assertEqual(created["metadata"]["replicatedFrom"],
                         {"source": "lokad-sample", "storeVersion": 8,
                          "streamVersion": 1, "key": "customer:1",
                          "index": 0})
        # Commands are kept, with their envelope attributes.
        cmd = by_pos[(7, 0)]
        self.assertEqual(cmd["eventType"], "CreateCustomer")
        self.assertEqual(cmd["metadata"]["envelopeId"],
                         "5ca1ab1e-0000-4000-8000-000000000004")
        self.assertEqual(cmd["metadata"]["createdUtc"],
                         "2013-03-15T09:05:00.0000000Z")
        # The 3.9.35 damage is undone, colons after commas included.
        self.assertEqual(by_pos[(11, 0)]["data"]["Reason"],
                         "wrong password, source: 203.0.113.9")
        self.assertEqual(by_pos[(23, 0)]["data"]["ChargeName"],
                         "Support plan {gold}")
        self.assertEqual(by_pos[(25, 0)]["data"]["UnlockReason"],
                         "verified by phone, ticket [4711]")
        # Bodies are sent as written: decimals keep their digits, "[]" stays
        # an array.
        self.assertEqual(by_pos[(20, 0)]["data"]["Tags"], [])
        self.assertEqual(by_pos[(20, 0)]["data"]["Totals"], {})
        raw = self.raw_line("single-stream.lua", 10, 0)
        self.assertIn('"Amount":49.90', raw)
        # Ids: stable across runs, distinct.
        again = self.dry("single-stream.lua")
        self.assertEqual([e["eventId"] for e in out],
                         [e["eventId"] for e in again])
        self.assertEqual(len({e["eventId"] for e in out}), len(out))

    def raw_line(self, script, sv, index):
        p = rptest.run(["dry-run", "--script", os.path.join(EXAMPLES, script),
                        "--store", self.store], env=LUA_ENV)
        for line in p.stdout.splitlines():
            e = json.loads(line)
            if e["storeVersion"] == sv and e["index"] == index:
                return line
        self.fail("no event %d/%d" % (sv, index))

    def test_per_aggregate(self):
        out = self.dry("per-aggregate.lua")
        self.assertEqual(len(out), MESSAGES - len(AUDIT))
        self.assertNotIn("audit", {e["metadata"]["key"] for e in out})
        streams = {}
        for e in out:
            streams.setdefault(e["stream"], []).append(e["eventType"])
        self.assertEqual(set(streams), {"func", "security-1", "user-1",
                                        "user-2", "customer-1", "customer-2"})
        self.assertEqual(streams["customer-1"],
                         ["CustomerCreated", "CustomerChargeAdded",
                          "CustomerPaymentAdded", "CustomerRenamed"])
        self.assertEqual(streams["user-1"],
                         ["UserCreated", "UserLoginSuccessReported",
                          "UserLoginFailureReported", "UserLocked",
                          "UserUnlocked"])
        self.assertEqual(streams["func"], ["InstanceStarted",
                                           "DailyReportGenerated",
                                           "InstanceStarted"])
        renamed = [e for e in out if e["eventType"] == "CustomerRenamed"][0]
        self.assertEqual(renamed["data"]["Name"],
                         "Northwind Traders (Europe), Ltd.")
        self.assertEqual(renamed["metadata"]["replicatedFrom"]
                         ["streamVersion"], 3)
        # The same record gives the same ids whatever the example: ids
        # depend on the source, the store version and the index only.
        single = {(e["storeVersion"], e["index"]): e["eventId"]
                  for e in self.dry("single-stream.lua")}
        for e in out:
            self.assertEqual(e["eventId"],
                             single[(e["storeVersion"], e["index"])])

    def test_split_and_relink(self):
        out = self.dry("split-and-relink.lua")
        streams = {}
        for e in out:
            streams.setdefault(e["stream"], []).append(e["eventType"])
        self.assertEqual(streams["credentials-1"],
                         ["SecurityPasswordAdded", "SecurityIdentityAdded"])
        self.assertEqual(streams["credentials-2"],
                         ["SecurityItemDisplayNameUpdated"])
        self.assertEqual(streams["security-1"], ["SecurityAggregateCreated"])
        self.assertEqual(streams["billing"],
                         ["CustomerChargeAdded", "CustomerPaymentAdded",
                          "CustomerPaymentAdded", "CustomerChargeAdded"])
        self.assertEqual(streams["customer-2"],
                         ["CustomerCreated", "CustomerPaymentAdded",
                          "CustomerChargeAdded"])
        self.assertIn("UserLoginFailed", streams["user-1"])
        self.assertIn("UserLoginSucceeded", streams["user-2"])
        # One record, two streams: the billing copy is the next event of
        # the same record, with its own id.
        charge = [e for e in out if e["storeVersion"] == 23]
        self.assertEqual([(e["stream"], e["index"]) for e in charge],
                         [("customer-2", 0), ("billing", 1)])
        self.assertEqual(charge[0]["data"], charge[1]["data"])
        self.assertNotEqual(charge[0]["eventId"], charge[1]["eventId"])
        self.assertEqual(charge[0]["data"]["TimeUtc"],
                         "2013-03-15T19:30:00.000Z")
        self.assertEqual(charge[0]["data"]["Charge"],
                         {"Amount": 9.99, "Currency": "Usd"})


if __name__ == "__main__":
    unittest.main()
