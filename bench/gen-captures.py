#!/usr/bin/python3
"""Benchmark captures for `make bench`, written once and cached (deterministic seeds).

    bench/gen-captures.py OUTDIR

Creates in OUTDIR (skips a file that exists with the current generator version):
  smtp.pcap      40,000 outbound SMTP sessions, every flow distinct (client address and port),
                 half pipelined, bodies from a few hundred bytes to ~100 KB (multi-segment),
                 a lookalike recipient in every 500th session; 64 sessions interleaved at a time.
  mixed.pcap     the same sessions diluted into bulk TCP (443, 8080) and UDP (53, 4789)
                 traffic so that SMTP is about 5% of the bytes.
  smtp4x.pcap    160,000 sessions built the same way (memory flatness: 4x the capture).
  synflood.pcap  2,000,000 SYN-only flows to port 25 with one real SMTP session (a lookalike
                 recipient, john.doe@army.ml) in the middle of the flood.
  captures.json  what was planted: sessions, lookalike recipients, bytes, packets.

Records are packed with struct rather than scapy: scapy needs minutes per million packets.
"""
import json
import os
import random
import struct
import sys

VERSION = 3  # bump when the content changes so cached captures are rebuilt
SMTP_SESSIONS = 40_000
MSS = 1448
CONCURRENT = 64
LOOKALIKE_EVERY = 500
LOOKALIKES = ["army.ml", "nat0.int"]
SYN_FLOOD_FLOWS = 2_000_000

ETH_V4 = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
IP_TCP = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")  # IPv4 (20) + TCP (20) headers
IP_UDP = struct.Struct("!BBHHHBBH4s4sHHHH")       # IPv4 (20) + UDP (8) headers
REC = struct.Struct("<IIII")
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def ip_checksum(hdr):
    s = sum(struct.unpack("!10H", hdr[:20]))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class PcapWriter:
    """Writes records with microsecond timestamps that advance by `step_us` per packet."""

    def __init__(self, path, step_us):
        self.f = open(path, "wb", buffering=1 << 22)
        self.f.write(PCAP_HEADER)
        self.t = 1_767_225_600 * 1_000_000  # 2026-01-01T00:00:00Z
        self.step = step_us
        self.packets = 0
        self.bytes = len(PCAP_HEADER)

    def write(self, frame):
        sec, usec = divmod(self.t, 1_000_000)
        self.f.write(REC.pack(sec, usec, len(frame), len(frame)))
        self.f.write(frame)
        self.t += self.step
        self.packets += 1
        self.bytes += 16 + len(frame)

    def close(self):
        self.f.close()


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b"", ipid=0):
    total = 40 + len(payload)
    hdr = bytearray(IP_TCP.pack(0x45, 0, total, ipid & 0xFFFF, 0x4000, 64, 6, 0, src, dst,
                                sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags,
                                65535, 0, 0))
    struct.pack_into("!H", hdr, 10, ip_checksum(hdr))
    return ETH_V4 + bytes(hdr) + payload


def udp_frame(src, dst, sport, dport, payload, ipid=0):
    total = 28 + len(payload)
    hdr = bytearray(IP_UDP.pack(0x45, 0, total, ipid & 0xFFFF, 0x4000, 64, 17, 0, src, dst,
                                sport, dport, 8 + len(payload), 0))
    struct.pack_into("!H", hdr, 10, ip_checksum(hdr))
    return ETH_V4 + bytes(hdr) + payload


def client_addr(i):
    """Distinct (address, port) for session i: 10.a.b.c, ports 1024..60999."""
    host = i // 60_000
    return bytes([10, (host >> 16) & 0xFF, (host >> 8) & 0xFF, host & 0xFF]), 1024 + i % 60_000


SERVERS = [bytes([192, 0, 2, n]) for n in range(1, 17)]


def body_text(rng, size):
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
    out = bytearray(b"Subject: quarterly figures\r\nFrom: a@example.com\r\n\r\n")
    while len(out) < size:
        out += line
    del out[size:]
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return bytes(out) + b".\r\n"


def body_size(rng):
    r = rng.random()
    if r < 0.85:
        return rng.randint(200, 1500)
    if r < 0.98:
        return rng.randint(1500, 12_000)
    return rng.randint(12_000, 96_000)


def smtp_session(i, rng, lookalike, src=None, sport=None, server=None):
    """Yields the frames of one SMTP session, client (src) to server (port 25)."""
    if src is None:
        src, sport = client_addr(i)
    srv = server or SERVERS[i % len(SERVERS)]
    cseq = rng.getrandbits(32)
    sseq = rng.getrandbits(32)
    state = {"c": cseq + 1, "s": sseq + 1, "id": rng.getrandbits(16)}

    def c(payload, flags=PSH | ACK):
        state["id"] += 1
        f = tcp_frame(src, srv, sport, 25, state["c"], state["s"], flags, payload, state["id"])
        state["c"] += len(payload)
        return f

    def s(payload, flags=PSH | ACK):
        f = tcp_frame(srv, src, 25, sport, state["s"], state["c"], flags, payload)
        state["s"] += len(payload)
        return f

    yield tcp_frame(src, srv, sport, 25, cseq, 0, SYN)
    yield tcp_frame(srv, src, 25, sport, sseq, cseq + 1, SYN | ACK)
    yield tcp_frame(src, srv, sport, 25, cseq + 1, sseq + 1, ACK)
    yield s(b"220 mx%d.example.net ESMTP ready\r\n" % (i % 16))
    yield c(b"EHLO ws%d.corp.example.com\r\n" % i)
    yield s(b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 8BITMIME\r\n")
    nrcpt = 1 + rng.randrange(3)
    rcpts = [b"user%d@host%d.example.org" % (rng.randrange(100_000), rng.randrange(500))
             for _ in range(nrcpt)]
    if lookalike:
        rcpts[-1] = b"john.doe@" + lookalike.encode()
    mail = b"MAIL FROM:<sender%d@corp.example.com>\r\n" % i
    if i % 2 == 0:  # pipelined
        yield c(mail + b"".join(b"RCPT TO:<" + r + b">\r\n" for r in rcpts) + b"DATA\r\n")
        yield s(b"250 2.1.0 Ok\r\n" * (1 + nrcpt) + b"354 End data with <CR><LF>.<CR><LF>\r\n")
    else:
        yield c(mail)
        yield s(b"250 2.1.0 Ok\r\n")
        for r in rcpts:
            yield c(b"RCPT TO:<" + r + b">\r\n")
            yield s(b"250 2.1.5 Ok\r\n")
        yield c(b"DATA\r\n")
        yield s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    body = body_text(rng, body_size(rng))
    for n, off in enumerate(range(0, len(body), MSS)):
        yield c(body[off:off + MSS])
        if n % 2 == 1:
            yield s(b"", ACK)  # delayed ACK every second segment
    yield s(b"250 2.0.0 Ok: queued as %X\r\n" % rng.getrandbits(40))
    yield c(b"QUIT\r\n")
    yield s(b"221 2.0.0 Bye\r\n")
    yield c(b"", FIN | ACK)
    yield s(b"", FIN | ACK)
    state["c"] += 1
    state["s"] += 1
    yield c(b"", ACK)


def interleaved_sessions(count, seed, stats):
    """Frames of `count` sessions, CONCURRENT of them in progress at any time."""
    rng = random.Random(seed)
    active = []
    started = 0
    while active or started < count:
        while len(active) < CONCURRENT and started < count:
            look = None
            if started % LOOKALIKE_EVERY == LOOKALIKE_EVERY // 2:
                look = LOOKALIKES[(started // LOOKALIKE_EVERY) % len(LOOKALIKES)]
                stats["lookalike_recipients"] += 1
            active.append(smtp_session(started, random.Random(rng.getrandbits(64)), look))
            started += 1
        k = rng.randrange(len(active))
        frame = next(active[k], None)
        if frame is None:
            active[k] = active[-1]
            active.pop()
            continue
        yield frame


class Bulk:
    """Non-SMTP traffic: TCP 443/8080 streams of full segments and UDP 53/4789 datagrams."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.blob = bytes(self.rng.getrandbits(8) for _ in range(1 << 16))
        self.flows = []
        for n in range(256):
            src = bytes([172, 16, n, 1 + n % 200])
            dst = bytes([198, 51, 100, n])
            port = 443 if n % 3 else 8080
            self.flows.append([src, dst, 30_000 + n, port, self.rng.getrandbits(32)])
        self.n = 0

    def frame(self):
        self.n += 1
        r = self.n % 20
        if r == 0:  # DNS-sized datagram
            off = self.n % 60_000
            return udp_frame(bytes([172, 16, 0, 53]), bytes([198, 51, 100, 53]), 5353, 53,
                             self.blob[off:off + 80], self.n)
        if r == 1:  # VXLAN-sized datagram
            off = self.n % 60_000
            return udp_frame(bytes([172, 16, 1, 7]), bytes([198, 51, 100, 7]), 40_000, 4789,
                             self.blob[off:off + 1200], self.n)
        fl = self.flows[self.n % len(self.flows)]
        off = (self.n * 7919) % (len(self.blob) - MSS)
        f = tcp_frame(fl[0], fl[1], fl[2], fl[3], fl[4], 1, ACK, self.blob[off:off + MSS], self.n)
        fl[4] += MSS
        return f


def write_smtp(path, count, seed):
    stats = {"sessions": count, "lookalike_recipients": 0}
    w = PcapWriter(path, 10)
    for frame in interleaved_sessions(count, seed, stats):
        w.write(frame)
    w.close()
    stats.update(packets=w.packets, bytes=w.bytes)
    return stats


def write_mixed(path, count, seed, smtp_share):
    stats = {"sessions": count, "lookalike_recipients": 0}
    bulk = Bulk(seed + 1)
    w = PcapWriter(path, 2)
    smtp_bytes = 0
    other_bytes = 0
    for frame in interleaved_sessions(count, seed, stats):
        w.write(frame)
        smtp_bytes += 16 + len(frame)
        # keep smtp_bytes / (smtp_bytes + other_bytes) at smtp_share
        while other_bytes * smtp_share < smtp_bytes * (1 - smtp_share):
            b = bulk.frame()
            w.write(b)
            other_bytes += 16 + len(b)
    w.close()
    stats.update(packets=w.packets, bytes=w.bytes, smtp_bytes=smtp_bytes,
                 smtp_share=round(smtp_bytes / (smtp_bytes + other_bytes), 4))
    return stats


def write_synflood(path, flows, seed):
    """2M SYNs from distinct clients to port 25 with one real session spread over the middle."""
    rng = random.Random(seed)
    w = PcapWriter(path, 1)
    real = smtp_session(0, random.Random(seed + 1), "army.ml", src=bytes([10, 200, 0, 1]),
                        sport=40_312, server=bytes([192, 0, 2, 200]))
    start = flows // 2
    for n in range(flows):
        src = bytes([100, 64 + (n >> 22) % 64, (n >> 14) & 0xFF, (n >> 6) & 0xFF])
        sport = 1024 + (n & 0x3F) * 997 % 60_000
        w.write(tcp_frame(src, bytes([192, 0, 2, 25]), sport, 25, rng.getrandbits(32), 0, SYN))
        if n >= start and n % 50 == 0 and real is not None:
            frame = next(real, None)
            if frame is None:
                real = None
            else:
                w.write(frame)
    for frame in real or ():
        w.write(frame)
    w.close()
    return {"syn_flows": flows, "lookalike_recipients": 1, "packets": w.packets,
            "bytes": w.bytes}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen-captures.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    meta_path = os.path.join(out, "captures.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("version") != VERSION:
            meta = {}
    meta["version"] = VERSION
    jobs = [
        ("smtp.pcap", lambda p: write_smtp(p, SMTP_SESSIONS, 1)),
        ("mixed.pcap", lambda p: write_mixed(p, SMTP_SESSIONS, 1, 0.05)),
        ("smtp4x.pcap", lambda p: write_smtp(p, 4 * SMTP_SESSIONS, 4)),
        ("synflood.pcap", lambda p: write_synflood(p, SYN_FLOOD_FLOWS, 3)),
    ]
    for name, make in jobs:
        path = os.path.join(out, name)
        if name in meta and os.path.exists(path) and os.path.getsize(path) == meta[name]["bytes"]:
            continue
        print(f"gen-captures: writing {path}", file=sys.stderr, flush=True)
        tmp = path + ".tmp"
        meta[name] = make(tmp)
        os.replace(tmp, path)
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
