#!/usr/bin/env bash
# Daemon behaviour end to end, live (issue 8): rcptwatch captures with libpcap and 2 workers on
# the client's veth while real SMTP runs from the client namespace to aiosmtpd. Checks, in
# order: the privilege drop (/proc/PID/status: Uid and CapEff) while capturing; SIGHUP with a
# changed rule file changes the verdict of the next session, and a session open across the
# reload is still followed and judged; SIGHUP with a broken rule file keeps the old rules;
# periodic and SIGUSR1 stats events; SIGTERM flushes the open connection and exits 0; the pid
# file holds the pid.
# Usage: daemon.sh BINARY SOURCE_DIR
set -u
binary=$1 src=$2
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
# shellcheck source=../../scripts/lib/smtp-lab.sh
source "$src/scripts/lib/smtp-lab.sh"
lab_up 4 || { echo "FAIL: lab did not come up"; exit 1; }

W=$LAB_WORK; out="$W/events.jsonl"; err="$W/sensor.log"; rules="$W/watch.rules"
cp "$src/rules/default.rules" "$rules"
# After the drop the sensor reads the rules as nobody, as a packaged one reads /etc/rcptwatch.
chmod 755 "$W"; chmod 644 "$rules"
fail=0
failed() { echo "FAIL: $*"; fail=1; }
alerts_for() { grep -c "\"rcpt_to\":\"$1\"" "$out" 2>/dev/null; }
wait_alert() {  # wait_alert RCPT COUNT: bounded wait until COUNT alerts name RCPT
  local _
  for _ in $(seq 1 60); do [ "$(alerts_for "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  return 1
}

ip netns exec "$LAB_NS_CLI" "$binary" -i "$LAB_VETH_CLI" --rules "$rules" --workers 2 \
  --stats-interval 1 --stats --user nobody --pidfile "$W/rcptwatch.pid" --dedup-window 0 -v \
  >"$out" 2>"$err" &
sensor=$!
for _ in $(seq 1 50); do grep -q "running as" "$err" && break; sleep 0.1; done
sleep 0.3

# 1. Least privilege while capturing.
status=$(cat "/proc/$sensor/status")
uid_line=$(grep '^Uid:' <<<"$status"); capeff=$(grep '^CapEff:' <<<"$status" | awk '{print $2}')
nobody_uid=$(id -u nobody)
[ "$(awk '{print $2, $3, $4, $5}' <<<"$uid_line")" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] ||
  failed "not running as nobody: $uid_line"
[ "$capeff" = "0000000000000000" ] || failed "capabilities left: CapEff $capeff"
[ "$(cat "$W/rcptwatch.pid" 2>/dev/null)" = "$sensor" ] || failed "pid file does not hold $sensor"

# 2. Baseline: the default rules know nothing of example-bank.com.
lab_send --to ops@examp1e-bank.com,john.doe@army.ml || exit 1
wait_alert john.doe@army.ml 1 || failed "no alert for john.doe@army.ml"
[ "$(alerts_for ops@examp1e-bank.com)" = 0 ] || failed "examp1e-bank.com alerted before the reload"

# 3. A session open across the reload: RCPT before, SIGHUP, RCPT after, then QUIT.
fifo="$W/client.fifo"; mkfifo "$fifo"
ip netns exec "$LAB_NS_CLI" /usr/bin/python3 -c '
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 25, timeout=20)
s.ehlo("client.example.org")
s.mail("long@example.org")
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "rcpt":
        s.rcpt(arg)
    elif cmd == "quit":
        s.quit()
        break
' "$LAB_SRV_ADDR" <"$fifo" >"$W/client.log" 2>&1 &
client=$!
exec 7>"$fifo"
echo "rcpt before@army.ml" >&7
wait_alert before@army.ml 1 || failed "no alert in the open session before the reload"
printf 'protect example-bank.com id=900 severity=high msg="test bank"\n' >>"$rules"
kill -HUP "$sensor"
for _ in $(seq 1 50); do grep -q "rules reloaded" "$err" && break; sleep 0.1; done
grep -q "rules reloaded" "$err" || failed "no reload logged"
echo "rcpt after@nat0.int" >&7
wait_alert after@nat0.int 1 || failed "the session open across the reload was lost"
lab_send --to ops@examp1e-bank.com || exit 1
wait_alert ops@examp1e-bank.com 1 || failed "the new rule did not change the next session's verdict"
grep -q '"signature_id":900' "$out" || failed "no alert from rule 900"

# 4. A broken rule file is refused and the old rules stay.
echo 'protect this is not a rule' >>"$rules"
kill -HUP "$sensor"
for _ in $(seq 1 50); do grep -q "keeping the previous rules" "$err" && break; sleep 0.1; done
grep -q "keeping the previous rules" "$err" || failed "broken rules not refused"
lab_send --to desk@examp1e-bank.com || exit 1
wait_alert desk@examp1e-bank.com 1 || failed "rules lost after a broken reload"

# 5. Stats: periodic (1 s) and on SIGUSR1, with the per-source section and a log line.
kill -USR1 "$sensor"
for _ in $(seq 1 30); do [ "$(grep -c '"event_type":"stats"' "$out")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c '"event_type":"stats"' "$out")" -ge 2 ] || failed "fewer than 2 stats events"
grep -q "stats: packets=" "$err" || failed "no stats log line"
grep '"event_type":"stats"' "$out" | tail -1 | grep -q "\"sources\":{\"$LAB_VETH_CLI\":{\"packets\":" ||
  failed "no per-interface counters in the stats event"

# 6. SIGTERM with the long session still open: its connection is flushed, exit 0.
kill -TERM "$sensor"
rc=0; wait "$sensor" || rc=$?
[ "$rc" = 0 ] || failed "exit status $rc after SIGTERM"
final=$(grep '"event_type":"stats"' "$out" | tail -1)
/usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1])["stats"]
assert s["tcp"]["flows_flushed"] >= 1, s["tcp"]
assert s["workers"]["count"] == 2, s["workers"]
assert s["detect"]["alerts_by_rule"].get("900", 0) >= 2, s["detect"]
' "$final" || failed "final stats: open connection not flushed or counters wrong"
echo "quit" >&7; exec 7>&-
wait "$client" 2>/dev/null

if [ "$fail" != 0 ]; then
  echo "--- sensor log"; grep -v "stats: packets" "$err"; echo "--- events"; grep -v '"event_type":"stats"' "$out"
  exit 1
fi
echo "ok: privilege drop, reload (good and broken), open session kept, stats, SIGTERM flush"
