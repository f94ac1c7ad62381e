#!/usr/bin/env bash
# Evidence round trip: replay captures with --evidence-dir, then replay every evidence pcap an
# alert names; each must give the same alert again (same recipient, rule, endpoints,
# community_id, capture quality, reply), and the files must stay within --evidence-max-files.
# Usage: evidence_replay.sh BINARY SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for name in demo demo-ipv6 pipelined out-of-order; do
  pcap="$src/pcaps/$name.pcap"
  [ -f "$pcap" ] || { echo "FAIL: missing $pcap"; exit 1; }
  ev="$work/$name"
  "$bin" -r "$pcap" --rules "$src/rules/default.rules" --sensor-name t --evidence-dir "$ev" \
    --dedup-window 0 >"$work/$name.jsonl"
  n=$(wc -l <"$work/$name.jsonl")
  [ "$n" -gt 0 ] || { echo "FAIL: $name gave no alerts"; fail=1; continue; }
  if ! /usr/bin/python3 - "$bin" "$src" "$ev" "$work/$name.jsonl" <<'PY'
import json, subprocess, sys
binary, src, ev, path = sys.argv[1:]
def essence(a):
    return (a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"], a["community_id"],
            a["capture"], a["alert"]["signature_id"], a["smtp"]["rcpt_to"], a["smtp"]["rcpt_reply"],
            a["smtp"]["mail_from"], a["lookalike"]["domain"])
alerts = [json.loads(l) for l in open(path)]
bad = 0
for a in alerts:
    if a.get("event_type") != "alert":
        continue
    name = a.get("evidence")
    if not name:
        print(f"FAIL: alert for {a['smtp']['rcpt_to']} has no evidence"); bad = 1; continue
    out = subprocess.run([binary, "-r", f"{ev}/{name}", "--rules", f"{src}/rules/default.rules",
                          "--sensor-name", "t", "--dedup-window", "0"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"FAIL: replaying {name}: exit {out.returncode}: {out.stderr}"); bad = 1; continue
    again = [essence(json.loads(l)) for l in out.stdout.splitlines()]
    if essence(a) not in again:
        print(f"FAIL: {name} does not reproduce {essence(a)}; got {again}"); bad = 1
    else:
        print(f"ok: {name} reproduces {a['smtp']['rcpt_to']}")
sys.exit(bad)
PY
  then fail=1; fi
done
# Rotation: at most --evidence-max-files files, the newest kept.
"$bin" -r "$src/pcaps/demo.pcap" --rules "$src/rules/default.rules" --evidence-dir "$work/rot" \
  --evidence-max-files 2 --dedup-window 0 >"$work/rot.jsonl"
kept=$(ls "$work/rot" | wc -l)
last=$(tail -1 "$work/rot.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["evidence"])')
if [ "$kept" != 2 ] || [ ! -f "$work/rot/$last" ]; then
  echo "FAIL: rotation kept $kept files ($(ls "$work/rot")), newest $last"; fail=1
fi
# A directory that cannot be created is a start-up error (exit 2) naming it.
set +e
err=$("$bin" -r "$src/pcaps/demo.pcap" --evidence-dir /proc/rcptwatch-no 2>&1 >/dev/null)
status=$?
set -e
if [ "$status" != 2 ] || ! grep -q "/proc/rcptwatch-no" <<<"$err"; then
  echo "FAIL: bad --evidence-dir gave exit $status: $err"; fail=1
fi
[ "$fail" = 0 ] && echo "ok: evidence replay"
exit $fail
