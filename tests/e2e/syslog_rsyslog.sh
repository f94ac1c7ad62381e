#!/usr/bin/env bash
# End-to-end syslog delivery through a real rsyslogd on 127.0.0.1 (imudp + imtcp, raw file
# action): every alert arrives with the right fields (RFC 5424 over UDP and TCP, CEF over
# TCP), and over TCP nothing is lost across a collector that is down at start and restarted
# mid-run, with the sender's counters matching what rsyslog wrote.
# usage: syslog_rsyslog.sh SENDER CHECKER   (rw_send_alerts, check_received.py)
set -euo pipefail

SENDER=${1:?usage: syslog_rsyslog.sh SENDER CHECKER}
CHECKER=${2:?usage: syslog_rsyslog.sh SENDER CHECKER}
# shellcheck source=rsyslog_lib.sh
source "$(dirname "$0")/rsyslog_lib.sh"

counter() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }

# --- 1. Formats: rsyslog up, every alert arrives with the right fields. -------------------
start_rsyslog_fresh
N=60
OUT=$(timeout 60 "$SENDER" --output "syslog+udp://127.0.0.1:$UDP_PORT?format=rfc5424" --count $N \
      --hostname fmt-udp)
echo "udp rfc5424: $OUT"
wait_lines "$DIR/udp.log" " fmt-udp " $N || fail "udp: $(grep -c . "$DIR/udp.log" || true) of $N lines"
python3 "$CHECKER" --file "$DIR/udp.log" --format rfc5424 --hostname fmt-udp --count $N \
  --expect-all --no-duplicates || fail "udp rfc5424 content"

OUT=$(timeout 60 "$SENDER" --output "syslog+tcp://127.0.0.1:$TCP_PORT?format=rfc5424" --count $N \
      --hostname fmt-tcp)
echo "tcp rfc5424: $OUT"
wait_lines "$DIR/tcp.log" " fmt-tcp " $N || fail "tcp rfc5424: lines missing"
python3 "$CHECKER" --file "$DIR/tcp.log" --format rfc5424 --hostname fmt-tcp --count $N \
  --expect-all --no-duplicates || fail "tcp rfc5424 content"
[ "$(counter sent "$OUT")" = $N ] && [ "$(counter dropped "$OUT")" = 0 ] || fail "tcp counters: $OUT"

OUT=$(timeout 60 "$SENDER" --output "syslog+tcp://127.0.0.1:$TCP_PORT" --format cef --count $N)
echo "tcp cef: $OUT"
wait_lines "$DIR/tcp.log" "^CEF:0|" $N || fail "tcp cef: lines missing"
python3 "$CHECKER" --file "$DIR/tcp.log" --format cef --count $N --expect-all --no-duplicates \
  || fail "tcp cef content"

# --- 2. Outage: down at start, up, restarted mid-run; over TCP nothing is lost. ----------
stop_rsyslog
N=400
"$SENDER" --output "syslog+tcp://127.0.0.1:$TCP_PORT?format=rfc5424" --count $N --interval-ms 10 \
  --hostname outage --backoff-max-ms 500 --flush-timeout-ms 20000 >"$DIR/outage.out" &
SENDER_PID=$!
sleep 1            # sending while rsyslog is down: alerts queue up
start_rsyslog
sleep 1            # delivering
stop_rsyslog       # collector restart mid-run
sleep 0.7
start_rsyslog
for _ in $(seq 600); do kill -0 "$SENDER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SENDER_PID" 2>/dev/null; then kill -KILL "$SENDER_PID"; fail "sender did not finish in 60 s"; fi
wait "$SENDER_PID" || fail "sender exited with an error"
OUT=$(cat "$DIR/outage.out")
echo "outage: $OUT"
wait_lines "$DIR/tcp.log" " outage " $N || true
CHECK=$(python3 "$CHECKER" --file "$DIR/tcp.log" --format rfc5424 --hostname outage --count $N \
        --expect-all) || fail "outage: alerts lost or malformed ($CHECK)"
echo "outage received: $CHECK"
SENT=$(counter sent "$OUT"); DROPPED=$(counter dropped "$OUT"); RESENT=$(counter resent "$OUT")
UNIQUE=$(counter unique "$CHECK"); TOTAL=$(counter total "$CHECK")
[ "$SENT" = $N ] && [ "$DROPPED" = 0 ] || fail "outage counters: $OUT"
[ "$(counter reconnects "$OUT")" -ge 1 ] || fail "outage: no reconnect counted: $OUT"
[ "$UNIQUE" = "$SENT" ] || fail "outage: $UNIQUE unique received, $SENT counted sent"
# Duplicates can only come from resends.
[ $((TOTAL - UNIQUE)) -le "$RESENT" ] || fail "outage: $((TOTAL - UNIQUE)) duplicates but resent=$RESENT"

# --- 3. Overflow: collector down longer than the queue holds; counters tell the truth. ---
stop_rsyslog
N=300
"$SENDER" --output "syslog+tcp://127.0.0.1:$TCP_PORT?format=rfc5424" --count $N --interval-ms 5 \
  --capacity 20 --hostname overflow --backoff-max-ms 200 --flush-timeout-ms 20000 \
  >"$DIR/overflow.out" &
SENDER_PID=$!
sleep 1
start_rsyslog
for _ in $(seq 600); do kill -0 "$SENDER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SENDER_PID" 2>/dev/null; then kill -KILL "$SENDER_PID"; fail "sender did not finish in 60 s"; fi
wait "$SENDER_PID" || fail "sender exited with an error"
OUT=$(cat "$DIR/overflow.out")
echo "overflow: $OUT"
SENT=$(counter sent "$OUT"); DROPPED=$(counter dropped "$OUT")
wait_lines "$DIR/tcp.log" " overflow " "$SENT" || true
CHECK=$(python3 "$CHECKER" --file "$DIR/tcp.log" --format rfc5424 --hostname overflow --count $N) \
  || fail "overflow: malformed alerts ($CHECK)"
echo "overflow received: $CHECK"
[ "$DROPPED" -gt 0 ] || fail "overflow: nothing dropped, the scenario did not overflow: $OUT"
[ $((SENT + DROPPED)) = $N ] || fail "overflow: sent $SENT + dropped $DROPPED != $N"
[ "$(counter unique "$CHECK")" = "$SENT" ] || fail "overflow: received $(counter unique "$CHECK") != sent $SENT"

echo "PASS"
