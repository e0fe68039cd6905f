"""`replicator import` and `replicator dump` driven as a user would: what
goes in comes back out, numbered as the .NET store numbers it; malformed
input changes nothing; bad folders and flags get one clear message."""
import base64
import hashlib
import json
import os
import re
import struct
import unittest

import rptest

NAME_RE = re.compile(r"^\d{8,}-\d{4}-\d\d-\d\d-\d{6}\.dat$")


def frame(stamp, key, data):
    """A V2 frame laid out by hand from spec section 4."""
    key = key.encode("utf-8") if isinstance(key, str) else key
    body = (struct.pack("<q", stamp) + rptest.varint(len(key)) + key +
            rptest.varint(len(data)) + data)
    return body + hashlib.sha1(body).digest()


def snapshot(folder):
    """{name: bytes} of every file in 'folder'."""
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = f.read()
    return out


class DumpImport(unittest.TestCase):
    def setUp(self):
        rptest.require(self, "import", "dump")
        self.dir = rptest.tempdir(self)
        self.store = os.path.join(self.dir, "sample-tapes")

    def import_text(self, text, *extra):
        return rptest.run(["import", "--store", self.store] + list(extra),
                          input=text)

    def test_round_trip(self):
        records = [
            rptest.record("customer:1", b"\x01\x02\x03"),
            rptest.record("Customer:1", b""),
            rptest.record("caf\u00e9:\u20ac", bytes(range(256)) * 70),
            rptest.record("k" * 200, b"x" * 128),
            rptest.record("customer:1", b"\x00\x00"),
            rptest.record("nul\u0000in key\n", b"z"),
            {"key": "audit", "attributes": {"id": "a1b2",
                                            "utc": "2013-03-15T12:00:00.0000000Z"},
             "messages": [{"contract": "Lokad.SaaS/CreateCustomer",
                           "body": "\r\n{\r\n\t\"Id\": 1,\r\n\t\"Name\": \"\u00c5\"\r\n}\r\n"}]},
            {"key": "func", "messages": [
                {"contract": "A/B", "body": ""},
                {"contract": "A/C", "bodyBase64": base64.b64encode(b"\xff\xfe").decode()}]},
        ]
        p = rptest.import_records(self.store, records)
        files = os.listdir(self.store)
        self.assertEqual(len(files), 1)
        self.assertRegex(files[0], NAME_RE)
        self.assertTrue(files[0].startswith("00000001-"))
        self.assertIn("8 records", p.stderr)
        self.assertIn(files[0], p.stderr)
        out = rptest.dump_store(self.store)
        self.assertEqual(len(out), len(records))
        counts = {}
        offset = 0
        for i, (want, got) in enumerate(zip(records, out)):
            counts[want["key"]] = counts.get(want["key"], 0) + 1
            self.assertEqual(got["storeVersion"], i + 1)
            self.assertEqual(got["streamVersion"], counts[want["key"]])
            self.assertEqual(got["stamp"], counts[want["key"]])
            self.assertEqual(got["key"], want["key"])
            self.assertEqual(got["file"], files[0])
            self.assertEqual(got["offset"], offset)
            data = base64.b64decode(got["data"])
            offset += len(frame(1, got["key"], data))
            if "data" in want:
                self.assertEqual(got["data"], want["data"])
            else:
                self.assertEqual(got["attributes"], want.get("attributes", {}))
                self.assertEqual(got["messages"], want["messages"])
        # "\x00\x00" parses as a message set with no message
        self.assertEqual(out[4]["messages"], [])
        self.assertNotIn("messages", out[0])
        # the store's bytes are those of spec section 4, frame by frame
        with open(os.path.join(self.store, files[0]), "rb") as f:
            raw = f.read()
        self.assertEqual(raw[:23 + 20], frame(1, "customer:1", b"\x01\x02\x03"))

    def test_second_run_continues(self):
        rptest.import_records(self.store, [rptest.record("a", b"1"),
                                           rptest.record("b", b"2")])
        rptest.import_records(self.store, [rptest.record("a", b"3")])
        files = sorted(os.listdir(self.store))
        self.assertEqual(len(files), 2)
        self.assertTrue(files[1].startswith("00000003-"), files)
        out = rptest.dump_store(self.store)
        self.assertEqual([(r["key"], r["storeVersion"], r["streamVersion"],
                           r["stamp"], r["file"]) for r in out],
                         [("a", 1, 1, 1, files[0]), ("b", 2, 1, 1, files[0]),
                          ("a", 3, 2, 2, files[1])])

    def test_input_file_and_dash(self):
        path = rptest.write_file(os.path.join(self.dir, "in.jsonl"),
                                 json.dumps(rptest.record("a", b"1")) + "\n\n")
        p = rptest.run(["import", "--store", self.store, path])
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.import_text(json.dumps(rptest.record("a", b"2")) + "\n", "-")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([r["streamVersion"] for r in
                          rptest.dump_store(self.store)], [1, 2])

    def test_malformed_line_changes_nothing(self):
        rptest.import_records(self.store, [rptest.record("a", b"1")])
        before = snapshot(self.store)
        good = json.dumps(rptest.record("a", b"2"))
        cases = [
            ("{not json", "line 2"),
            ('{"data": "AQ=="}', "key"),
            ('{"key": 5, "data": "AQ=="}', "key"),
            ('{"key": "a", "data": "AQ="}', "data"),
            ('{"key": "a", "data": 7}', "data"),
            ('{"key": "a"}', "data"),
            ('["key", "a"]', "object"),
            ('{"key": "a", "messages": {}}', "messages"),
            ('{"key": "a", "messages": [{"body": "x"}]}', "contract"),
            ('{"key": "a", "messages": [{"contract": "X", "body": 1}]}', "body"),
            ('{"key": "a", "messages": [{"contract": "X", "body": "x"}], '
             '"attributes": {"id": 1}}', "attribute"),
            ('{"key": "\\ud800", "data": "AQ=="}', "line 2"),
        ]
        for line, word in cases:
            with self.subTest(line=line):
                p = self.import_text(good + "\n" + line + "\n" + good + "\n")
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("line 2", p.stderr)
                self.assertIn(word, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1,
                                 p.stderr)
                self.assertEqual(snapshot(self.store), before)
        # a line of NUL bytes is not blank
        p = self.import_text(good + "\n\0\0\0\n" + good + "\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("line 2", p.stderr)
        self.assertEqual(snapshot(self.store), before)
        # non-UTF-8 bytes in a line
        p = self.import_text(b'{"key": "\xff", "data": "AQ=="}\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("line 1", p.stderr)
        self.assertEqual(snapshot(self.store), before)

    def import_in_progress(self, key):
        """An import of 5,000 records of 'key' whose input stays open: it
        is returned once its temporary file exists."""
        import subprocess
        p = subprocess.Popen([rptest.REPLICATOR, "import", "--store",
                              self.store], stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(p.kill)
        line = (json.dumps(rptest.record(key, b"x" * 1000)) + "\n").encode()
        p.stdin.write(line * 5000)
        p.stdin.flush()
        rptest.wait_for(lambda: os.path.isdir(self.store) and any(
                            n.startswith(".import-")
                            for n in os.listdir(self.store)),
                        what="the temporary file")
        return p

    def dumped_keys(self):
        p = rptest.run(["dump", "--store", self.store])
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(x)["key"] for x in p.stdout.splitlines()]

    def test_import_interrupted_writes_nothing(self):
        import signal
        import time
        p = self.import_in_progress("a")
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=30 * rptest.SLOW)[1].decode()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("interrupted", err)
        self.assertEqual(os.listdir(self.store), [])

    def test_import_killed_leaves_a_file_the_next_run_names(self):
        """SIGKILL leaves the session's temporary file; it is not part of
        the store (dump ignores it), and the next import names it."""
        import signal
        self.import_text(json.dumps(rptest.record("a", b"first")) + "\n")
        p = self.import_in_progress("b")
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30 * rptest.SLOW)
        left = [n for n in os.listdir(self.store) if n.startswith(".import-")]
        self.assertEqual(len(left), 1)
        self.assertEqual(self.dumped_keys(), ["a"])
        q = self.import_text(json.dumps(rptest.record("c", b"third")) + "\n")
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertIn(left[0] + " was left by an import that did not finish",
                      q.stderr)
        self.assertEqual(self.dumped_keys(), ["a", "c"])

    def test_dump_errors(self):
        missing = os.path.join(self.dir, "missing")
        p = rptest.run(["dump", "--store", missing])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(missing, p.stderr)
        empty = os.path.join(self.dir, "empty")
        os.mkdir(empty)
        with open(os.path.join(empty, "lock"), "w"):
            pass
        p = rptest.run(["dump", "--store", empty])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(empty, p.stderr)
        self.assertIn("no store", p.stderr)
        self.assertEqual(p.stdout, "")
        for args in (["dump", "--bogus"], ["dump", "--store"],
                     ["dump", "--store", empty, "--from"],
                     ["dump", "--store", empty, "--count", "x"],
                     ["dump", "--store", empty, "--from", "-1"],
                     ["dump"], ["import"], ["import", "--store"],
                     ["import", "--store", empty, "--bogus"]):
            with self.subTest(args=args):
                p = rptest.run(args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("usage", p.stderr)

    def test_dump_from_and_count(self):
        rptest.import_records(self.store, [rptest.record("k%d" % (i % 3),
                                                         str(i).encode())
                                           for i in range(10)])
        p = rptest.run(["dump", "--store", self.store, "--from", "4",
                        "--count", "3"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([(r["storeVersion"], r["streamVersion"]) for r in out],
                         [(5, 2), (6, 2), (7, 3)])
        p = rptest.run(["dump", "--store=" + self.store, "--from=10"])
        self.assertEqual((p.returncode, p.stdout), (0, ""))

    def test_dump_goes_on_past_corrupt_frame(self):
        os.mkdir(self.store)
        bad = bytearray(frame(2, "a", b"two"))
        bad[-25] ^= 0x10
        first = frame(1, "a", b"one")
        with open(os.path.join(self.store, "00000001-2013-03-15-093012.dat"),
                  "wb") as f:
            f.write(first + bytes(bad) + frame(2, "a", b"lost"))
        with open(os.path.join(self.store, "00000003-2013-03-15-093013.dat"),
                  "wb") as f:
            f.write(frame(2, "a", b"kept") + frame(3, "a", b"torn")[:20])
        p = rptest.run(["dump", "--store", self.store])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([(base64.b64decode(r["data"]), r["storeVersion"],
                           r["streamVersion"]) for r in out],
                         [(b"one", 1, 1), (b"kept", 2, 2)])
        self.assertIn("00000001-2013-03-15-093012.dat offset %d" % len(first),
                      p.stderr)
        self.assertIn("hash mismatch", p.stderr)
        self.assertIn("00000003-2013-03-15-093013.dat offset %d" %
                      len(frame(2, "a", b"kept")), p.stderr)

    def test_dump_v1_store(self):
        """V1 frames (i32 data length), hash-checked unless --v1-no-hash."""
        os.mkdir(self.store)

        def v1(stamp, key, data, flip=False):
            body = (struct.pack("<q", stamp) + rptest.varint(len(key)) +
                    key.encode() + struct.pack("<i", len(data)) + data)
            h = bytearray(hashlib.sha1(body).digest())
            if flip:
                h[0] ^= 1
            return body + bytes(h)
        with open(os.path.join(self.store, "00000000-2012-07-15-120000.dat"),
                  "wb") as f:
            f.write(v1(1, "customer-1", b"\x01\x02\x03") +
                    v1(1, "customer-2", b"x", flip=True) +
                    v1(2, "customer-1", b"y"))
        out = rptest.dump_store(self.store)
        self.assertEqual([(r["key"], r["storeVersion"]) for r in out],
                         [("customer-1", 1)])
        self.assertEqual(out[0]["data"], "AQID")
        p = rptest.run(["dump", "--store", self.store, "--v1-no-hash",
                        "--log-level", "error"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        out = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([(r["key"], r["storeVersion"], r["streamVersion"])
                          for r in out],
                         [("customer-1", 1, 1), ("customer-2", 2, 1),
                          ("customer-1", 3, 2)])

    def test_dump_v1_torn_hash_key_not_utf8(self):
        """--v1-no-hash accepts a last frame whose hash is cut off, but
        not one whose key is not UTF-8: the output stays JSON."""
        os.mkdir(self.store)
        good = v1_frame(1, "a", b"x")
        bad = v1_frame(1, b"k\xff", b"y")
        with open(os.path.join(self.store, "00000001-2012-07-15-120000.dat"),
                  "wb") as f:
            f.write(good + bad[:-7])
        p = rptest.run(["dump", "--store", self.store, "--v1-no-hash"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual([r["key"] for r in out], ["a"])
        self.assertIn("offset %d" % len(good), p.stderr)
        self.assertIn("UTF-8", p.stderr)

    def test_dump_odd_file_name(self):
        """A file name that is not UTF-8 is shown with U+FFFD."""
        os.mkdir(self.store)
        name = b"00000001-2013-03-15-\xff.dat"
        with open(os.path.join(self.store.encode(), name), "wb") as f:
            f.write(frame(1, "a", b"x"))
        out = rptest.dump_store(self.store)
        self.assertEqual(out[0]["file"], "00000001-2013-03-15-\ufffd.dat")
        self.assertEqual(out[0]["key"], "a")

    def test_dump_spec_record(self):
        """Spec 9.5: the whole record, decoded."""
        os.mkdir(self.store)
        raw = bytes.fromhex(
            "0100000000000000 0a 637573746f6d65723a31 30"
            "00011a4c6f6b61642e536161532f437573746f6d657243726561746564"
            "120d0a7b0d0a0922496422 3a20310d0a7d0d0a"
            "a1cb41ad72c0cde950afb5b23d9bdca1ff377ad5".replace(" ", ""))
        self.assertEqual(len(raw), 88)
        with open(os.path.join(self.store, "00000001-2013-03-15-093012.dat"),
                  "wb") as f:
            f.write(raw)
        out = rptest.dump_store(self.store)
        self.assertEqual(out, [{
            "storeVersion": 1, "streamVersion": 1, "key": "customer:1",
            "stamp": 1, "file": "00000001-2013-03-15-093012.dat", "offset": 0,
            "data": base64.b64encode(raw[20:68]).decode(),
            "attributes": {},
            "messages": [{"contract": "Lokad.SaaS/CustomerCreated",
                          "body": "\r\n{\r\n\t\"Id\": 1\r\n}\r\n"}]}])


if __name__ == "__main__":
    unittest.main()


# --- a model reader, written from spec sections 4.1, 7.1 and 12 -----------

def model_frame(buf, pos, v1):
    """(stamp, key bytes, data, end) of the frame at 'pos', or None when
    .NET would end the file there."""
    def varint(at):
        v = 0
        for i in range(5):
            if at + i >= len(buf):
                return None
            b = buf[at + i]
            if i == 4 and b > 7:
                return None
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if i > 0 and b == 0:
                    return None  # non-minimal: .NET's re-encoding differs
                return v, at + i + 1
        return None
    if pos + 8 > len(buf):
        return None
    stamp = struct.unpack_from("<q", buf, pos)[0]
    r = varint(pos + 8)
    if r is None:
        return None
    klen, at = r
    if at + klen > len(buf):
        return None
    key = bytes(buf[at:at + klen])
    at += klen
    if v1:
        if at + 4 > len(buf):
            return None
        dlen = struct.unpack_from("<i", buf, at)[0]
        if dlen < 0:
            return None
        at += 4
    else:
        r = varint(at)
        if r is None:
            return None
        dlen, at = r
    if at + dlen + 20 > len(buf):
        return None
    data = bytes(buf[at:at + dlen])
    if hashlib.sha1(buf[pos:at + dlen]).digest() != buf[at + dlen:at + dlen + 20]:
        return None
    if stamp == 0 and klen == 0 and dlen == 0:
        return None  # zero padding or the empty frame: both end the file
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return stamp, key, data, at + dlen + 20


def model_read(folder):
    """[(key, storeVersion, streamVersion, data)] as .NET LATEST numbers
    them."""
    names = sorted((n for n in os.listdir(folder)
                    if n.lower().endswith(".dat")), key=lambda n: n.encode())
    out, counts = [], {}
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            buf = f.read()
        pos, v1 = 0, None
        while True:
            if v1 is None:
                fr = model_frame(buf, pos, False)
                v1 = False
                if fr is None:
                    fr = model_frame(buf, pos, True)
                    v1 = True
            else:
                fr = model_frame(buf, pos, v1)
            if fr is None:
                break
            stamp, key, data, pos = fr
            counts[key] = counts.get(key, 0) + 1
            out.append((key.decode("utf-8"), len(out) + 1, counts[key], data))
    return out


def v1_frame(stamp, key, data):
    key = key.encode("utf-8") if isinstance(key, str) else key
    body = (struct.pack("<q", stamp) + rptest.varint(len(key)) + key +
            struct.pack("<i", len(data)) + data)
    return body + hashlib.sha1(body).digest()


def raw_frame(stamp, key_field, data_field):
    """A frame from raw field bytes (length prefixes included)."""
    body = struct.pack("<q", stamp) + key_field + data_field
    return body + hashlib.sha1(body).digest()


KEYS = ["customer:1", "Customer:1", "customer:2", "func", "audit",
        "caf\u00e9:\u20ac", "\U0001F600", "", "k" * 130]


class ModelComparison(unittest.TestCase):
    """Random stores with every kind of damage: dump must agree with the
    model reader above, record for record."""

    def setUp(self):
        rptest.require(self, "dump")
        self.dir = rptest.tempdir(self)

    def random_store(self, rng, folder):
        os.mkdir(folder)
        counts = {}
        for n in range(rng.randint(1, 4)):
            v1 = rng.random() < 0.15
            buf = bytearray()
            for _ in range(rng.randint(0, 8)):
                key = rng.choice(KEYS)
                counts[key] = counts.get(key, 0) + 1
                size = rng.choice([0, 1, 5, 127, 128, 300, 16384])
                data = bytes(rng.getrandbits(8) for _ in range(size))
                f = (v1_frame if v1 else frame)(counts[key], key, data)
                buf += f
            kind = rng.randrange(10)
            if kind == 0 and buf:  # torn somewhere
                del buf[rng.randrange(len(buf)):]
            elif kind == 1 and buf:  # a flipped bit
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
            elif kind == 2:  # zero tail, then maybe more frames
                buf += bytes(rng.choice([1, 9, 10, 29, 30, 31, 100]))
                if rng.random() < 0.5:
                    buf += frame(9, "after-zeros", b"x")
            elif kind == 3:  # the empty frame with a good hash
                buf += frame(0, "", b"") + frame(1, "after-empty", b"x")
            elif kind == 4:  # non-minimal key length
                buf += raw_frame(1, b"\x81\x00k", b"\x01z")
                buf += frame(1, "after-bad", b"x")
            elif kind == 5:  # non-minimal data length
                buf += raw_frame(1, b"\x01k", b"\x81\x00z")
            elif kind == 6:  # a key that is not UTF-8
                buf += raw_frame(1, b"\x02\xc0\x80", b"\x01z")
                buf += frame(1, "after-bad", b"x")
            elif kind == 7:  # zero-length file
                buf = bytearray()
            name = "%08d-2013-03-15-%06d.dat" % (n * 10 + 1, n)
            with open(os.path.join(folder, name), "wb") as f:
                f.write(buf)

    def test_random_stores_match_the_model(self):
        import random
        rng = random.Random(20130315)
        compared = 0
        for i in range(120):
            folder = os.path.join(self.dir, "s%d" % i)
            self.random_store(rng, folder)
            want = model_read(folder)
            p = rptest.run(["dump", "--store", folder, "--log-level", "error"])
            if not any(n.endswith(".dat") for n in os.listdir(folder)):
                continue
            self.assertEqual(p.returncode, 0, p.stderr)
            got = [(r["key"], r["storeVersion"], r["streamVersion"],
                    base64.b64decode(r["data"]))
                   for r in map(json.loads, p.stdout.splitlines())]
            self.assertEqual(got, want, "store %d" % i)
            compared += len(got)
        self.assertGreater(compared, 500)
