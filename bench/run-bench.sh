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
TSHARK_RUNS=${BENCH_TSHARK_RUNS:-3}  # tshark takes 20-30 s a run on smtp.pcap
mkdir -p "$OUT"
rm -f "$OUT"/*.tsv "$OUT"/alerts-*.jsonl

say() { echo "bench: $*" >&2; }

# Every tool reads the capture from memory. The page cache is not enough for that: on the VMs
# this runs on, the kernel's proactive reclaim (DAMON) evicts a capture's pages within seconds
# (smtp4x.pcap was found 4% resident between runs), so runs read from disk at random. So the
# capture in use is copied into a tmpfs when the machine has room for it (and 2 GiB besides),
# one at a time; else the page cache is used. staging.tsv records which, for the report.
STAGE_DIR=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  STAGE_DIR=$(mktemp -d /dev/shm/rcptwatch-bench.XXXXXX)
  trap 'rm -rf "$STAGE_DIR"' EXIT
fi
staged() {  # staged FILE -> the path to read FILE from
  local f=$1 size_kib avail_kib
  size_kib=$(( $(stat -c %s "$f") / 1024 ))
  avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  if [ -n "$STAGE_DIR" ] && [ $((size_kib + (2 << 20))) -lt "$avail_kib" ]; then
    if [ ! -e "$STAGE_DIR/$(basename "$f")" ]; then
      rm -f "$STAGE_DIR"/*
      cp "$f" "$STAGE_DIR/"
    fi
    printf '%s\tmemory\n' "$(basename "$f")" >> "$OUT/staging.tsv"
    echo "$STAGE_DIR/$(basename "$f")"
  else
    cat "$f" > /dev/null  # into the page cache, for what it is worth
    printf '%s\tpage cache\n' "$(basename "$f")" >> "$OUT/staging.tsv"
    echo "$f"
  fi
}

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
  pcap=$(staged "$CAPS/$name.pcap")
  n=$RUNS
  [ "$name" = smtp ] || n=$BIG_RUNS
  say "$name: floor and rcptwatch, $n runs each"
  for _ in $(seq "$n"); do
    run "$name" floor "$BUILD/bench/pcap_floor" "$pcap"
    # Reference: the floor reading the way rcptwatch reads, through its capture source
    # (PcapSource: classic pcap records in place from the descriptor, batches of 256).
    if [ "$name" = smtp ]; then
      run "$name" floor-as-rcptwatch "$BUILD/bench/source_floor" "$pcap"
    fi
    rm -f "$OUT/alerts-$name.jsonl"  # the file output appends; keep the last run's alerts
    run "$name" rcptwatch "$RW" -r "$pcap" --rules "$RULES" --output "file:$OUT/alerts-$name.jsonl"
  done
done

# tshark is ~100x slower: $TSHARK_RUNS runs on smtp.pcap, and on the first 10% of the packets
# of mixed.pcap (scaled by bytes in the report).
say "tshark on smtp.pcap ($TSHARK_RUNS runs)"
pcap=$(staged "$CAPS/smtp.pcap")
for _ in $(seq "$TSHARK_RUNS"); do
  run smtp tshark tshark -r "$pcap" -Y "$TSHARK_FILTER" -T fields -e smtp.req.parameter
done
grep -c . "$OUT/stdout.txt" > "$OUT/tshark-smtp-lines.txt" || true
say "tshark on the first 10% of mixed.pcap ($TSHARK_RUNS runs)"
mixed_packets=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mixed.pcap"]["packets"])' "$OUT/captures.json")
if [ ! -s "$CAPS/mixed-10pct.pcap" ]; then
  editcap -F pcap -r "$CAPS/mixed.pcap" "$CAPS/mixed-10pct.pcap.tmp" "1-$((mixed_packets / 10))"
  mv "$CAPS/mixed-10pct.pcap.tmp" "$CAPS/mixed-10pct.pcap"
fi
pcap=$(staged "$CAPS/mixed-10pct.pcap")
for _ in $(seq "$TSHARK_RUNS"); do
  run mixed-10pct tshark tshark -r "$pcap" -Y "$TSHARK_FILTER" -T fields -e smtp.req.parameter
done
run mixed-10pct floor "$BUILD/bench/pcap_floor" "$pcap"
run mixed-10pct rcptwatch "$RW" -r "$pcap" --rules "$RULES" --output file:/dev/null

# Multi-core, when the build has it (issue #8).
# (grep without -q: with -q it exits at the first match, the writer dies of SIGPIPE and
# pipefail turns the match into a failure.)
# smtp.pcap too: there parsing, which workers share, is most of the cost; mixed.pcap is read-bound.
if "$RW" --help 2>&1 | grep -- '--workers' > /dev/null; then
  for name in smtp mixed; do
    pcap=$(staged "$CAPS/$name.pcap")
    n=$RUNS
    [ "$name" = smtp ] || n=$BIG_RUNS
    for w in 1 2; do
      say "$name.pcap with --workers $w"
      for _ in $(seq "$n"); do
        run "$name" "workers-$w" "$RW" -r "$pcap" --rules "$RULES" --workers "$w" --output file:/dev/null
      done
    done
  done
fi

say "SYN flood (2M SYN-only flows)"
pcap=$(staged "$CAPS/synflood.pcap")
run synflood rcptwatch "$RW" -r "$pcap" --rules "$RULES" --stats --output "file:$OUT/alerts-synflood.jsonl"
"$RW" --help > "$OUT/help.txt" 2>&1 || true

say "per-flow memory"
"$BUILD/bench/flow_memory" 200000 > "$OUT/flow-memory.json"

say "profile (perf, cpu-clock) of rcptwatch on smtp.pcap"
pcap=$(staged "$CAPS/smtp.pcap")
if perf record -q -e cpu-clock -g -o "$OUT/perf.data" "$RW" -r "$pcap" --rules "$RULES" \
     --output file:/dev/null > /dev/null 2>&1; then
  perf report -i "$OUT/perf.data" --no-children --sort symbol --percent-limit 1 --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/ +$//' | awk 'NR <= 20' > "$OUT/profile.txt"  # not head: with pipefail, its early exit is a SIGPIPE failure
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
