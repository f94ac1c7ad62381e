#!/usr/bin/env bash
# --workers 1 and --workers 4 must give the same output on every capture in pcaps/: the same
# alerts and smtp events (as sorted sets; flow_id left out, since each worker numbers its own
# connections) and the same stats counters for every stage (but the pipelines' verdict caches,
# whose hits depend on the split). De-duplication is off: which of two duplicates in different
# workers comes first is a race by design.
# Usage: workers_equal.sh BINARY SOURCE_DIR
set -u
binary=$1 src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
normalise='
import json, sys
events, stats = [], []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event_type") == "stats":
        s = e["stats"]
        for k in ("outputs", "workers", "sources", "dedup", "verdict_cache"):
            s.pop(k, None)
        stats.append(json.dumps(s, sort_keys=True))
        continue
    e.pop("flow_id", None)
    events.append(json.dumps(e, sort_keys=True))
for x in sorted(events) + stats:
    print(x)
print("events:", len(events))
'
fail=0 checked=0 with_events=0
for pcap in "$src"/pcaps/*.pcap; do
  name=$(basename "$pcap" .pcap)
  extra=()
  [ -f "$src/pcaps/expected/$name.args" ] && read -r -a extra <"$src/pcaps/expected/$name.args"
  for w in 1 4; do
    timeout 60 "$binary" -r "$pcap" --rules "$src/rules/default.rules" --sensor-name eq --workers "$w" \
      --dedup-window 0 --log-envelopes --stats "${extra[@]}" >"$work/$name.$w.jsonl" 2>/dev/null
    echo $? >"$work/$name.$w.exit"
    /usr/bin/python3 -c "$normalise" "$work/$name.$w.jsonl" >"$work/$name.$w.norm" 2>/dev/null || true
  done
  checked=$((checked + 1))
  if ! cmp -s "$work/$name.1.exit" "$work/$name.4.exit" || ! cmp -s "$work/$name.1.norm" "$work/$name.4.norm"; then
    echo "FAIL: $name differs between --workers 1 and --workers 4"
    diff "$work/$name.1.norm" "$work/$name.4.norm" | head -20
    fail=1
  fi
  grep -q '"alert"' "$work/$name.1.jsonl" && with_events=$((with_events + 1))
done
# Guard against a vacuous pass: most captures raise alerts.
if [ "$with_events" -lt 10 ]; then echo "FAIL: only $with_events captures raised alerts"; fail=1; fi
[ "$fail" = 0 ] && echo "ok: $checked captures, $with_events with alerts, identical with 1 and 4 workers"
exit $fail
