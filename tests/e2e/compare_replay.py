#!/usr/bin/env python3
"""Checks that every JSON alert rcptwatch wrote arrived in rsyslog's files as RFC 5424 (SD
params), CEF (extension) and LEEF (tab-separated attributes) with the same fields.
usage: compare_replay.py ALERTS.jsonl UDP.log TCP.log"""
import json
import re
import sys
from collections import Counter

SD = re.compile(r'(\w+)="((?:[^"\\\]]|\\.)*)"')


def unescape_sd(v):
    return re.sub(r'\\(["\\\]])', r"\1", v)


def rfc5424_records(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if " LOOKALIKE [rcptwatch@32473" not in line:
            continue
        sd = line[line.index("[rcptwatch@32473"):line.index("] \ufeff")]
        out.append({k: unescape_sd(v) for k, v in SD.findall(sd)})
    return out


def cef_records(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if not line.startswith("CEF:0|"):
            continue
        # header: 7 unescaped pipes, then the extension
        fields, cur, i = [], "", 0
        body = line.rstrip("\n")
        while len(fields) < 7:
            c = body[i]
            if c == "\\":
                cur += body[i + 1]
                i += 2
                continue
            if c == "|":
                fields.append(cur)
                cur = ""
            else:
                cur += c
            i += 1
        ext = body[i:]
        keys = list(re.finditer(r"(?:^| )(\w+)=", ext))
        rec = {"sid": fields[4], "name": fields[5], "sev": fields[6]}
        for k, m in enumerate(keys):
            end = keys[k + 1].start() if k + 1 < len(keys) else len(ext)
            rec[m.group(1)] = re.sub(r"\\(.)", lambda x: {"n": "\n", "r": "\r"}.get(x.group(1), x.group(1)),
                                     ext[m.end():end])
        out.append(rec)
    return out


def leef_records(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if not line.startswith("LEEF:2.0|"):
            continue
        parts = line.rstrip("\n").split("|", 6)
        attrs = dict(kv.split("=", 1) for kv in parts[6].split("^"))
        out.append(attrs)
    return out


def main():
    alerts = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
    alerts = [a for a in alerts if a["event_type"] == "alert"]
    want_5424 = Counter((a["smtp"]["rcpt_to"], a["lookalike"]["domain"], a["lookalike"]["protected"],
                         a["lookalike"]["technique"], str(a["alert"]["signature_id"]), a["src_ip"],
                         str(a["src_port"]), a["smtp"]["mail_from"],
                         "unknown" if a["smtp"]["rcpt_reply"] is None else str(a["smtp"]["rcpt_reply"]))
                        for a in alerts)
    got_5424 = Counter((r["rcptTo"], r["domain"], r["protected"], r["technique"], r["sid"], r["src"],
                        r["spt"], r["mailFrom"], r["rcptReply"]) for r in rfc5424_records(sys.argv[2]))
    want_cef = Counter((a["smtp"]["rcpt_to"], a["lookalike"]["domain"], a["lookalike"]["protected"],
                        a["lookalike"]["technique"], str(a["alert"]["signature_id"]), a["alert"]["signature"])
                       for a in alerts)
    got_cef = Counter((r["duser"], r["cs1"], r["cs2"], r["cs3"], r["sid"], r["name"])
                      for r in cef_records(sys.argv[3]))
    want_leef = Counter((a["smtp"]["rcpt_to"], a["lookalike"]["protected"], str(a["alert"]["signature_id"]))
                        for a in alerts)
    got_leef = Counter((r["recipient"], r["protectedDomain"], r["sid"]) for r in leef_records(sys.argv[3]))
    ok = True
    for name, want, got in (("rfc5424", want_5424, got_5424), ("cef", want_cef, got_cef),
                            ("leef", want_leef, got_leef)):
        if want != got:
            ok = False
            print(f"{name}: missing {dict(want - got)} unexpected {dict(got - want)}")
        else:
            print(f"{name}: {sum(got.values())} alerts match")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
