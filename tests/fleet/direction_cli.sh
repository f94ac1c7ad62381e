#!/usr/bin/env bash
# --home-net / --judge-directions through the real binary on pcaps/demo.pcap (client
# 10.99.1.1, server 10.99.1.2): the direction every event carries, and which are judged.
# Usage: direction_cli.sh BINARY SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
fail=0
run() { "$bin" -r "$src/pcaps/demo.pcap" --rules "$src/rules/default.rules" --log-envelopes "$@"; }
check() {  # check WANT_DIRECTION WANT_ALERTS ARGS...
  local want=$1 alerts=$2; shift 2
  local out
  out=$(run "$@" --stats) || { echo "FAIL: exit $? with $*"; fail=1; return; }
  local dirs n
  dirs=$(grep -v '"event_type":"stats"' <<<"$out" | grep -o '"network":{"direction":"[a-z]*"}' | sort -u)
  n=$(grep -c '"event_type":"alert"' <<<"$out")
  if [ "$dirs" != "\"network\":{\"direction\":\"$want\"}" ] || [ "$n" != "$alerts" ]; then
    echo "FAIL: $*: directions '$dirs' (want $want), $n alerts (want $alerts)"; fail=1
  else
    echo "ok: $* -> $want, $n alerts"
  fi
}
all=$(run | grep -c '"event_type":"alert"')
check unknown "$all"
check outbound "$all" --home-net 10.99.1.1/32
check internal "$all" --home-net 10.99.1.0/24,2001:db8::/32
check inbound 0 --home-net 10.99.1.2
check inbound "$all" --home-net 10.99.1.2 --judge-directions inbound,outbound
check external 0 --home-net 192.0.2.0/24
check external "$all" --home-net 192.0.2.0/24 --judge-directions all
skipped=$(run --home-net 10.99.1.2 --stats | grep -o '"recipients_skipped_direction":[0-9]*')
[ "$skipped" != '"recipients_skipped_direction":0' ] && [ -n "$skipped" ] || { echo "FAIL: skipped not counted: $skipped"; fail=1; }
for bad in "--home-net 10.0.0.0/33" "--home-net 10.0.0.0/8,," "--judge-directions outbound" \
           "--home-net 10.0.0.0/8 --judge-directions sideways"; do
  # shellcheck disable=SC2086
  run $bad >/dev/null 2>&1
  status=$?
  [ "$status" = 2 ] || { echo "FAIL: '$bad' gave exit $status, want 2"; fail=1; }
done
[ "$fail" = 0 ] && echo "ok: direction"
exit $fail
