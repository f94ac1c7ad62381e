#!/usr/bin/env bash
# End to end with the real binary: replay captures with alerts sent at once to a real rsyslogd
# (RFC 5424 over UDP, CEF and LEEF over TCP) and to a JSON file; every alert the JSON output
# holds must arrive in each syslog format with the same fields, parsed back from what rsyslog
# wrote.
# usage: replay_rsyslog.sh RCPTWATCH SOURCE_DIR
set -euo pipefail
BIN=${1:?usage: replay_rsyslog.sh RCPTWATCH SOURCE_DIR}
SRC=${2:?usage: replay_rsyslog.sh RCPTWATCH SOURCE_DIR}
# shellcheck source=rsyslog_lib.sh
source "$(dirname "$0")/rsyslog_lib.sh"

start_rsyslog_fresh

total=0
for name in demo smtp-grammar pipelined; do
  : >"$DIR/alerts.jsonl"
  "$BIN" -r "$SRC/pcaps/$name.pcap" --rules "$SRC/rules/default.rules" --dedup-window 0 \
    --output "file:$DIR/alerts.jsonl" \
    --output "syslog+udp://127.0.0.1:$UDP_PORT?format=rfc5424" \
    --output "syslog+tcp://127.0.0.1:$TCP_PORT?format=cef" \
    --output "syslog+tcp://127.0.0.1:$TCP_PORT?format=leef" \
    --stats 2>"$DIR/sensor.err" || { cat "$DIR/sensor.err"; fail "$name: rcptwatch exited $?"; }
  n=$(grep -c '"event_type":"alert"' "$DIR/alerts.jsonl" || true)
  [ "$n" -gt 0 ] || fail "$name: no alerts in the JSON output"
  total=$((total + n))
  wait_lines "$DIR/udp.log" "LOOKALIKE" "$total" || fail "$name: udp has $(grep -c LOOKALIKE "$DIR/udp.log") of $total"
  wait_lines "$DIR/tcp.log" "^CEF:0|" "$total" || fail "$name: cef lines missing"
  wait_lines "$DIR/tcp.log" "^LEEF:2.0|" "$total" || fail "$name: leef lines missing"
  cat "$DIR/alerts.jsonl" >>"$DIR/all.jsonl"
done

python3 "$(dirname "$0")/compare_replay.py" "$DIR/all.jsonl" "$DIR/udp.log" "$DIR/tcp.log" \
  || fail "syslog content differs from the JSON alerts"
echo "PASS: $total alerts delivered in rfc5424/udp, cef/tcp and leef/tcp"
