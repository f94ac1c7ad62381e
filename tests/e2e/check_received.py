#!/usr/bin/env python3
"""Parses what rsyslog wrote (one raw message per line) back into fields and checks every
alert rw_send_alerts sent arrived with the right values. Mirrors synthetic_alert() in
send_alerts.cpp. Prints 'unique=U total=T' and exits non-zero on any mismatch."""
import argparse
import re
import sys

BOM = "\ufeff"
SEVERITIES = ["low", "medium", "high", "critical"]
SYSLOG_SEV = {"low": 5, "medium": 4, "high": 3, "critical": 2}
CEF_SEV = {"low": 3, "medium": 5, "high": 8, "critical": 10}


def expected(i):
    sev = SEVERITIES[i % 4]
    rcpt = ("jos\u00e9." if i % 5 == 0 else "user.") + f"{i}@army.ml"
    return {
        "sid": str(1 + i % 3), "severity": sev,
        "src": f"10.1.{i // 256}.{i % 256}", "spt": str(40000 + i % 20000),
        "dst": "192.0.2.25", "dpt": "25",
        "helo": f"client{i}" + ('"]\\=|' if i % 7 == 0 else "") + ".example", "mailFrom": f"sender{i}@example.com", "rcptTo": rcpt,
        "rcptReply": "250", "domain": "army.ml", "protected": "mil",
        "technique": "tld-omission", "distance": "1", "capture": "complete",
        "flowId": str(i + 1), "ts_ms": str((1689581730000000 + i * 1000000) // 1000),
    }


SD_PARAM = re.compile(r'(\w+)="((?:[^"\\\]]|\\.)*)"')
RFC5424 = re.compile(r'^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[rcptwatch@32473((?: \w+="(?:[^"\\\]]|\\.)*")*)\] (.*)$')


def parse_rfc5424(line, host):
    m = RFC5424.match(line)
    if not m:
        raise ValueError("not an rfc5424 alert")
    pri, ts, hostname, app, procid, msgid, sd, msg = m.groups()
    if hostname != host:
        return None
    if app != "rcptwatch" or procid != "4242" or msgid != "LOOKALIKE":
        raise ValueError(f"header fields: {app} {procid} {msgid}")
    if not msg.startswith(BOM):
        raise ValueError("message has no BOM")
    params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in SD_PARAM.findall(sd)}
    i = int(params["flowId"]) - 1
    e = expected(i)
    for k in ("sid", "severity", "src", "spt", "dst", "dpt", "helo", "mailFrom", "rcptTo",
              "rcptReply", "domain", "protected", "technique", "distance", "capture", "flowId"):
        if params.get(k) != e[k]:
            raise ValueError(f"alert {i}: {k}={params.get(k)!r}, expected {e[k]!r}")
    if int(pri) != 16 * 8 + SYSLOG_SEV[e["severity"]]:
        raise ValueError(f"alert {i}: PRI {pri}")
    if e["rcptTo"] not in msg:
        raise ValueError(f"alert {i}: message lacks the recipient")
    return i


def split_unescaped(s, sep, limit):
    parts, cur, k = [], "", 0
    while k < len(s):
        c = s[k]
        if c == "\\" and k + 1 < len(s):
            cur += s[k:k + 2]
            k += 2
            continue
        if c == sep and len(parts) < limit:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        k += 1
    parts.append(cur)
    return parts


def parse_cef_extension(ext):
    # Keys end at an unescaped '='; a value runs to the space before the next key.
    eqs = [k for k in range(len(ext)) if ext[k] == "=" and (k == 0 or ext[k - 1] != "\\")]
    fields = {}
    for n, pos in enumerate(eqs):
        key_start = ext.rfind(" ", 0, pos) + 1
        key = ext[key_start:pos]
        end = len(ext) if n + 1 == len(eqs) else ext.rfind(" ", 0, eqs[n + 1])
        raw = ext[pos + 1:end]
        fields[key] = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), raw)
    return fields


def parse_cef(line, host):
    if not line.startswith("CEF:0|"):
        raise ValueError("not a CEF alert")
    head = split_unescaped(line, "|", 7)
    if len(head) != 8:
        raise ValueError("CEF header has not 7 fields")
    _, vendor, product, version, sid, name, sev, ext = head
    f = parse_cef_extension(ext)
    i = int(f["cn2"]) - 1
    e = expected(i)
    want = {"rt": e["ts_ms"], "src": e["src"], "spt": e["spt"], "dst": e["dst"], "dpt": e["dpt"],
            "suser": e["mailFrom"], "duser": e["rcptTo"], "act": "alert", "cs1": e["domain"],
            "cs1Label": "lookalikeDomain", "cs2": e["protected"], "cs3": e["technique"],
            "cs4": e["helo"], "cs5": e["capture"], "cs6": e["rcptReply"], "cn1": e["distance"]}
    for k, v in want.items():
        if f.get(k) != v:
            raise ValueError(f"alert {i}: {k}={f.get(k)!r}, expected {v!r}")
    if (vendor, product, version) != ("rcptwatch", "rcptwatch", "0.1.0"):
        raise ValueError(f"alert {i}: header {vendor}|{product}|{version}")
    if sid != e["sid"] or sev != str(CEF_SEV[e["severity"]]) or name != 'Lookalike of "mil" [test]':
        raise ValueError(f"alert {i}: header sid={sid} sev={sev} name={name!r}")
    return i


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--format", choices=["rfc5424", "cef"], required=True)
    ap.add_argument("--hostname", default="e2e")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--expect-all", action="store_true", help="every index 0..count-1 must arrive")
    ap.add_argument("--no-duplicates", action="store_true")
    args = ap.parse_args()
    parse = parse_rfc5424 if args.format == "rfc5424" else parse_cef
    seen = {}
    errors = 0
    with open(args.file, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if args.format == "cef" and not line.startswith("CEF:"):
                continue
            if args.format == "rfc5424" and line.startswith("CEF:"):
                continue
            if re.match(r"^<\d+>1 \S+ probe ", line):  # the script's readiness probe
                continue
            try:
                i = parse(line, args.hostname)
            except (ValueError, KeyError) as err:
                print(f"{args.file}:{n}: {err}: {line[:200]!r}", file=sys.stderr)
                errors += 1
                continue
            if i is None:
                continue
            if not 0 <= i < args.count:
                print(f"{args.file}:{n}: index {i} out of range", file=sys.stderr)
                errors += 1
            seen[i] = seen.get(i, 0) + 1
    total = sum(seen.values())
    print(f"unique={len(seen)} total={total}")
    if args.expect_all:
        missing = [i for i in range(args.count) if i not in seen]
        if missing:
            print(f"missing {len(missing)} alerts, first {missing[:10]}", file=sys.stderr)
            errors += 1
    if args.no_duplicates and total != len(seen):
        print(f"{total - len(seen)} duplicates", file=sys.stderr)
        errors += 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
