#!/usr/bin/env bash
# `make bench`: measures rcptwatch against the floor (bench/pcap_floor) and tshark on the
# generated captures, plus the SYN flood, per-flow memory, profile and micro-benchmarks, and
# rewrites the generated sections of docs/PERFORMANCE.md. All figures come from this one run.
#   bench/run-bench.sh BUILD_DIR    (BUILD_DIR holds rcptwatch and bench/*; captures are
#                                    generated once into BUILD_DIR/captures)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:?usage: run-bench.sh BUILD_DIR}" && pwd)
CAPS="$BUILD/captures"
OUT="$BUILD/bench-results"
RUNS=${BENCH_RUNS:-5}         # median of this many, small captures
BIG_RUNS=${BENCH_BIG_RUNS:-3} # median of this many, the multi-GB capture and the 4x one
RULES="$ROOT/rules/default.rules"
RW="$BUILD/rcptwatch"
mkdir -p "$OUT"
rm -f "$OUT"/*.tsv "$OUT"/alerts-*.jsonl

say() { echo "bench: $*" >&2; }

/usr/bin/python3 "$ROOT/bench/gen-captures.py" "$CAPS" > "$OUT/captures.json"

# run NAME TOOL CMD...: one timed run -> "name tool wall_usec peak_rss_kib cpu_seconds" in runs.tsv
run() {
  local name=$1 tool=$2
  shift 2
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$OUT/time.txt" "$@" > "$OUT/stdout.txt" 2> "$OUT/stderr.txt" || {
    say "$tool on $name failed:"; cat "$OUT/stderr.txt" >&2; exit 1; }
  t1=$(date +%s%N)
  local rss cpu
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/time.txt")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$OUT/time.txt")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$tool" "$(( (t1 - t0) / 1000 ))" "$rss" "$cpu" >> "$OUT/runs.tsv"
}

TSHARK_FILTER='smtp.req.command == "RCPT"'
for name in smtp mixed smtp4x; do
  pcap="$CAPS/$name.pcap"
  n=$RUNS
  [ "$name" = smtp ] || n=$BIG_RUNS
  say "$name: floor and rcptwatch, $n runs each"
  cat "$pcap" > /dev/null  # page cache: every tool reads from memory, the first one too
  for _ in $(seq "$n"); do
    run "$name" floor "$BUILD/bench/pcap_floor" "$pcap"
    # Reference: the floor reading the way rcptwatch reads (256 KiB stdio buffer, no FILE lock).
    if [ "$name" = smtp ]; then
      run "$name" floor-stdio "$BUILD/bench/pcap_floor" --stdio-buffer 262144 "$pcap"
    fi
    rm -f "$OUT/alerts-$name.jsonl"  # the file output appends; keep the last run's alerts
    run "$name" rcptwatch "$RW" -r "$pcap" --rules "$RULES" --output "file:$OUT/alerts-$name.jsonl"
  done
done

# tshark is ~100x slower: once on smtp.pcap, and on the first 10% of the packets of
# mixed.pcap (scaled by bytes in the report).
say "tshark on smtp.pcap (once)"
run smtp tshark tshark -r "$CAPS/smtp.pcap" -Y "$TSHARK_FILTER" -T fields -e smtp.req.parameter
grep -c . "$OUT/stdout.txt" > "$OUT/tshark-smtp-lines.txt" || true
say "tshark on the first 10% of mixed.pcap (once)"
mixed_packets=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mixed.pcap"]["packets"])' "$OUT/captures.json")
if [ ! -s "$CAPS/mixed-10pct.pcap" ]; then
  editcap -F pcap -r "$CAPS/mixed.pcap" "$CAPS/mixed-10pct.pcap.tmp" "1-$((mixed_packets / 10))"
  mv "$CAPS/mixed-10pct.pcap.tmp" "$CAPS/mixed-10pct.pcap"
fi
run mixed-10pct tshark tshark -r "$CAPS/mixed-10pct.pcap" -Y "$TSHARK_FILTER" -T fields -e smtp.req.parameter
run mixed-10pct floor "$BUILD/bench/pcap_floor" "$CAPS/mixed-10pct.pcap"
run mixed-10pct rcptwatch "$RW" -r "$CAPS/mixed-10pct.pcap" --rules "$RULES" --output file:/dev/null

# Multi-core, when the build has it (issue #8).
# (grep without -q: with -q it exits at the first match, the writer dies of SIGPIPE and
# pipefail turns the match into a failure.)
if "$RW" --help 2>&1 | grep -- '--workers' > /dev/null; then
  for w in 1 2; do
    say "mixed.pcap with --workers $w"
    for _ in $(seq "$BIG_RUNS"); do
      run mixed "workers-$w" "$RW" -r "$CAPS/mixed.pcap" --rules "$RULES" --workers "$w" --output file:/dev/null
    done
  done
fi

say "SYN flood (2M SYN-only flows)"
run synflood rcptwatch "$RW" -r "$CAPS/synflood.pcap" --rules "$RULES" --stats --output "file:$OUT/alerts-synflood.jsonl"
"$RW" --help > "$OUT/help.txt" 2>&1 || true

say "per-flow memory"
"$BUILD/bench/flow_memory" 200000 > "$OUT/flow-memory.json"

say "profile (perf, cpu-clock) of rcptwatch on smtp.pcap"
if perf record -q -e cpu-clock -g -o "$OUT/perf.data" "$RW" -r "$CAPS/smtp.pcap" --rules "$RULES" \
     --output file:/dev/null > /dev/null 2>&1; then
  perf report -i "$OUT/perf.data" --no-children --sort symbol --percent-limit 1 --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/ +$//' | head -20 > "$OUT/profile.txt"
else
  say "perf unavailable; profile with valgrind --tool=callgrind instead"
  : > "$OUT/profile.txt"
fi

say "micro-benchmarks"
"$BUILD/bench/micro_bench" --benchmark_min_time=0.3 --benchmark_format=json > "$OUT/micro.json"
say "matcher benchmarks (detect_bench)"
"$BUILD/bench/detect_bench" --benchmark_format=json > "$OUT/detect.json"

{
  lscpu | awk -F': +' '/^Model name/ {print "cpu\t" $2} /^CPU\(s\)/ {print "cpus\t" $2}'
  echo -e "kernel\t$(uname -r)"
  echo -e "memory\t$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo -e "tshark\t$(tshark --version 2>/dev/null | head -1)"
  echo -e "compiler\t$(c++ --version | head -1)"
  echo -e "date\t$(date -u +%Y-%m-%d)"
  echo -e "load\t$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.tsv"

/usr/bin/python3 "$ROOT/bench/write-performance.py" "$OUT" "$ROOT/docs/PERFORMANCE.md"
say "docs/PERFORMANCE.md updated"
