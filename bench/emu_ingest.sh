#!/bin/sh
# Ingest benchmark of bin/esdb-emu: builds bench/emu_ingest.c, starts the
# emulator on a free port and posts 500-event batches of 200-byte events over
# keep-alive connections for a few seconds.  Prints one line with events/s.
# usage: sh bench/emu_ingest.sh [CONNS (2)] [SECONDS (5)] [BATCH (500)] [DATA (200)]
#        [KIND: object (default) or string, see bench/emu_ingest.c]
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
emu=${RP_BIN_DIR:-$here/bin}/esdb-emu
out=$here/build/bench
mkdir -p "$out"
${CC:-cc} -std=c11 -O2 -Wall -o "$out/emu_ingest" "$here/bench/emu_ingest.c" -lpthread
fifo=$out/emu-url.$$
rm -f "$fifo"
mkfifo "$fifo"
"$emu" --port 0 >"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$fifo"' EXIT INT TERM
read -r url <"$fifo"
port=${url##*:}
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
"$out/emu_ingest" "$port" "${1:-2}" "${2:-5}" "${3:-500}" "${4:-200}" "${5:-object}" |
    tee "$out/emu_ingest.last"
after=$(cpu)
events=$(awk '{print $1}' "$out/emu_ingest.last")
awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$events" 'BEGIN {
    s = t / hz; if (s > 0) printf "emulator CPU time %.2f s: %.0f events per CPU second\n", s, n / s }'
ps -o rss= -p $pid | awk '{printf "emulator RSS after the run: %.0f MiB\n", $1/1024}'
uptime
