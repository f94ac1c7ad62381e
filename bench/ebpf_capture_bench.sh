#!/usr/bin/env bash
# eBPF capture benchmark (issue 7): replays a mixed capture (a few % SMTP) with
# `tcpreplay --topspeed` into a veth pair inside a private network namespace and measures, for
# pcap, XDP and TC capture, the packets offered, what the sensor saw and kept, drops, and the
# sensor's CPU seconds (utime+stime from /proc/PID/stat, replay only) per million packets.
# Usage: bench/ebpf_capture_bench.sh BINARY [PACKETS] [SMTP_PERCENT]   (root)
set -euo pipefail
binary=$(readlink -f "$1") packets=${2:-300000} smtp_pct=${3:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
ns="rwbench$$" a="rwba$$" b="rwbb$$"
work=$(mktemp -d /tmp/rw-ebpf-bench.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
pcap="$work/mixed.pcap"

# The mixed capture: frame templates made by scapy, written as pcap records directly (fast).
/usr/bin/python3 - "$pcap" "$packets" "$smtp_pct" <<'PY'
import struct, sys
from scapy.all import Ether, IP, IPv6, TCP, UDP, Raw, raw
path, n, pct = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
smtp = [raw(e/IP(src="10.1.0.1", dst="10.1.0.2")/TCP(sport=40000+i, dport=25, flags="PA", seq=1000)/
            Raw(b"RCPT TO:<john.doe@army.ml>\r\n")) for i in range(4)]
smtp.append(raw(e/IP(src="10.1.0.2", dst="10.1.0.1")/TCP(sport=25, dport=40000, flags="PA")/Raw(b"250 OK\r\n")))
other = [raw(e/IP(src="10.2.0.1", dst="10.2.0.2")/TCP(sport=443, dport=50000, flags="A")/Raw(b"x"*1400)),
         raw(e/IP(src="10.2.0.2", dst="10.2.0.1")/TCP(sport=50000, dport=443, flags="A")),
         raw(e/IPv6(src="fd00::1", dst="fd00::2")/TCP(sport=80, dport=50001, flags="A")/Raw(b"y"*1200)),
         raw(e/IP(src="10.3.0.1", dst="10.3.0.53")/UDP(sport=5353, dport=53)/Raw(b"q"*40))]
every = max(1, round(100 / pct)) if pct > 0 else 0
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    smtp_count = 0
    for i in range(n):
        if every and i % every == 0:
            frame = smtp[smtp_count % len(smtp)]; smtp_count += 1
        else:
            frame = other[i % len(other)]
        f.write(struct.pack("<IIII", 1_700_000_000 + i // 1_000_000, i % 1_000_000, len(frame), len(frame)))
        f.write(frame)
print(f"{n} packets, {smtp_count} SMTP", file=sys.stderr)
open(path + ".smtp", "w").write(str(smtp_count))
PY
smtp_offered=$(cat "$pcap.smtp")

ip netns add "$ns"
ip netns exec "$ns" ip link add "$a" type veth peer name "$b"
ip netns exec "$ns" ip link set "$a" up
ip netns exec "$ns" ip link set "$b" up

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

printf '| mode | packets offered | SMTP offered | seen by sensor | SMTP kept | drops | sensor CPU s | CPU s per Mpkt |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
run_mode() {  # run_mode LABEL ARGS...
  local label=$1; shift
  ip netns exec "$ns" "$binary" "$@" --stats -v >"$work/out.jsonl" 2>"$work/log" &
  local pid=$!
  for _ in $(seq 1 100); do grep -qE "reading|attached" "$work/log" && break; sleep 0.1; done
  sleep 0.5
  local before after offered
  before=$(cpu_ticks "$pid")
  offered=$(ip netns exec "$ns" tcpreplay --topspeed -i "$a" "$pcap" 2>&1 | awk '/Actual:/ {print $2; exit}')
  sleep 1
  after=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  /usr/bin/python3 - "$work/out.jsonl" "$label" "$offered" "$smtp_offered" "$before" "$after" "$hz" <<'PY'
import json, sys
path, label, offered, smtp_offered, before, after, hz = sys.argv[1:]
stats = next(json.loads(l)["stats"] for l in open(path) if '"event_type":"stats"' in l)
cap = stats["capture"]
bpf = cap.get("bpf")
seen = bpf["seen"] if bpf else cap["packets"] + cap["kernel_drops"]
kept = cap["packets"] if bpf or label.startswith("pcap (default") else stats["decoder"].get("tcp", 0)
drops = cap["kernel_drops"] + cap["interface_drops"]
cpu = (int(after) - int(before)) / int(hz)
per_m = cpu / (int(offered) / 1e6)
print(f"| {label} | {int(offered)} | {smtp_offered} | {seen} | {cap['packets'] if bpf or 'default' in label else '-'} | {drops} | {cpu:.2f} | {per_m:.2f} |")
PY
}
run_mode "pcap (default SMTP filter)" -i "$b"
run_mode "pcap (no filter)" -i "$b" --bpf-filter "ip or not ip"
run_mode "xdp native" --capture xdp --xdp-mode native -i "$b"
run_mode "xdp native --xdp-drop" --capture xdp --xdp-mode native --xdp-drop -i "$b"
run_mode "xdp generic" --capture xdp --xdp-mode generic -i "$b"
run_mode "tc" --capture tc -i "$b"
