#!/usr/bin/env bash
# --learn on a live capture: the store is written by the flush thread (not the capture thread),
# and what it learns reaches the workers while the sensor runs. Real SMTP from the client
# namespace to aiosmtpd, 2 workers: two senders write to partner-firm.example, a flush (1 s of
# packet time) establishes it, and a later message to partner-frim.example alerts with
# "learned": true; SIGTERM exits 0 and `rcptwatch state show` lists the domain.
# Usage: learn_live.sh BINARY SOURCE_DIR
set -u
binary=$1 src=$2
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
# shellcheck source=../../scripts/lib/smtp-lab.sh
source "$src/scripts/lib/smtp-lab.sh"
lab_up 4 || { echo "FAIL: lab did not come up"; exit 1; }

W=$LAB_WORK; out="$W/events.jsonl"; err="$W/sensor.log"; state="$W/state"
# Live capture drops to nobody; the state dir is the sensor's own, as a package makes it.
mkdir -p "$state"; chown nobody "$state"; chmod 755 "$W"
fail=0
failed() { echo "FAIL: $*"; fail=1; }

ip netns exec "$LAB_NS_CLI" "$binary" -i "$LAB_VETH_CLI" --workers 2 --dedup-window 0 -v --stats \
  --learn --state-dir "$state" --learn-flush-interval 1 --learn-min-messages 2 --learn-min-senders 2 \
  >"$out" 2>"$err" &
sensor=$!
for _ in $(seq 1 50); do grep -q "2 workers" "$err" && break; sleep 0.1; done
sleep 0.5

lab_send --from alice@example.org --to ops@partner-firm.example || exit 1
lab_send --from carol@example.org --to desk@partner-firm.example || exit 1
# Flushes run on packet time: keep traffic flowing until the flush thread has established it.
established=0
for _ in $(seq 1 20); do
  sleep 1.1
  lab_send --to nobody@unrelated.example >/dev/null 2>&1 || true
  if grep -q -- "--learn: 1 established correspondents" "$err"; then established=1; break; fi
done
[ "$established" = 1 ] || failed "partner-firm.example was not established"

lab_send --to someone@partner-frim.example || exit 1
for _ in $(seq 1 60); do grep -q '"rcpt_to":"someone@partner-frim.example"' "$out" && break; sleep 0.1; done
alert=$(grep '"rcpt_to":"someone@partner-frim.example"' "$out" | head -1)
[ -n "$alert" ] || failed "no alert for the lookalike of the learned correspondent"
grep -q '"learned":true' <<<"$alert" || failed "alert is not marked learned: $alert"
grep -q '"rcpt_to":"ops@partner-firm.example"' "$out" && failed "the correspondent itself alerted"

kill -TERM "$sensor"
rc=0; wait "$sensor" || rc=$?
[ "$rc" = 0 ] || failed "exit status $rc after SIGTERM"
grep '"event_type":"stats"' "$out" | tail -1 | /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["stats"]["learn"]
assert s["flushes"] >= 2 and s["established"] == 1 and s["store_errors"] == 0, s
' || failed "final learn stats wrong"
"$binary" state show --state-dir "$state" | grep -q "partner-firm.example" || failed "state show lacks the domain"

if [ "$fail" != 0 ]; then
  echo "--- sensor log"; cat "$err"; echo "--- events"; grep -v '"event_type":"stats"' "$out"
  exit 1
fi
echo "ok: learned live by the flush thread, lookalike alerted as learned, store kept"
