#!/usr/bin/env python3
"""Generates benchmark stores: Lokad.CQRS event-store records whose payloads
are message sets (spec/lokad-store-format.md section 9) with ServiceStack-style
pretty-printed JSON bodies, for aggregates keyed customer:N, user:N and
security:N.

As a program it writes JSON lines for `replicator import` on stdout:
    python3 bench/gen.py --records 1000000 --keys 3000 [--seed 1] \
        [--multi-pct 5] | bin/replicator import --store DIR
and prints a summary (records, events, payload bytes) on stderr.

As a module it also writes store frames directly (frame(), append_file()),
which the live-tail scenario uses to play the part of a running writer."""
import argparse
import base64
import hashlib
import json
import random
import struct
import sys
import time

# Bump when the generated records change, so that cached stores are rebuilt.
GEN_VERSION = 1

TAGS = ("customer", "user", "security")


def varint(n):
    """The .NET 7-bit encoded int (spec section 2), shortest form."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def lstring(b):
    return varint(len(b)) + b


def msgset(messages, attrs=()):
    """A message-set payload (spec 9.1): attributes, then (contract, body)."""
    parts = [varint(len(attrs))]
    for k, v in attrs:
        parts.append(lstring(k.encode()))
        parts.append(lstring(v.encode()))
    parts.append(varint(len(messages)))
    for contract, body in messages:
        parts.append(lstring(contract.encode()))
        parts.append(lstring(body))
    return b"".join(parts)


def frame(stamp, key, data):
    """One V2 frame (spec section 4): stamp, key, data, SHA-1 of all three."""
    head = struct.pack("<q", stamp) + lstring(key.encode()) + varint(len(data))
    h = hashlib.sha1(head)
    h.update(data)
    return head + data + h.digest()


def file_name(first_version, when=None):
    """A data file name as the .NET writer makes it (spec 3.3)."""
    t = time.gmtime(time.time() if when is None else when)
    return "%08d-%s.dat" % (first_version, time.strftime("%Y-%m-%d-%H%M%S", t))


def pretty(compact):
    """ServiceStack JsvFormatter.Format layout (spec 9.4) with Windows
    newlines, for compact JSON whose strings hold no ',', '{', '[' or ':'
    outside the first colon of a pair (the generator's values never do)."""
    nl = "\r\n"
    out = []
    depth = 0
    in_str = False
    prev = ""
    skip = False
    for i, ch in enumerate(compact):
        if skip:
            skip = False
            prev = ch
            continue
        if in_str:
            out.append(ch)
            if ch == '"' and prev != "\\":
                in_str = False
            prev = ch
            continue
        if ch == '"':
            in_str = True
            out.append(ch)
        elif ch in "{[" and compact[i + 1:i + 2] in "}]" and \
                compact[i + 1:i + 2]:
            out.append(ch + compact[i + 1])  # {} and [] stay on one line
            skip = True
        elif ch in "{[":
            if prev == ":":
                out.append(nl + "\t" * depth)
            depth += 1
            out.append(ch + nl + "\t" * depth)
        elif ch in "}]":
            depth -= 1
            out.append(nl + "\t" * depth + ch)
        elif ch == ",":
            out.append("," + nl + "\t" * depth)
        elif ch == ":":
            out.append(": ")
        else:
            out.append(ch)
        prev = ch
    return nl + "".join(out) + nl


# Contracts by tag: (name, fields).  A field value is a placeholder kind that
# make_body() fills; "created" marks the first event of an aggregate.
CONTRACTS = {
    "customer": [
        ("CustomerCreated", [("Id", "id"), ("CustomerName", "company"),
                             ("Currency", "cur"), ("Email", "email"),
                             ("Utc", "date")]),
        ("CustomerPaymentAdded", [("Id", "id"), ("PaymentName", "word"),
                                  ("Payment", "money"),
                                  ("NewBalance", "money"),
                                  ("Transaction", "int"), ("TimeUtc", "date")]),
        ("CustomerChargeAdded", [("Id", "id"), ("ChargeName", "word"),
                                 ("Charge", "money"), ("NewBalance", "money"),
                                 ("Transaction", "int"), ("TimeUtc", "date")]),
        ("CustomerRenamed", [("Id", "id"), ("Name", "company"),
                             ("OldName", "company"), ("Renamed", "date")]),
        ("CustomerLocked", [("Id", "id"), ("Reason", "sentence"),
                            ("LockedBy", "email"), ("TimeUtc", "date")]),
    ],
    "user": [
        ("UserCreated", [("Id", "id"), ("SecurityId", "id"),
                         ("ActivityThreshold", "span"), ("Utc", "date")]),
        ("UserLoginSuccess", [("Id", "id"), ("SecurityId", "id"),
                              ("TimeUtc", "date"), ("LastLoginUtc", "date"),
                              ("ActivityThreshold", "span")]),
        ("UserLoginFailed", [("Id", "id"), ("SecurityId", "id"),
                             ("TimeUtc", "date"), ("Address", "ip"), ("Agent", "word")]),
        ("UserLocked", [("Id", "id"), ("SecurityId", "id"),
                        ("LockReason", "sentence"), ("LockedTillUtc", "date")]),
    ],
    "security": [
        ("SecurityAggregateCreated", [("Id", "id"), ("Utc", "date"),
                                      ("Realm", "word"),
                                      ("CreatedBy", "email")]),
        ("SecurityPasswordAdded", [("Id", "id"), ("UserId", "id"),
                                   ("DisplayName", "company"),
                                   ("Login", "email"), ("PasswordHash", "hash"),
                                   ("PasswordSalt", "salt"),
                                   ("Token", "token")]),
        ("SecurityIdentityAdded", [("Id", "id"), ("UserId", "id"),
                                   ("DisplayName", "company"),
                                   ("Identity", "openid"), ("Token", "token")]),
        ("SecurityItemRemoved", [("Id", "id"), ("UserId", "id"),
                                 ("Lookup", "email"), ("Type", "word"),
                                 ("TimeUtc", "date")]),
    ],
}

WORDS = ("alpha", "bravo", "delta", "harbor", "meadow", "vector", "quartz",
         "summit", "falcon", "cobalt", "ember", "lumen", "nimbus", "orbit")
CURRENCIES = ("Eur", "Usd", "Gbp", "Rur")


class Templates:
    """Per contract, a %-format string of the pretty body, built once from a
    placeholder document so that each record costs one string format."""

    def __init__(self):
        self.by_tag = {}
        for tag, contracts in CONTRACTS.items():
            rows = []
            for name, fields in contracts:
                doc = {}
                kinds = []
                for fname, kind in fields:
                    if kind == "money":
                        doc[fname] = {"Amount": "\x00", "Currency": "\x00"}
                        kinds += ["amount", "cur"]
                    elif kind == "id":
                        doc[fname] = {"Id": "\x00"}
                        kinds.append("int" if fname != "Id" else "self")
                    else:
                        doc[fname] = "\x00"
                        kinds.append(kind)
                compact = json.dumps(doc, separators=(",", ":"))
                fmt = pretty(compact.replace("%", "%%"))
                fmt = fmt.replace('"\\u0000"', "%s")
                rows.append(("Lokad.SaaS/" + name, fmt, kinds))
            self.by_tag[tag] = rows


def value(kind, rnd, ident, now):
    if kind == "self":
        return str(ident)
    if kind == "int":
        return str(rnd.randrange(1, 10000000))
    if kind == "amount":
        return "%d.%02d" % (rnd.randrange(0, 5000), rnd.randrange(100))
    if kind == "cur":
        return '"%s"' % rnd.choice(CURRENCIES)
    if kind == "company":
        return '"%s %s Ltd %d"' % (rnd.choice(WORDS).title(),
                                   rnd.choice(WORDS).title(),
                                   rnd.randrange(1000))
    if kind == "email":
        return '"%s.%d@example.com"' % (rnd.choice(WORDS), rnd.randrange(10000))
    if kind == "date":
        return '"\\/Date(%d)\\/"' % (now + rnd.randrange(0, 86400000))
    if kind == "word":
        return '"%s"' % rnd.choice(WORDS)
    if kind == "sentence":
        return '"%s %s %s"' % (rnd.choice(WORDS), rnd.choice(WORDS),
                               rnd.choice(WORDS))
    if kind == "span":
        return '"00:%02d:00"' % rnd.randrange(1, 60)
    if kind == "ip":
        return '"10.%d.%d.%d"' % (rnd.randrange(256), rnd.randrange(256),
                                  rnd.randrange(256))
    if kind == "hash":
        return '"%040x"' % rnd.getrandbits(160)
    if kind == "salt":
        return '"%016x"' % rnd.getrandbits(64)
    if kind == "token":
        return '"%032x"' % rnd.getrandbits(128)
    if kind == "openid":
        return '"openid.example.com/%s%d"' % (rnd.choice(WORDS),
                                              rnd.randrange(100000))
    raise ValueError(kind)


class Generator:
    """Yields (key, stamp, messages) for a store of 'records' records over
    'keys' aggregates (keys split evenly across the three tags)."""

    def __init__(self, records, keys, seed=1, multi_pct=5):
        self.records = records
        self.keys = keys
        self.rnd = random.Random(seed)
        self.multi_pct = multi_pct
        self.tpl = Templates()
        self.events = 0
        self.data_bytes = 0

    def key_of(self, i):
        return TAGS[i % 3], i // 3 + 1

    def body(self, tag, ident, created):
        rows = self.tpl.by_tag[tag]
        contract, fmt, kinds = rows[0] if created else \
            rows[self.rnd.randrange(1, len(rows))]
        now = 1363348800000
        vals = tuple(value(k, self.rnd, ident, now) for k in kinds)
        return contract, (fmt % vals).encode()

    def __iter__(self):
        counts = [0] * self.keys
        rnd = self.rnd
        for n in range(self.records):
            # Every aggregate starts with its creation event; after that keys
            # are drawn at random.
            i = n if n < self.keys else rnd.randrange(self.keys)
            tag, ident = self.key_of(i)
            counts[i] += 1
            msgs = [self.body(tag, ident, counts[i] == 1)]
            if rnd.randrange(100) < self.multi_pct:
                msgs.append(self.body(tag, ident, False))
            self.events += len(msgs)
            yield "%s:%d" % (tag, ident), counts[i], msgs


def import_lines(gen, out):
    """Writes one JSON line per record for `replicator import`:
    {"key", "data" (base64)}; import stamps each frame with its key's count."""
    write = out.write
    for key, _stamp, msgs in gen:
        data = msgset(msgs)
        gen.data_bytes += len(data)
        write('{"key":"%s","data":"%s"}\n' %
              (key, base64.b64encode(data).decode()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--keys", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--multi-pct", type=int, default=5,
                    help="percent of records that carry two messages")
    a = ap.parse_args()
    if a.records < 0 or a.keys < 1:
        ap.error("--records must be >= 0 and --keys >= 1")
    gen = Generator(a.records, a.keys, a.seed, a.multi_pct)
    out = open(sys.stdout.fileno(), "w", buffering=1 << 20, closefd=False)
    import_lines(gen, out)
    out.flush()
    json.dump({"records": a.records, "events": gen.events,
               "data_bytes": gen.data_bytes}, sys.stderr)
    sys.stderr.write("\n")


if __name__ == "__main__":
    main()
