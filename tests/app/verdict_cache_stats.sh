#!/usr/bin/env bash
# The real binary's stats.verdict_cache: every judgement is a hit or a miss of the pipeline's
# own verdict cache, and a capture that repeats its domains is answered mostly from it.
# Usage: verdict_cache_stats.sh BINARY SOURCE_DIR
set -u
binary=$1 src=$2
out=$("$binary" -r "$src/pcaps/learn-history.pcap" --rules "$src/rules/default.rules" --stats 2>/dev/null) || {
  echo "FAIL: replay failed"; exit 1; }
printf '%s\n' "$out" | /usr/bin/python3 -c '
import json, sys
stats = [json.loads(l)["stats"] for l in sys.stdin if "\"event_type\":\"stats\"" in l]
assert len(stats) == 1, "one stats event expected, got %d" % len(stats)
s = stats[0]
c, checked = s["verdict_cache"], s["detect"]["recipients_checked"]
print("verdict_cache", c, "recipients_checked", checked)
# Recipients and server names are judged: at least one judgement per recipient.
assert c["hits"] + c["misses"] >= checked > 0, "fewer judgements than recipients"
# The capture repeats a handful of domains: misses are the first sight of each.
assert 0 < c["misses"] < c["hits"], "the cache did not answer the repeats"
print("ok")
'
