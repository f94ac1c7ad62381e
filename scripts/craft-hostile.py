#!/usr/bin/python3
"""Writes the hostile-traffic captures the tests in tests/hostile/ replay: floods and protocol
abuse, each with one legitimate SMTP session (client 192.0.2.77 sends to john.doe@army.ml, a
lookalike of .mil) interleaved with the attack, so a test can check that detection survives it.

Pcap records are packed directly (no scapy) so a million packets take seconds. Every file is
deterministic: fixed timestamps, sequence numbers and seeds. Nothing is sent on a network.

Usage: /usr/bin/python3 scripts/craft-hostile.py SCENARIO OUT.pcap
       /usr/bin/python3 scripts/craft-hostile.py --corrupt KIND OUT.pcap
Scenarios: %s
Corrupt kinds: %s
"""

import random
import struct
import sys

T0_USEC = 1_700_000_000 * 1_000_000  # fixed start: files never change between runs
STEP_USEC = 10                        # one packet every 10 microseconds of capture time
SERVER = "198.51.100.25"
LEGIT_CLIENT = "192.0.2.77"
LEGIT_RCPT = b"john.doe@army.ml"
MAC = b"\x02\x00\x00\x00\x00\x25\x02\x00\x00\x00\x00\x10\x08\x00"  # dst, src, IPv4

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def ip4(text):
    return bytes(int(x) for x in text.split("."))


def checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class PcapWriter:
    """Classic little-endian pcap, Ethernet, microsecond timestamps, one clock for all packets."""

    def __init__(self, path, snaplen=65535):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        self.now = T0_USEC
        self.count = 0

    def frame(self, frame):
        self.now += STEP_USEC
        self.f.write(struct.pack("<IIII", self.now // 1_000_000, self.now % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)
        self.count += 1

    def close(self):
        self.f.close()


def ipv4_frame(src, dst, proto_payload, proto=6, ident=0, frag_offset8=0, more=False):
    flags = (0x2000 if more else 0) | (frag_offset8 & 0x1FFF)
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(proto_payload), ident & 0xFFFF,
                                flags, 64, proto, 0, src, dst))
    struct.pack_into("!H", hdr, 10, checksum(bytes(hdr)))
    return MAC + bytes(hdr) + proto_payload


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                      flags, window, 0, 0)
    return ipv4_frame(src, dst, tcp + payload)


class Conn:
    """One TCP connection; send() advances the sequence numbers like a real stack."""

    def __init__(self, w, client, cport, server=SERVER, sport=25, cisn=1000, sisn=500000):
        self.w, self.c, self.s, self.cp, self.sp = w, ip4(client), ip4(server), cport, sport
        self.cseq, self.sseq = cisn, sisn

    def handshake(self):
        self.w.frame(tcp_frame(self.c, self.s, self.cp, self.sp, self.cseq, 0, SYN))
        self.w.frame(tcp_frame(self.s, self.c, self.sp, self.cp, self.sseq, self.cseq + 1, SYN | ACK))
        self.cseq += 1
        self.sseq += 1
        self.w.frame(tcp_frame(self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, ACK))

    def client(self, data, mss=1460, window=65535):
        for i in range(0, len(data), mss):
            chunk = data[i:i + mss]
            self.w.frame(tcp_frame(self.c, self.s, self.cp, self.sp, self.cseq, self.sseq,
                                   PSH | ACK, chunk, window))
            self.cseq += len(chunk)

    def server(self, data, window=65535):
        for i in range(0, len(data), 1460):
            chunk = data[i:i + 1460]
            self.w.frame(tcp_frame(self.s, self.c, self.sp, self.cp, self.sseq, self.cseq,
                                   PSH | ACK, chunk, window))
            self.sseq += len(chunk)

    def close(self):
        self.w.frame(tcp_frame(self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, FIN | ACK))
        self.w.frame(tcp_frame(self.s, self.c, self.sp, self.cp, self.sseq, self.cseq + 1, FIN | ACK))
        self.cseq += 1
        self.sseq += 1
        self.w.frame(tcp_frame(self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, ACK))


def legit_steps(w):
    """The legitimate session as a list of closures, so a scenario can spread its packets
    between attack packets (one step at a time)."""
    c = Conn(w, LEGIT_CLIENT, 41000, cisn=0x10000000, sisn=0x20000000)
    return [
        c.handshake,
        lambda: c.server(b"220 mx.example.net ESMTP\r\n"),
        lambda: c.client(b"EHLO client.example\r\n"),
        lambda: c.server(b"250-mx.example.net\r\n250 PIPELINING\r\n"),
        lambda: c.client(b"MAIL FROM:<alice@example.com>\r\n"),
        lambda: c.server(b"250 2.1.0 OK\r\n"),
        lambda: c.client(b"RCPT TO:<" + LEGIT_RCPT + b">\r\n"),
        lambda: c.server(b"250 2.1.5 OK\r\n"),
        lambda: c.client(b"DATA\r\n"),
        lambda: c.server(b"354 go ahead\r\n"),
        lambda: c.client(b"Subject: hello\r\n\r\nhi\r\n.\r\n"),
        lambda: c.server(b"250 2.0.0 queued\r\n"),
        lambda: c.client(b"QUIT\r\n"),
        lambda: c.server(b"221 bye\r\n"),
        c.close,
    ]


class Interleaver:
    """Runs one legit step every `every` calls of tick(), the rest at finish()."""

    def __init__(self, w, every):
        self.steps, self.every, self.n = legit_steps(w), max(1, every), 0

    def tick(self):
        self.n += 1
        if self.n % self.every == 0 and self.steps:
            self.steps.pop(0)()

    def finish(self):
        while self.steps:
            self.steps.pop(0)()


def smtp_open(conn):
    conn.handshake()
    conn.server(b"220 mx.example.net ESMTP\r\n")
    conn.client(b"EHLO attacker.example\r\n")
    conn.server(b"250-mx.example.net\r\n250-CHUNKING\r\n250 PIPELINING\r\n")


def long_line(w):
    """A command line with no CRLF for 8 MiB."""
    legit = Interleaver(w, 400)
    c = Conn(w, "203.0.113.1", 50000)
    smtp_open(c)
    c.client(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<")
    block = b"A" * 1460
    for _ in range((8 << 20) // 1460):
        c.client(block)
        legit.tick()
    c.client(b"\r\nQUIT\r\n")
    c.close()
    legit.finish()


def bdat_huge(w):
    """BDAT claiming 2^63 bytes (then 1 MiB of "body"), and BDAT sizes past 2^64."""
    legit = Interleaver(w, 50)
    c = Conn(w, "203.0.113.2", 50001)
    smtp_open(c)
    c.client(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
    c.server(b"250 OK\r\n250 OK\r\n")
    c.client(b"BDAT 9223372036854775808 LAST\r\n")
    body = b"RCPT TO:<hidden@army.ml>\r\n" * 56
    for _ in range((1 << 20) // len(body)):
        c.client(body)
        legit.tick()
    c.close()
    d = Conn(w, "203.0.113.3", 50002)
    smtp_open(d)
    d.client(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<carol@example.com>\r\n")
    d.server(b"250 OK\r\n250 OK\r\n")
    d.client(b"BDAT 18446744073709551616\r\nBDAT 99999999999999999999999999 LAST\r\nQUIT\r\n")
    d.server(b"501 bad size\r\n501 bad size\r\n221 bye\r\n")
    d.close()
    legit.finish()


def many_rcpts(w):
    """100,000 recipients in one transaction, pipelined 50 per segment, each accepted."""
    legit = Interleaver(w, 100)
    c = Conn(w, "203.0.113.4", 50003)
    smtp_open(c)
    c.client(b"MAIL FROM:<a@example.com>\r\n")
    c.server(b"250 OK\r\n")
    for batch in range(2000):
        lines = b"".join(b"RCPT TO:<user%d@example.com>\r\n" % (batch * 50 + i) for i in range(50))
        c.client(lines)
        c.server(b"250 2.1.5 OK\r\n" * 50)
        legit.tick()
    c.client(b"QUIT\r\n")
    c.server(b"221 bye\r\n")
    c.close()
    legit.finish()


def ooo_tiny(w):
    """A million one-byte segments, every other byte missing, in a shuffled order."""
    legit = Interleaver(w, 50000)
    c = Conn(w, "203.0.113.5", 50004)
    smtp_open(c)
    base = c.cseq
    n = 1_000_000
    # A fixed permutation (multiplicative, n and 7919 coprime) instead of random.shuffle: fast.
    src, dst, cp, sp, ack = c.c, c.s, c.cp, c.sp, c.sseq
    for k in range(n):
        j = (k * 7919) % n
        w.frame(tcp_frame(src, dst, cp, sp, base + 1 + 2 * j, ack, PSH | ACK, b"x"))
        legit.tick()
    legit.finish()


def frag_flood(w):
    """Overlapping IPv4 fragments for 20,000 datagrams that never complete, some far out."""
    legit = Interleaver(w, 5000)
    rnd = random.Random(10)
    src, dst = ip4("203.0.113.6"), ip4(SERVER)
    chunk = bytes(range(256)) * 6  # 1536 bytes
    for ident in range(20000):
        # Three fragments per datagram: overlapping at the start, one near the 64 KiB limit.
        w.frame(ipv4_frame(src, dst, chunk[:1480], ident=ident, frag_offset8=0, more=True))
        w.frame(ipv4_frame(src, dst, chunk[:1480], ident=ident, frag_offset8=8, more=True))
        w.frame(ipv4_frame(src, dst, chunk[:64], ident=ident, frag_offset8=8000 + rnd.randrange(100),
                           more=True))
        legit.tick()
    legit.finish()


def syn_flood(w):
    """300,000 SYNs from distinct addresses and ports to port 25."""
    legit = Interleaver(w, 20000)
    dst = ip4(SERVER)
    for i in range(300_000):
        src = bytes((10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF))
        w.frame(tcp_frame(src, dst, 1024 + (i % 60000), 25, i * 7777, 0, SYN))
        legit.tick()
    legit.finish()


def seq_jump(w):
    """Connections whose sequence numbers jump by 2^31 back and forth, with data."""
    legit = Interleaver(w, 2000)
    payload = b"RCPT TO:<x@example.com>\r\n" * 40
    for conn in range(10):
        c = Conn(w, "203.0.113.7", 51000 + conn)
        smtp_open(c)
        c.client(b"MAIL FROM:<a@example.com>\r\n")
        seq = c.cseq
        for i in range(3000):
            jump = (1 << 31) if i % 2 else 0
            w.frame(tcp_frame(c.c, c.s, c.cp, c.sp, seq + jump + i * len(payload), c.sseq,
                              PSH | ACK, payload))
            legit.tick()
    legit.finish()


def zero_window(w):
    """The server advertises a zero window; the client sends 200,000 one-byte window probes
    (the same next byte each time) before the window opens and the dialogue goes on."""
    legit = Interleaver(w, 10000)
    c = Conn(w, "203.0.113.8", 50005)
    smtp_open(c)
    c.client(b"MAIL FROM:<a@example.com>\r\n")
    c.server(b"250 OK\r\n", window=0)
    for _ in range(200_000):
        w.frame(tcp_frame(c.c, c.s, c.cp, c.sp, c.cseq, c.sseq, ACK, b"R"))
        w.frame(tcp_frame(c.s, c.c, c.sp, c.cp, c.sseq, c.cseq, ACK, window=0))
        legit.tick()
    c.client(b"RCPT TO:<bob@example.com>\r\nQUIT\r\n")
    c.server(b"250 OK\r\n221 bye\r\n")
    c.close()
    legit.finish()


SCENARIOS = {
    "long-line": long_line, "bdat-huge": bdat_huge, "many-rcpts": many_rcpts,
    "ooo-tiny": ooo_tiny, "frag-flood": frag_flood, "syn-flood": syn_flood,
    "seq-jump": seq_jump, "zero-window": zero_window,
}


def legit_only(path):
    w = PcapWriter(path)
    for step in legit_steps(w):
        step()
    w.close()
    with open(path, "rb") as f:
        return f.read()


def corrupt(kind, path):
    """Damaged captures built from the legit session's pcap."""
    good = legit_only(path)
    if kind == "bad-magic":
        data = b"\x00\x01\x02\x03" + good[4:]
    elif kind == "bad-record-length":
        # The first FIN's record (third from last, after the RCPT and its reply) claims
        # 0x7fffffff captured bytes.
        offsets, pos = [], 24
        while pos + 16 <= len(good):
            offsets.append(pos)
            pos += 16 + struct.unpack("<I", good[pos + 8:pos + 12])[0]
        pos = offsets[-3]
        data = bytearray(good)
        struct.pack_into("<II", data, pos + 8, 0x7FFFFFFF, 0x7FFFFFFF)
        data = bytes(data)
    elif kind == "caplen-over-snaplen":
        # Snaplen 64 in the header; records keep their full (larger) caplen.
        data = bytearray(good)
        struct.pack_into("<I", data, 16, 64)
        data = bytes(data)
    elif kind == "truncated":
        data = good[:len(good) - 37]
    elif kind == "truncated-header":
        data = good[:13]
    elif kind == "pcapng-unknown-blocks":
        data = to_pcapng(good, unknown=True)
    elif kind == "pcapng-huge-timestamps":
        # 64-bit microsecond times near 2^64 (found by fuzz_pcap: overflowed int64).
        data = to_pcapng(good, unknown=False, ts_base=0xFFFF_FF00_0000_0000)
    else:
        raise SystemExit("craft-hostile: unknown corrupt kind %r" % kind)
    with open(path, "wb") as f:
        f.write(data)


def to_pcapng(pcap, unknown, ts_base=0):
    """pcapng version of a classic pcap, with unknown block types between the packets."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
           block(1, struct.pack("<HHI", 1, 0, 65535))]
    pos = 24
    while pos + 16 <= len(pcap):
        sec, usec, incl, orig = struct.unpack("<IIII", pcap[pos:pos + 16])
        ts = sec * 1_000_000 + usec
        if ts_base:
            ts = ts_base + ts - T0_USEC  # same spacing, shifted to ts_base
        if unknown:
            out.append(block(0x0BAD0000 + (pos & 0xFF), b"unknown block payload"))
        out.append(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig)
                         + pcap[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return b"".join(out)


CORRUPT_KINDS = ["bad-magic", "bad-record-length", "caplen-over-snaplen", "truncated",
                 "truncated-header", "pcapng-unknown-blocks", "pcapng-huge-timestamps"]
__doc__ = __doc__ % (" ".join(SCENARIOS), " ".join(CORRUPT_KINDS))


def main(argv):
    if len(argv) == 3 and argv[0] == "--corrupt":
        corrupt(argv[1], argv[2])
        return 0
    if len(argv) != 2 or argv[0] not in SCENARIOS:
        sys.stderr.write(__doc__)
        return 2
    w = PcapWriter(argv[1])
    SCENARIOS[argv[0]](w)
    w.close()
    print(w.count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
