#!/usr/bin/python3
"""Rewrites the generated sections of docs/PERFORMANCE.md from one `make bench` run.

    write-performance.py RESULTS_DIR docs/PERFORMANCE.md

Each generated section sits between `<!-- BEGIN generated:NAME -->` and
`<!-- END generated:NAME -->`; only those blocks are replaced, so sections that other people
write by hand elsewhere in the file survive. A missing block is appended.
"""
import json
import os
import re
import statistics
import sys

MIB = 1024 * 1024


def load_runs(out):
    runs = {}
    with open(os.path.join(out, "runs.tsv")) as f:
        for line in f:
            name, tool, usec, rss, cpu = line.rstrip("\n").split("\t")
            runs.setdefault((name, tool), []).append((int(usec) / 1e6, int(rss), float(cpu)))
    return {k: {"seconds": statistics.median(x[0] for x in v),
                "rss_kib": max(x[1] for x in v),
                "cpu": statistics.median(x[2] for x in v), "n": len(v)} for k, v in runs.items()}


def last_json_line(path, event_type):
    found = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                obj = json.loads(line)
                if obj.get("event_type") == event_type:
                    found = obj
    return found


def count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if '"event_type":"alert"' in line)


def staging_text(out):
    """Where the timed runs read the captures from (run-bench.sh's staging.tsv)."""
    path = os.path.join(out, "staging.tsv")
    where = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                name, _, how = line.rstrip("\n").partition("\t")
                where[name] = how
    cached = sorted(n for n, how in where.items() if how != "memory")
    if not where:
        return "files in the page cache"
    if not cached:
        return ("every capture read from a copy in memory (tmpfs), not the page cache, which this "
                "VM's proactive reclaim empties within seconds")
    return ("captures read from a copy in memory (tmpfs), except " + ", ".join(cached) +
            " (no room: page cache)")


def met(ok):
    return "**met**" if ok else "**not met**"


def section_machine(out, caps):
    m = {}
    with open(os.path.join(out, "machine.tsv")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            m[k] = v
    return "\n".join([
        "## Machine",
        "",
        f"- CPU: {m.get('cpu', '?')}, {m.get('cpus', '?')} cores (shared virtual machine)",
        f"- Kernel: Linux {m.get('kernel', '?')}; memory {m.get('memory', '?')}",
        f"- Compiler: {m.get('compiler', '?')} (bench build: `-O2 -g -DNDEBUG`, as shipped)",
        f"- Peer: {m.get('tshark', '?')}",
        f"- Measured: {m.get('date', '?')}, by one `make bench` run; load average at the end "
        f"{m.get('load', '?')} (the machine is shared: wall times carry that noise, CPU times less)",
    ])


def section_throughput(out, caps, runs):
    rows = []
    header = ("| capture | tool | runs (median) | seconds | MB/s | packets/s | × floor time "
              "| × faster than tshark | peak RSS MiB | CPU s | × floor CPU |")
    rows.append(header)
    rows.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    tshark_mbps = {}
    t = runs.get(("smtp", "tshark"))
    if t:
        tshark_mbps["smtp"] = caps["smtp.pcap"]["bytes"] / 1e6 / t["seconds"]
    t = runs.get(("mixed-10pct", "tshark"))
    sub = os.path.join(out, "..", "captures", "mixed-10pct.pcap")
    if t and os.path.exists(sub):
        tshark_mbps["mixed"] = os.path.getsize(sub) / 1e6 / t["seconds"]
    ratios = {}
    for name in ("smtp", "mixed", "smtp4x"):
        c = caps[f"{name}.pcap"]
        mb = c["bytes"] / 1e6
        floor = runs[(name, "floor")]["seconds"]
        tools = (["floor"] + (["floor-as-rcptwatch"] if (name, "floor-as-rcptwatch") in runs else []) + ["rcptwatch"] +
                 (["tshark"] if name in tshark_mbps else []))
        for tool in tools:
            if tool == "tshark":
                seconds = mb / tshark_mbps[name]
                r = runs[("smtp", "tshark")] if name == "smtp" else runs[("mixed-10pct", "tshark")]
                n = str(r["n"]) if name == "smtp" else f"{r['n']} (first 10%, scaled)"
                rss = r["rss_kib"]
                cpu = r["cpu"] * (seconds / r["seconds"])
            else:
                r = runs[(name, tool)]
                seconds, n, rss, cpu = r["seconds"], str(r["n"]), r["rss_kib"], r["cpu"]
            floor_cpu = max(runs[(name, "floor")]["cpu"], 0.01)
            vs_tshark = ""
            if name in tshark_mbps and tool != "tshark":
                vs_tshark = f"{(mb / tshark_mbps[name]) / seconds:.0f}×"
            label = "floor, read as rcptwatch reads" if tool == "floor-as-rcptwatch" else tool
            rows.append(f"| {name}.pcap | {label} | {n} | {seconds:.3f} | {mb / seconds:,.0f} | "
                        f"{c['packets'] / seconds:,.0f} | {seconds / floor:.2f} | {vs_tshark} | "
                        f"{rss / 1024:.1f} | {cpu:.2f} | {cpu / floor_cpu:.2f} |")
            ratios[(name, tool)] = seconds / floor
            if tool == "rcptwatch" and name in tshark_mbps:
                ratios[(name, "vs_tshark")] = (mb / tshark_mbps[name]) / seconds
    alerts = {n: count_lines(os.path.join(out, f"alerts-{n}.jsonl")) for n in ("smtp", "mixed", "smtp4x")}
    rss_smtp = runs[("smtp", "rcptwatch")]["rss_kib"]
    rss_4x = runs[("smtp4x", "rcptwatch")]["rss_kib"]
    growth = rss_4x / rss_smtp - 1
    lines = [
        "## Replay throughput (issue #9)",
        "",
        "Captures made by `bench/gen-captures.py` (deterministic; cached in `build-bench/captures`):",
        "",
        f"- `smtp.pcap`: {caps['smtp.pcap']['sessions']:,} SMTP sessions, every flow distinct, "
        f"half pipelined, bodies 200 B – 96 KB, 64 in progress at a time; "
        f"{caps['smtp.pcap']['bytes'] / 1e6:,.0f} MB, {caps['smtp.pcap']['packets']:,} packets.",
        f"- `mixed.pcap`: the same sessions in bulk TCP (443, 8080) and UDP (53, 4789) traffic, "
        f"SMTP = {caps['mixed.pcap']['smtp_share'] * 100:.0f}% of the bytes; "
        f"{caps['mixed.pcap']['bytes'] / 1e6:,.0f} MB, {caps['mixed.pcap']['packets']:,} packets.",
        f"- `smtp4x.pcap`: {caps['smtp4x.pcap']['sessions']:,} sessions built the same way "
        f"({caps['smtp4x.pcap']['bytes'] / 1e6:,.0f} MB).",
        "",
        "Tools: the floor (`bench/pcap_floor`: libpcap reads every packet and sums its bytes; "
        "the target's reference); on smtp.pcap also the floor reading the way rcptwatch reads "
        "(`bench/source_floor`: the same byte sum over rcptwatch's own capture source, which "
        "libpcap opens and which then reads the classic pcap records in place from the descriptor), "
        "to show what reading that way is worth to a reader that does nothing else; "
        "`rcptwatch -r FILE --rules rules/default.rules --output file:ALERTS`; "
        "`tshark -r FILE -Y 'smtp.req.command == \"RCPT\"' -T fields -e smtp.req.parameter`. "
        f"Wall time, median of the runs shown; {staging_text(out)}; peak RSS from "
        "`/usr/bin/time -v` (largest of the runs). tshark runs on the whole `smtp.pcap`, and "
        "on the first 10% of the packets of `mixed.pcap`, its time scaled to the whole file by bytes.",
        "",
        *rows,
        "",
        f"Alerts: {alerts['smtp']} / {caps['smtp.pcap']['lookalike_recipients']} planted lookalike "
        f"recipients in smtp.pcap, {alerts['mixed']} / {caps['mixed.pcap']['lookalike_recipients']} in "
        f"mixed.pcap, {alerts['smtp4x']} / {caps['smtp4x.pcap']['lookalike_recipients']} in smtp4x.pcap.",
        "",
        "Targets:",
        "",
        f"- SMTP-only replay within 2× of the floor: {ratios[('smtp', 'rcptwatch')]:.2f}× — "
        f"{met(ratios[('smtp', 'rcptwatch')] <= 2)}",
        f"- mixed within 1.3× of the floor: {ratios[('mixed', 'rcptwatch')]:.2f}× — "
        f"{met(ratios[('mixed', 'rcptwatch')] <= 1.3)}",
    ]
    for name in ("smtp", "mixed"):
        v = ratios.get((name, "vs_tshark"))
        if v is not None:
            lines.append(f"- at least 100× faster than tshark on {name}.pcap: {v:.0f}× — {met(v >= 100)}")
        # The same with both cores (--workers 2); tshark uses one whatever it is given.
        w2 = runs.get((name, "workers-2"))
        if w2 is not None and name in tshark_mbps:
            v2 = (caps[f"{name}.pcap"]["bytes"] / 1e6 / tshark_mbps[name]) / w2["seconds"]
            lines.append(f"  - with `--workers 2` (this machine's two cores): {v2:.0f}× — {met(v2 >= 100)}")
    lines.append(f"- peak memory flat: 4× the capture raises peak RSS by {growth * 100:+.1f}% "
                 f"({rss_smtp / 1024:.1f} → {rss_4x / 1024:.1f} MiB) — {met(growth <= 0.10)}")
    workers = [k for k in runs if k[1].startswith("workers-")]
    if workers:
        lines += ["", "### Multi-core (`--workers N`)", "",
                  "| capture | workers | seconds | MB/s | speed-up | CPU s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name in ("smtp", "mixed"):
            base = runs.get((name, "workers-1"))
            mine = [k for k in workers if k[0] == name]
            for k in sorted(mine, key=lambda k: int(k[1].split("-")[1])):
                r = runs[k]
                s = r["seconds"]
                lines.append(f"| {name}.pcap | {k[1].split('-')[1]} | {s:.3f} | "
                             f"{caps[name + '.pcap']['bytes'] / 1e6 / s:,.0f} | "
                             f"{(base['seconds'] / s) if base else 1:.2f}× | {r['cpu']:.2f} |")
    return "\n".join(lines)


def section_profile(out):
    path = os.path.join(out, "profile.txt")
    body = open(path).read().rstrip() if os.path.exists(path) else ""
    lines = ["## Profile", "",
             "`perf record -e cpu-clock -g` of rcptwatch replaying smtp.pcap (self time, symbols "
             "over 1%; the kernel's `_copy_to_iter` is the capture file being read):",
             ""]
    if body:
        def tidy(line):
            line = re.sub(r"\s+", " ", line).strip()
            line = re.sub(r"( -)+$", "", line)  # perf's empty columns
            # The flow table's type spelled out is 600 characters; its member name is what matters.
            return re.sub(r"std::_Hashtable<.*>::(\w+)$", r"std::unordered_map<FlowKey, ...>::\1", line)
        lines += ["```", *[tidy(l) for l in body.splitlines()], "```"]
    else:
        lines.append("perf was not usable on this machine in this run.")
    return "\n".join(lines)


def section_memory(out, caps, runs, cap_mib):
    fm = json.load(open(os.path.join(out, "flow-memory.json")))
    syn = runs[("synflood", "rcptwatch")]
    stats = last_json_line(os.path.join(out, "alerts-synflood.jsonl"), "stats")
    tcp = stats["stats"]["tcp"] if stats else {}
    found = False
    path = os.path.join(out, "alerts-synflood.jsonl")
    if os.path.exists(path):
        found = any('"event_type":"alert"' in line and "john.doe@army.ml" in line for line in open(path))
    rss_mib = syn["rss_kib"] / 1024
    c = caps["synflood.pcap"]
    return "\n".join([
        "## Memory under a SYN flood, and per flow (issue #3)",
        "",
        f"`synflood.pcap`: {c['syn_flows']:,} SYN-only flows to port 25 from distinct clients "
        f"({c['bytes'] / 1e6:,.0f} MB), with one real SMTP session (recipient `john.doe@army.ml`) "
        "inside the second half of the flood. Default limits.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| replay time | {syn['seconds']:.2f} s ({c['packets'] / syn['seconds']:,.0f} packets/s) |",
        f"| peak RSS | {rss_mib:.1f} MiB (cap {cap_mib} MiB) — {met(rss_mib <= cap_mib)} |",
        f"| lookalike alert inside the flood | {'found' if found else 'NOT found'} — {met(found)} |",
        f"| flows created / evicted at max-flows | {tcp.get('flows_created', 0):,} / "
        f"{tcp.get('flows_evicted_cap', 0):,} |",
        "",
        f"Per-flow memory of an idle established flow (`bench/flow_memory`, {fm['flows']:,} flows "
        "held at once; heap bytes in use from `mallinfo2`, resident set growth from `/proc/self/statm`):",
        "",
        "| flow | heap bytes / flow | RSS bytes / flow |",
        "| --- | ---: | ---: |",
        f"| flow-table entry, counted (`TcpTracker::flow_entry_bytes()`) | {fm['flow_entry_bytes']} | |",
        f"| TCP handshake done, no payload yet | {fm['tcp_idle']['heap_per_flow']:.0f} | "
        f"{fm['tcp_idle']['rss_per_flow']:.0f} |",
        f"| SMTP greeting and EHLO exchanged, then idle | {fm['smtp_idle']['heap_per_flow']:.0f} | "
        f"{fm['smtp_idle']['rss_per_flow']:.0f} |",
    ])


def fmt_rate(x):
    return f"{x / 1e6:.1f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def section_micro(out):
    data = json.load(open(os.path.join(out, "micro.json")))
    lines = ["## Micro-benchmarks (bench/micro_bench.cpp, Google Benchmark)", "",
             "One core. `allocs_per_*` come from a counting `operator new`: allocations grow with "
             "connections, not with packets: compare the two `BM_PipelineSession` rows (same session, 1 KB vs 100 KB body).",
             "",
             "| benchmark | ns / iteration | throughput | items/s | notes |",
             "| --- | ---: | ---: | ---: | --- |"]
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        tp = f"{b['bytes_per_second'] / MIB:,.0f} MiB/s" if "bytes_per_second" in b else ""
        items = fmt_rate(b["items_per_second"]) if "items_per_second" in b else ""
        notes = ", ".join(f"{k}={b[k]:.2f}" for k in ("allocs_per_session", "allocs_per_packet") if k in b)
        lines.append(f"| `{b['name']}` | {b['cpu_time']:,.0f} | {tp} | {items} | {notes} |")
    return "\n".join(lines)


def section_matcher(out):
    data = json.load(open(os.path.join(out, "detect.json")))
    by = {b["name"]: b for b in data["benchmarks"] if b.get("run_type") != "aggregate"}

    def get(prefix, n):
        for name, b in by.items():
            if name.startswith(f"{prefix}/{n}"):
                return b
        return None

    lines = ["## Lookalike matcher, this run (measured by bench/detect_bench.cpp)", "",
             "Protected domains are deterministic pseudo-random names; lookups are half typos of "
             "them, half other names; one core. \"Real domains\" are the ~2,000 names of the public "
             "suffix list's private section, uncached.", "",
             "| protected domains | index build | index memory | RSS increase | lookups/s uncached "
             "| lookups/s uncached, real domains | lookups/s cached |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in (10, 100000):
        b, u, c = get("BM_IndexBuild", n), get("BM_Lookup", n), get("BM_LookupCached", n)
        r = get("BM_LookupRealDomains", n)
        if not (b and u and c):
            continue
        build_ms = b["real_time"] if b.get("time_unit") == "ms" else b["real_time"] / 1e6
        build = f"{build_ms:.0f} ms" if build_ms < 1000 else f"{build_ms / 1000:.2f} s"
        real = fmt_rate(r["lookups_per_s"]) if r else "n/a"
        lines.append(f"| {n:,} | {build} | {b['index_MiB']:.2f} MiB | {b['rss_delta_MiB']:.0f} MiB | "
                     f"{fmt_rate(u['lookups_per_s'])} | {real} | {fmt_rate(c['lookups_per_s'])} |")
    u1, r1 = get("BM_LookupDistance1", 100000), get("BM_LookupRealDomainsDistance1", 100000)
    if u1 and r1:
        lines.append(f"| 100,000, every rule `distance=1` | | | | {fmt_rate(u1['lookups_per_s'])} | "
                     f"{fmt_rate(r1['lookups_per_s'])} | |")
    return "\n".join(lines)


def replace_block(doc, name, text):
    begin = f"<!-- BEGIN generated:{name} (make bench rewrites this block) -->"
    end = f"<!-- END generated:{name} -->"
    block = f"{begin}\n{text}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        return pattern.sub(lambda _: block, doc)
    return doc.rstrip("\n") + "\n\n" + block + "\n"


def main():
    out, doc_path = sys.argv[1], sys.argv[2]
    caps = json.load(open(os.path.join(out, "captures.json")))
    runs = load_runs(out)
    help_text = open(os.path.join(out, "help.txt")).read() if os.path.exists(os.path.join(out, "help.txt")) else ""
    m = re.search(r"--memory-cap.{0,200}?default (\d+)", help_text, re.S)
    cap_mib = int(m.group(1)) if m else 512
    doc = open(doc_path).read() if os.path.exists(doc_path) else (
        "# rcptwatch performance\n\n"
        "How fast rcptwatch reads traffic and how much memory it holds, measured against the floor "
        "(merely reading the packets) and a peer (tshark). `make bench` regenerates every block "
        "marked `generated` below in one run (about 10 minutes on 2 cores); other sections are "
        "written by hand and kept.\n")
    for name, text in [
        ("machine", section_machine(out, caps)),
        ("throughput", section_throughput(out, caps, runs)),
        ("profile", section_profile(out)),
        ("memory", section_memory(out, caps, runs, cap_mib)),
        ("micro", section_micro(out)),
        ("matcher", section_matcher(out)),
    ]:
        doc = replace_block(doc, name, text)
    with open(doc_path, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
