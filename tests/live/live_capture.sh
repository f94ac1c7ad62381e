#!/usr/bin/env bash
# End to end, live: rcptwatch captures with libpcap (-i) on the client's veth while swaks sends
# real SMTP sessions to aiosmtpd in another namespace. The alerts printed must name exactly the
# lookalike recipients sent; SIGTERM must flush and exit 0.
# Usage: live_capture.sh BINARY SOURCE_DIR [4|6]
set -u
binary=$1 src=$2 family=${3:-4}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
# shellcheck source=../../scripts/lib/smtp-lab.sh
source "$src/scripts/lib/smtp-lab.sh"
lab_up "$family" || { echo "FAIL: lab did not come up"; exit 1; }

out="$LAB_WORK/alerts.jsonl"; err="$LAB_WORK/sensor.log"
ip netns exec "$LAB_NS_CLI" "$binary" -i "$LAB_VETH_CLI" --rules "$src/rules/default.rules" -v >"$out" 2>"$err" &
sensor=$!
# Wait (bounded) until libpcap is capturing: the sensor logs "reading IFACE" once open.
for _ in $(seq 1 50); do grep -q "reading" "$err" && break; sleep 0.1; done
sleep 0.3

lab_send --to ops@example.com,john.doe@army.ml || exit 1
lab_send --pipeline --to liaison@nat0.int,desk@nato.int || exit 1
lab_send --to ops@example.com --body $'quoting a log line:\nRCPT TO:<fake@army.ml>\nend' || exit 1

# The sensor judges a recipient when the server answers; give the last packets time to arrive.
for _ in $(seq 1 50); do [ "$(wc -l <"$out")" -ge 2 ] && break; sleep 0.1; done
sleep 0.3
kill -TERM "$sensor"
status=0
wait "$sensor" || status=$?

fail=0
if [ "$status" != 0 ]; then echo "FAIL: sensor exited $status"; cat "$err"; fail=1; fi
got=$(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e["smtp"]["rcpt_to"], e["lookalike"]["protected"], e["smtp"]["rcpt_reply"], e["capture"])
' "$out" | sort)
want=$(printf '%s\n' "john.doe@army.ml mil 250 complete" "liaison@nat0.int nato.int 250 complete" | sort)
if [ "$got" != "$want" ]; then
  echo "FAIL: alerts differ"; echo "--- want"; echo "$want"; echo "--- got"; echo "$got"
  echo "--- sensor log"; cat "$err"; fail=1
fi
[ "$fail" = 0 ] && echo "ok: live capture on $LAB_VETH_CLI (IPv$family): $(wc -l <"$out") alerts"
exit $fail
