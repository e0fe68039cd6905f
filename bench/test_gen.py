#!/usr/bin/env python3
"""Checks of the benchmark generator: frames and payloads byte for byte as in
spec/lokad-store-format.md (sections 2, 4 and 9.5), the ServiceStack layout,
and, when bin/replicator is built, that `import` then `dump` gives back the
generated records.  Run: python3 bench/test_gen.py"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

REPLICATOR = os.path.join(os.environ.get(
    "RP_BIN_DIR", os.path.join(os.path.dirname(HERE), "bin")), "replicator")


class GenTest(unittest.TestCase):
    def test_gen_varint_examples(self):
        for n, hexs in ((0, "00"), (127, "7f"), (128, "8001"), (300, "ac02"),
                        (16384, "808001"), (2147483647, "ffffffff07")):
            self.assertEqual(gen.varint(n).hex(), hexs)

    def test_gen_frame_matches_worked_example(self):
        body = b'\r\n{\r\n\t"Id": 1\r\n}\r\n'
        data = gen.msgset([("Lokad.SaaS/CustomerCreated", body)])
        self.assertEqual(len(data), 48)
        f = gen.frame(1, "customer:1", data)
        self.assertEqual(len(f), 88)
        self.assertEqual(f[:8].hex(), "0100000000000000")
        self.assertEqual(f[-20:].hex(),
                         "a1cb41ad72c0cde950afb5b23d9bdca1ff377ad5")

    def test_gen_pretty_layout(self):
        got = gen.pretty('{"Id":{"Id":1},"A":[1,2],"B":{},"T":"12:00"}')
        self.assertEqual(got, '\r\n{\r\n\t"Id": \r\n\t{\r\n\t\t"Id": 1\r\n'
                         '\t},\r\n\t"A": \r\n\t[\r\n\t\t1,\r\n\t\t2\r\n\t],'
                         '\r\n\t"B": {},\r\n\t"T": "12:00"\r\n}\r\n')

    def test_gen_bodies_are_json_of_the_right_size(self):
        g = gen.Generator(3000, 300, seed=7)
        sizes = []
        keys = set()
        for key, stamp, msgs in g:
            keys.add(key)
            for contract, body in msgs:
                self.assertTrue(contract.startswith("Lokad.SaaS/"))
                json.loads(body)
                sizes.append(len(body))
        self.assertEqual(len(keys), 300)
        self.assertGreaterEqual(min(sizes), 100)
        self.assertLessEqual(max(sizes), 320)
        self.assertEqual(g.events, len(sizes))

    def test_gen_is_reproducible(self):
        a = [(k, s, m) for k, s, m in gen.Generator(500, 30, seed=3)]
        b = [(k, s, m) for k, s, m in gen.Generator(500, 30, seed=3)]
        self.assertEqual(a, b)

    @unittest.skipUnless(os.access(REPLICATOR, os.X_OK), "no bin/replicator")
    def test_gen_import_then_dump_round_trips(self):
        help_text = subprocess.run([REPLICATOR, "--help"],
                                   capture_output=True).stdout.decode()
        if "import" not in help_text or "dump" not in help_text:
            self.skipTest("replicator has no import/dump yet")
        with tempfile.TemporaryDirectory() as d:
            store = os.path.join(d, "store")
            os.makedirs(store)
            lines = tempfile.SpooledTemporaryFile(mode="w+")
            g = gen.Generator(200, 20, seed=5)
            gen.import_lines(g, lines)
            lines.seek(0)
            subprocess.run([REPLICATOR, "import", "--store", store],
                           stdin=lines, check=True)
            out = subprocess.run([REPLICATOR, "dump", "--store", store],
                                 capture_output=True, check=True).stdout
            dumped = [json.loads(x) for x in out.splitlines()]
            want = [(k, s, gen.msgset(m))
                    for k, s, m in gen.Generator(200, 20, seed=5)]
            self.assertEqual(len(dumped), len(want))
            for i, (rec, (k, s, data)) in enumerate(zip(dumped, want)):
                self.assertEqual(rec["storeVersion"], i + 1)
                self.assertEqual(rec["key"], k)
                self.assertEqual(rec["streamVersion"], s)
                self.assertEqual(base64.b64decode(rec["data"]), data)


if __name__ == "__main__":
    unittest.main()
