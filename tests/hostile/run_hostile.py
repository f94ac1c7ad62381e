#!/usr/bin/python3
"""Hostile-traffic and corrupt-capture tests: crafts one capture with scripts/craft-hostile.py
into a temporary directory, replays it through the real rcptwatch binary with --stats under
/usr/bin/time -v, and checks that peak RSS stayed under the scenario's cap, the stats counters
show what was dropped, and the legitimate session's alert (john.doe@army.ml) is in the output.
Prints one JSON summary line (the figures in docs/RELIABILITY.md).

Usage: run_hostile.py --binary BIN --source-dir DIR [--rss-scale X] SCENARIO
       run_hostile.py --binary BIN --source-dir DIR --corrupt KIND
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

LEGIT_RCPT = "john.doe@army.ml"

# Scenario -> (RSS cap in MiB, extra command-line options, check(stats) -> list of failures).
# The caps are the binary's own baseline (~20 MiB: rules, ICU, PSL) plus what the configured
# limits allow the scenario to hold; the checks name the counters that must show the attack.


def need(cond, what):
    return [] if cond else [what]


def check_long_line(s):
    return need(s["smtp"]["truncated_lines"] >= 1, "smtp.truncated_lines >= 1")


def check_bdat(s):
    return (need(s["smtp"]["bdat_chunks"] >= 1, "smtp.bdat_chunks >= 1")
            + need(s["smtp"]["malformed_commands"] >= 1, "smtp.malformed_commands >= 1")
            + need(s["smtp"]["data_bytes_skipped"] >= 1000000, "smtp.data_bytes_skipped >= 1000000"))


def check_many_rcpts(s):
    return (need(s["smtp"]["recipients"] >= 100001, "smtp.recipients >= 100001")
            + need(s["smtp"]["recipients_over_limit"] >= 90000, "smtp.recipients_over_limit >= 90000"))


def check_ooo(s):
    # Past the segment cap the reassembler skips ahead (gaps); segments arriving for bytes
    # it gave up on count as retransmitted. Every one of the million must be accounted for.
    t = s["tcp"]
    return (need(t["out_of_order_segments"] >= 8192, "tcp.out_of_order_segments >= 8192")
            + need(t["buffer_cap_drops"] >= 1, "tcp.buffer_cap_drops >= 1")
            + need(t["gaps"] >= 1000, "tcp.gaps >= 1000")
            + need(t["out_of_order_segments"] + t["retransmitted_bytes"] >= 1000000,
                   "tcp.out_of_order_segments + retransmitted_bytes >= 1000000"))


def check_frag(s):
    return (need(s["decoder"]["fragments"] >= 60000, "decoder.fragments >= 60000")
            + need(s["decoder"]["fragments_dropped"] >= 1, "decoder.fragments_dropped >= 1")
            + need(s["decoder"]["fragments_overlap"] >= 1, "decoder.fragments_overlap >= 1"))


def check_syn(s):
    return (need(s["tcp"]["flows_evicted_cap"] >= 200000, "tcp.flows_evicted_cap >= 200000")
            + need(s["tcp"]["flows_created"] >= 300000, "tcp.flows_created >= 300000"))


def check_seq_jump(s):
    return (need(s["tcp"]["out_of_order_segments"] >= 1, "tcp.out_of_order_segments >= 1")
            + need(s["tcp"]["gaps"] >= 1, "tcp.gaps >= 1"))


def check_zero_window(s):
    return need(s["tcp"]["retransmitted_bytes"] >= 199999, "tcp.retransmitted_bytes >= 199999")


SCENARIOS = {
    "long-line": (48, [], check_long_line),
    "bdat-huge": (48, [], check_bdat),
    "many-rcpts": (64, [], check_many_rcpts),
    "ooo-tiny": (64, [], check_ooo),
    "frag-flood": (64, [], check_frag),
    "syn-flood": (96, ["--max-flows", "20000"], check_syn),
    "seq-jump": (64, [], check_seq_jump),
    "zero-window": (48, [], check_zero_window),
}

# Corrupt captures: (expected exit status, one-line error on stderr must match, legit alert
# expected, check(stats) or None when the file cannot even be opened (no stats then)).
CORRUPT = {
    "bad-magic": (1, r"rcptwatch: .*unknown file format", False, None),
    "bad-record-length": (1, r"rcptwatch: .*(larger than|bogus|invalid)", True,
                          lambda s: need(s["capture"]["packets"] >= 10, "capture.packets >= 10")),
    # libpcap cuts such records to the header's snaplen: the decoder counts the cut packets.
    "caplen-over-snaplen": (0, None, False,
                            lambda s: need(s["decoder"]["truncated"] >= 1, "decoder.truncated >= 1")),
    "truncated": (1, r"rcptwatch: .*truncated", True,
                  lambda s: need(s["capture"]["packets"] >= 10, "capture.packets >= 10")),
    "truncated-header": (1, r"rcptwatch: .*truncated", False, None),
    "pcapng-unknown-blocks": (0, None, True,
                              lambda s: need(s["capture"]["packets"] >= 19, "capture.packets >= 19")),
    "pcapng-huge-timestamps": (0, None, True,
                               lambda s: need(s["capture"]["timestamps_clamped"] >= 19,
                                              "capture.timestamps_clamped >= 19")),
}


def run(binary, pcap, extra):
    cmd = ["/usr/bin/time", "-v", binary, "-r", pcap, "--stats"] + extra
    env = dict(os.environ)
    # ASan keeps freed memory in a 256 MiB quarantine by default, which is not our memory.
    if "quarantine_size_mb" not in env.get("ASAN_OPTIONS", ""):
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16").lstrip(":")
    p = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
    err = p.stderr.decode(errors="replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    rss_kib = int(m.group(1)) if m else -1
    # Drop /usr/bin/time's own report from what rcptwatch said.
    own_err = "\n".join(l for l in err.split("\tCommand being timed:")[0].splitlines()
                        if not l.startswith("Command exited with non-zero status"))
    events = []
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.strip():
            events.append(json.loads(line))
    return p.returncode, own_err, rss_kib, events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--rss-scale", type=float, default=1.0)
    ap.add_argument("--corrupt", action="store_true")
    ap.add_argument("name")
    a = ap.parse_args()
    craft = os.path.join(a.source_dir, "scripts", "craft-hostile.py")
    failures = []
    with tempfile.TemporaryDirectory(prefix="rw-hostile-") as tmp:
        pcap = os.path.join(tmp, a.name + ".pcap")
        craft_args = ["--corrupt", a.name, pcap] if a.corrupt else [a.name, pcap]
        subprocess.run(["/usr/bin/python3", craft] + craft_args, check=True, stdout=subprocess.DEVNULL)
        extra = [] if a.corrupt else SCENARIOS[a.name][1]
        rc, err, rss_kib, events = run(a.binary, pcap, extra)

    stats = [e for e in events if e.get("event_type") == "stats"]
    alerts = [e for e in events if e.get("event_type") == "alert"]
    legit = [e for e in alerts if e.get("smtp", {}).get("rcpt_to") == LEGIT_RCPT]
    if rc < 0 or rc > 2:
        failures.append("exit status %d (crash?): %s" % (rc, err.strip()[-500:]))
    want_stats = not a.corrupt or CORRUPT[a.name][3] is not None
    if len(stats) != (1 if want_stats else 0):
        failures.append("expected %d stats event, got %d" % (int(want_stats), len(stats)))
    s = stats[0]["stats"] if stats else {}

    if a.corrupt:
        want_rc, want_err, want_legit, check = CORRUPT[a.name]
        if check and s:
            failures += check(s)
        if len(err.strip().splitlines()) > 2:
            failures.append("more than a one-line error: %r" % err.strip())
        if want_rc is not None and rc != want_rc:
            failures.append("exit status %d, expected %d (stderr: %s)" % (rc, want_rc, err.strip()))
        if want_err and not re.search(want_err, err):
            failures.append("stderr %r does not match %r" % (err.strip(), want_err))
        if rc != 0 and len(err.strip().splitlines()) < 1:
            failures.append("failed without an error message")
        if want_legit and not legit:
            failures.append("legitimate alert for %s missing" % LEGIT_RCPT)
        cap_mib = 48
    else:
        cap_mib, _extra, check = SCENARIOS[a.name]
        if rc != 0:
            failures.append("exit status %d: %s" % (rc, err.strip()[-500:]))
        if s:
            failures += check(s)
        if not legit:
            failures.append("legitimate alert for %s missing (%d alerts)" % (LEGIT_RCPT, len(alerts)))
    cap_kib = int(cap_mib * 1024 * a.rss_scale)
    if rss_kib < 0:
        failures.append("no peak RSS from /usr/bin/time")
    elif rss_kib > cap_kib:
        failures.append("peak RSS %d KiB over the cap of %d KiB" % (rss_kib, cap_kib))

    summary = {
        "test": a.name, "exit": rc, "peak_rss_kib": rss_kib, "cap_kib": cap_kib,
        "packets": s.get("capture", {}).get("packets"), "alerts": len(alerts),
        "legit_alerts": len(legit), "stats": {k: s.get(k) for k in ("decoder", "tcp", "smtp")},
    }
    print(json.dumps(summary))
    for f in failures:
        print("FAIL %s: %s" % (a.name, f), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
