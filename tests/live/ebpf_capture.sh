#!/usr/bin/env bash
# End to end, eBPF capture: swaks sends real SMTP sessions to aiosmtpd across a veth pair while
# four sensors watch the same traffic: libpcap (-i, the reference), TC on the client veth, and
# XDP (native and generic) on the receiving ends of two "tap" veth pairs to which tc mirred
# mirrors both directions of the client veth (XDP sees only ingress, so a tap is how it is
# meant to be fed). The alert sets must all equal the pcap sensor's, which must equal the
# recipients sent. Also checks that TC mode leaves foreign tc filters alone and removes only
# a clsact qdisc it created itself.
# Usage: ebpf_capture.sh BINARY SOURCE_DIR [4|6]
set -u
binary=$1 src=$2 family=${3:-4}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for network namespaces and BPF"; exit 77; fi
# shellcheck source=../../scripts/lib/smtp-lab.sh
source "$src/scripts/lib/smtp-lab.sh"
lab_up "$family" || { echo "FAIL: lab did not come up"; exit 1; }

# Does this kernel let us load BPF at all? (Only then is a skip allowed.)
probe=$(ip netns exec "$LAB_NS_CLI" "$binary" --capture tc -i lo --rules "$src/rules/default.rules" 2>&1 &
        pid=$!; sleep 1; kill -TERM $pid 2>/dev/null; wait $pid)
if echo "$probe" | grep -qE "no BPF support|refused to load|capabilities this process lacks"; then
  echo "SKIP: kernel refuses BPF: $probe"; exit 77
fi

cli=$LAB_VETH_CLI
tapn_a="rwta$$"; tapn_b="rwtb$$"; tapg_a="rwga$$"; tapg_b="rwgb$$"
lab_in_cli ip link add "$tapn_a" type veth peer name "$tapn_b" || exit 1
lab_in_cli ip link add "$tapg_a" type veth peer name "$tapg_b" || exit 1
for d in "$tapn_a" "$tapn_b" "$tapg_a" "$tapg_b"; do lab_in_cli ip link set "$d" up; done
lab_in_cli tc qdisc add dev "$cli" clsact
for dir in ingress egress; do
  lab_in_cli tc filter add dev "$cli" "$dir" pref 50 protocol all u32 match u32 0 0 \
    action mirred egress mirror dev "$tapn_a" pipe action mirred egress mirror dev "$tapg_a" || exit 1
done
filters_before=$(lab_in_cli tc filter show dev "$cli" ingress; lab_in_cli tc filter show dev "$cli" egress)

rules="$src/rules/default.rules"
declare -A pids
start_sensor() {  # start_sensor NAME ARGS...
  local name=$1; shift
  ip netns exec "$LAB_NS_CLI" "$binary" "$@" --rules "$rules" --stats -v \
    >"$LAB_WORK/$name.jsonl" 2>"$LAB_WORK/$name.log" &
  pids[$name]=$!
}
start_sensor pcap -i "$cli"
start_sensor tc --capture tc -i "$cli"
start_sensor xdp_native --capture xdp --xdp-mode native --xdp-drop -i "$tapn_b"
start_sensor xdp_generic --capture xdp --xdp-mode generic -i "$tapg_b"
for name in "${!pids[@]}"; do
  for _ in $(seq 1 100); do
    grep -qE "reading|attached" "$LAB_WORK/$name.log" && break
    kill -0 "${pids[$name]}" 2>/dev/null || break
    sleep 0.1
  done
done
sleep 0.5

lab_send --to ops@example.com,john.doe@army.ml || exit 1
lab_send --pipeline --to liaison@nat0.int,desk@nato.int || exit 1
lab_send --to ops@example.com --body $'quoting a log line:\nRCPT TO:<fake@army.ml>\nend' || exit 1
lab_send --to finance@nato-int.org,j.smith@rnil.us || exit 1

# Bounded wait until every sensor has at least the pcap sensor's alerts, then stop them all.
for _ in $(seq 1 50); do
  n=$(grep -c '"event_type":"alert"' "$LAB_WORK/pcap.jsonl" 2>/dev/null)
  ok=1
  for name in tc xdp_native xdp_generic; do
    [ "$(grep -c '"event_type":"alert"' "$LAB_WORK/$name.jsonl")" -ge "${n:-1}" ] || ok=0
  done
  [ "$ok" = 1 ] && [ "${n:-0}" -ge 2 ] && break
  sleep 0.1
done
sleep 0.3
fail=0
for name in "${!pids[@]}"; do
  kill -TERM "${pids[$name]}"
  status=0; wait "${pids[$name]}" || status=$?
  if [ "$status" != 0 ]; then echo "FAIL: $name sensor exited $status"; cat "$LAB_WORK/$name.log"; fail=1; fi
done

summary() {  # recipient, protected domain, technique, reply, capture quality of each alert
  /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event_type") != "alert": continue
    print(e["smtp"]["rcpt_to"], e["lookalike"]["protected"], e["lookalike"]["technique"],
          e["smtp"]["rcpt_reply"], e["capture"])
' "$1" | sort
}
want_rcpts=$(printf '%s\n' john.doe@army.ml liaison@nat0.int | sort)
reference=$(summary "$LAB_WORK/pcap.jsonl")
if [ "$(echo "$reference" | awk '{print $1}' | sort -u | grep -E 'army.ml|nat0.int')" != "$want_rcpts" ]; then
  echo "FAIL: the pcap reference sensor did not alert on the lookalikes sent"; echo "$reference"
  cat "$LAB_WORK/pcap.log"; fail=1
fi
for name in tc xdp_native xdp_generic; do
  got=$(summary "$LAB_WORK/$name.jsonl")
  if [ "$got" != "$reference" ]; then
    echo "FAIL: $name alerts differ from pcap mode"; echo "--- pcap"; echo "$reference"
    echo "--- $name"; echo "$got"; echo "--- $name log"; cat "$LAB_WORK/$name.log"; fail=1
  fi
  # The kernel filter saw traffic and lost nothing.
  /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event_type") == "stats":
        b = e["stats"]["capture"]["bpf"]
        ok = b["matched"] > 0 and b["ringbuf_full"] == 0 and b["truncated"] == 0
        print(sys.argv[2], "kernel filter:", b)
        sys.exit(0 if ok else 1)
sys.exit(1)
' "$LAB_WORK/$name.jsonl" "$name" || { echo "FAIL: $name stats missing or show losses"; fail=1; }
done
grep -h "attached" "$LAB_WORK"/*.log | sed 's/^.* info //'

# TC mode removed its own filters, kept the mirred ones and the pre-existing qdisc.
filters_after=$(lab_in_cli tc filter show dev "$cli" ingress; lab_in_cli tc filter show dev "$cli" egress)
if [ "$filters_after" != "$filters_before" ]; then
  echo "FAIL: tc filters on $cli changed"; echo "--- before"; echo "$filters_before"; echo "--- after"; echo "$filters_after"; fail=1
fi
lab_in_cli tc qdisc show dev "$cli" | grep -q clsact || { echo "FAIL: pre-existing clsact removed"; fail=1; }
# On an interface without clsact, TC mode creates one and removes it at exit; XDP detaches.
dummy="rwdm$$"
lab_in_cli ip link add "$dummy" type veth peer name "rwdp$$" && lab_in_cli ip link set "$dummy" up
ip netns exec "$LAB_NS_CLI" "$binary" --capture tc -i "$dummy" --rules "$rules" -v 2>"$LAB_WORK/dummy.log" >/dev/null &
dpid=$!
for _ in $(seq 1 50); do grep -q attached "$LAB_WORK/dummy.log" && break; sleep 0.1; done
lab_in_cli tc qdisc show dev "$dummy" | grep -q clsact || { echo "FAIL: no clsact while attached"; fail=1; }
kill -TERM "$dpid"; wait "$dpid"
if lab_in_cli tc qdisc show dev "$dummy" | grep -q clsact; then echo "FAIL: clsact left behind"; fail=1; fi
if lab_in_cli ip link show "$tapn_b" | grep -q xdp; then echo "FAIL: XDP left attached"; fail=1; fi
# Clear errors.
err=$(ip netns exec "$LAB_NS_CLI" "$binary" --capture xdp -i nosuch0 2>&1); rc=$?
if [ "$rc" = 0 ] || ! echo "$err" | grep -q "nosuch0: no such interface"; then
  echo "FAIL: unknown interface error: rc=$rc $err"; fail=1
fi

[ "$fail" = 0 ] && echo "ok: pcap, tc, xdp native and xdp generic agree (IPv$family): $(echo "$reference" | wc -l) alerts"
exit $fail
