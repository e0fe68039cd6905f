#!/bin/sh
# make demo: import the sample store, start the emulator on a free port,
# replicate it with an example script until caught up, show what landed.
# Everything goes to ./demo (DEMO_DIR overrides); binaries from bin/
# (RP_BIN_DIR overrides).
set -eu
cd "$(dirname "$0")/.."
bin=${RP_BIN_DIR:-bin}
demo=${DEMO_DIR:-demo}
sample=${DEMO_SAMPLE:-examples/sample-store.jsonl}
script=${DEMO_SCRIPT:-examples/per-aggregate.lua}
store=$demo/sample-store
emu_pid=

say() { printf '\n== %s\n' "$*"; }
stop_emu() {
    if [ -n "$emu_pid" ]; then
        kill "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
        emu_pid=
    fi
}
trap stop_emu EXIT
trap 'exit 130' INT TERM

rm -rf "$demo"
mkdir -p "$demo"

say "import $sample into $store"
"$bin/replicator" import --store "$store" "$sample"
"$bin/replicator" dump --store "$store" | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
keys = {}
for r in recs:
    keys[r["key"]] = keys.get(r["key"], 0) + 1
print("%d records in %d keys: %s" % (len(recs), len(keys),
      ", ".join("%s (%d)" % kv for kv in sorted(keys.items()))))'

say "start bin/esdb-emu on a free port"
"$bin/esdb-emu" --port 0 >"$demo/emu.out" 2>"$demo/emu.log" &
emu_pid=$!
i=0
until [ "$(wc -l <"$demo/emu.out")" -ge 1 ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$emu_pid" 2>/dev/null; then
        echo "demo: the emulator did not start:" >&2
        cat "$demo/emu.log" >&2
        exit 1
    fi
    sleep 0.1
done
url=$(head -n 1 "$demo/emu.out")
echo "emulator at $url"

say "replicator run --script $script --until-caught-up"
"$bin/replicator" run --script "$script" --store "$store" --target "$url" \
    --checkpoint "$demo/replicator.checkpoint" --until-caught-up

say "what landed (GET $url/_emu/dump)"
python3 - "$url" <<'EOF'
import json
import sys
import urllib.request

url = sys.argv[1]
with urllib.request.urlopen(url + "/_emu/dump") as r:
    events = [json.loads(l) for l in r.read().decode().splitlines() if l]
streams = {}
for e in events:
    streams.setdefault(e["stream"], []).append(e)
print("%d events in %d streams (replicator-checkpoint-*: where the "
      "replicator stands; $$: stream metadata):" % (len(events), len(streams)))
for s in sorted(streams):
    types = sorted({e["eventType"] for e in streams[s]})
    print("  %-40s %4d  %s" % (s, len(streams[s]), ", ".join(types)))
first = next((e for e in events
              if not e["stream"].lstrip("$").startswith(
                  "replicator-checkpoint-")), None)
if first:
    for k in ("data", "metadata"):
        try:
            first[k] = json.loads(first[k])
        except (KeyError, TypeError, ValueError):
            pass
    print("\none event, %s/%d:" % (first["stream"], first["eventNumber"]))
    print(json.dumps(first, indent=2, ensure_ascii=False))
    req = urllib.request.Request(
        "%s/streams/%s?embed=body" % (url, first["stream"]),
        headers={"Accept": "application/vnd.eventstore.atom+json"})
    with urllib.request.urlopen(req) as r:
        feed = json.load(r)
    print("\nits stream as a client reads it (GET /streams/%s?embed=body, "
          "newest first):" % first["stream"])
    for entry in feed.get("entries", []):
        print("  %-20s %s" % (entry.get("title"), entry.get("eventType")))
EOF

say "stop the emulator"
stop_emu
echo "done: the store, logs and checkpoint are in $demo/"
