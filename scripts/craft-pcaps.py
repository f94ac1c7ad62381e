#!/usr/bin/python3
"""Writes the crafted edge-case SMTP captures in pcaps/ that the golden replay tests run against.

Each capture is a synthetic SMTP dialogue between documentation addresses (client 192.0.2.10 /
2001:db8::10, server 198.51.100.25 / 2001:db8::25, port 25) built packet by packet with scapy and
written to a file only: nothing is ever sent on a network. Every file is byte-identical across
runs (fixed timestamps, fixed sequence numbers, fixed IP ids, fixed seeds), so the golden outputs
the lead derives from pcaps/README.md stay valid until this script changes on purpose.

Usage: /usr/bin/python3 scripts/craft-pcaps.py [--outdir DIR] [NAME ...]
"""

import argparse
import os
import random
import struct
import sys
from dataclasses import dataclass, field

from scapy.all import (IP, TCP, UDP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, PadN, Raw, fragment, fragment6)

SEQ_MOD = 1 << 32

# pcap link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

T0_SEC = 1_700_000_000  # 2023-11-14T22:13:20Z: fixed so the files never change between runs
STEP_USEC = 1000        # one packet per millisecond, in capture order

CLIENT4, SERVER4 = "192.0.2.10", "198.51.100.25"
CLIENT6, SERVER6 = "2001:db8::10", "2001:db8::25"
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:10", "02:00:00:00:00:25"
SMTP_PORT = 25

DATE = "Tue, 14 Nov 2023 22:13:20 +0000"
BANNER = b"220 mx.example.net ESMTP ready\r\n"
EHLO_EXTENSIONS = ("PIPELINING", "SIZE 10485760", "8BITMIME")


def other(side):
    return "s" if side == "c" else "c"


@dataclass
class Segment:
    side: str           # "c" = client to server, "s" = server to client
    flags: str
    seq: int
    ack: int
    payload: bytes = b""
    ip_flags: str = "DF"


@dataclass
class TcpConversation:
    """One TCP connection as a list of segments with consistent sequence and ack numbers.

    Remembers every byte each side has sent so retransmissions and overlaps can only repeat
    exactly what was sent before (a real stack's retransmission, not an evasion attempt)."""
    client_port: int
    client_isn: int = 0x1A2B3C4D
    server_isn: int = 0x5E6F7081
    segments: list = field(default_factory=list)

    def __post_init__(self):
        self.isn = {"c": self.client_isn % SEQ_MOD, "s": self.server_isn % SEQ_MOD}
        self.next_seq = {"c": (self.isn["c"] + 1) % SEQ_MOD, "s": (self.isn["s"] + 1) % SEQ_MOD}
        self.stream = {"c": bytearray(), "s": bytearray()}

    def handshake(self):
        self.segments.append(Segment("c", "S", self.isn["c"], 0))
        self.segments.append(Segment("s", "SA", self.isn["s"], self.next_seq["c"]))
        self.segments.append(Segment("c", "A", self.next_seq["c"], self.next_seq["s"]))

    def send(self, side, data, flags="PA"):
        seg = Segment(side, flags, self.next_seq[side], self.next_seq[other(side)], bytes(data))
        self.next_seq[side] = (self.next_seq[side] + len(data)) % SEQ_MOD
        self.stream[side] += data
        self.segments.append(seg)
        return seg

    def send_chunks(self, side, data, size):
        for i in range(0, len(data), size):
            self.send(side, data[i:i + size])

    def ack(self, side):
        self.segments.append(Segment(side, "A", self.next_seq[side], self.next_seq[other(side)]))

    def offset_seq(self, side, offset):
        """Sequence number of stream byte `offset` of `side`."""
        return (self.isn[side] + 1 + offset) % SEQ_MOD

    def resend(self, side, start, end):
        """Retransmit already-sent stream bytes [start, end) of `side`."""
        assert 0 <= start < end <= len(self.stream[side])
        seg = Segment(side, "PA", self.offset_seq(side, start), self.next_seq[other(side)],
                      bytes(self.stream[side][start:end]))
        self.segments.append(seg)
        return seg

    def send_overlapping(self, side, back, data):
        """New data whose segment also repeats the last `back` bytes already sent."""
        start = len(self.stream[side]) - back
        assert bytes(self.stream[side][start:]) == data[:back]
        seg = Segment(side, "PA", self.offset_seq(side, start), self.next_seq[other(side)],
                      bytes(data))
        self.stream[side] += data[back:]
        self.next_seq[side] = self.offset_seq(side, len(self.stream[side]))
        self.segments.append(seg)
        return seg

    def close(self):
        """Client closes first, server answers with its own FIN, client acks it."""
        c, s = self.next_seq["c"], self.next_seq["s"]
        self.segments.append(Segment("c", "FA", c, s))
        self.segments.append(Segment("s", "FA", s, (c + 1) % SEQ_MOD))
        self.segments.append(Segment("c", "A", (c + 1) % SEQ_MOD, (s + 1) % SEQ_MOD))
        self.next_seq = {"c": (c + 1) % SEQ_MOD, "s": (s + 1) % SEQ_MOD}

    def play(self, turns):
        """turns: (side, bytes) sends one segment; (side, [bytes, ...]) one segment per item."""
        for side, data in turns:
            for chunk in (data if isinstance(data, list) else [data]):
                self.send(side, chunk)


# --- SMTP dialogue text -------------------------------------------------------------------------

def reply_for_rcpt(code, arg):
    if code == 250:
        return b"250 2.1.5 Ok\r\n"
    if code == 550:
        return f"550 5.1.1 {arg}: Recipient address rejected: User unknown\r\n".encode()
    raise ValueError(code)


def ehlo_reply(extensions=EHLO_EXTENSIONS):
    lines = ["mx.example.net", *extensions]
    text = "".join(f"250-{line}\r\n" for line in lines[:-1]) + f"250 {lines[-1]}\r\n"
    return text.encode()


def message(subject, to, body_lines, mail_from="sender@example.org"):
    """A message as sent after DATA, dot terminator included."""
    headers = [f"From: <{mail_from}>", f"To: {to}", f"Subject: {subject}", f"Date: {DATE}",
               f"Message-ID: <{subject.replace(' ', '-')}@client.example.org>"]
    return ("\r\n".join(headers + [""] + body_lines) + "\r\n.\r\n").encode()


def opening(helo="client.example.org", extensions=EHLO_EXTENSIONS):
    return [("s", BANNER), ("c", f"EHLO {helo}\r\n".encode()), ("s", ehlo_reply(extensions))]


def envelope(rcpts, mail_from="sender@example.org"):
    """MAIL FROM and RCPT TO turns; rcpts: [(argument after 'TO:', reply code)]."""
    turns = [("c", f"MAIL FROM:<{mail_from}>\r\n".encode()), ("s", b"250 2.1.0 Ok\r\n")]
    for arg, code in rcpts:
        turns += [("c", f"RCPT TO:{arg}\r\n".encode()), ("s", reply_for_rcpt(code, arg))]
    return turns


def data_phase(msg):
    return [("c", b"DATA\r\n"), ("s", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            ("c", msg), ("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n")]


def closing():
    return [("c", b"QUIT\r\n"), ("s", b"221 2.0.0 Bye\r\n")]


def standard_dialogue(rcpts, subject="test", mail_from="sender@example.org"):
    to = ", ".join(arg for arg, _ in rcpts)
    return (opening() + envelope(rcpts, mail_from)
            + data_phase(message(subject, to, ["Hello,", "this is a test message.", "Bye"], mail_from))
            + closing())


def standard_conversation(rcpts, client_port, subject="test", mail_from="sender@example.org"):
    conv = TcpConversation(client_port)
    conv.handshake()
    conv.play(standard_dialogue(rcpts, subject, mail_from))
    conv.close()
    return conv


OK = ("<ok@example.com>", 250)
ARMY_ML = ("<x@army.ml>", 250)
NAT0_INT = ("<y@nat0.int>", 250)


# --- packets and link layers --------------------------------------------------------------------

@dataclass
class IpIds:
    """Per-direction IPv4 identification counters, so ids are fixed and plausible."""
    next_id: dict = field(default_factory=lambda: {"c": 0x1000, "s": 0x7000})

    def take(self, side):
        value = self.next_id[side]
        self.next_id[side] += 1
        return value


def tcp_layer(seg, conv):
    sport, dport = ((conv.client_port, SMTP_PORT) if seg.side == "c"
                    else (SMTP_PORT, conv.client_port))
    options = ([("MSS", 1460), ("SAckOK", b""), ("WScale", 7)] if "S" in seg.flags else [])
    tcp = TCP(sport=sport, dport=dport, flags=seg.flags, seq=seg.seq,
              ack=seg.ack if "A" in seg.flags else 0, window=64240, options=options)
    return tcp / Raw(seg.payload) if seg.payload else tcp


def ipv4_packet(seg, conv, ids):
    src, dst = (CLIENT4, SERVER4) if seg.side == "c" else (SERVER4, CLIENT4)
    return IP(src=src, dst=dst, id=ids.take(seg.side), flags=seg.ip_flags, ttl=64) / tcp_layer(seg, conv)


def ipv6_packet(seg, conv, dest_options=False):
    src, dst = (CLIENT6, SERVER6) if seg.side == "c" else (SERVER6, CLIENT6)
    ip6 = IPv6(src=src, dst=dst, hlim=64, fl=0)
    if dest_options:
        # 2-byte header + PadN carrying 4 zero bytes = 8 bytes, the smallest legal extension header
        ip6 = ip6 / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00" * 4)])
    return ip6 / tcp_layer(seg, conv)


def ipv4_packets(conv):
    ids = IpIds()
    return [(seg.side, ipv4_packet(seg, conv, ids)) for seg in conv.segments]


def macs(side):
    return (CLIENT_MAC, SERVER_MAC) if side == "c" else (SERVER_MAC, CLIENT_MAC)


def ethernet(side, pkt):
    src, dst = macs(side)
    return bytes(Ether(src=src, dst=dst) / pkt)


def write_pcap(path, linktype, frames, snaplen=262144, t0_sec=T0_SEC):
    """Classic microsecond pcap; returns the bytes written. frames: list of bytes."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
    for i, frame in enumerate(frames):
        usec = i * STEP_USEC
        out += struct.pack("<IIII", t0_sec + usec // 1_000_000, usec % 1_000_000,
                           len(frame), len(frame))
        out += frame
    with open(path, "wb") as f:
        f.write(out)
    return bytes(out)


# --- one builder per file: returns (linktype, [frame bytes]) or writes raw bytes itself -----------

def build_vlan():
    conv = standard_conversation([OK, ARMY_ML], 40001, "vlan")
    return LINKTYPE_ETHERNET, [bytes(Ether(src=macs(side)[0], dst=macs(side)[1]) / Dot1Q(vlan=100) / pkt)
                               for side, pkt in ipv4_packets(conv)]


def build_qinq():
    conv = standard_conversation([OK, NAT0_INT], 40002, "qinq")
    return LINKTYPE_ETHERNET, [bytes(Ether(src=macs(side)[0], dst=macs(side)[1], type=0x88A8)
                                     / Dot1AD(vlan=200, type=0x8100) / Dot1Q(vlan=100) / pkt)
                               for side, pkt in ipv4_packets(conv)]


def build_sll():
    conv = standard_conversation([OK, ARMY_ML], 40003, "sll")
    # Seen on the server's "any" capture: client packets arrive (0 = to us), replies leave (4).
    return LINKTYPE_LINUX_SLL, [bytes(CookedLinux(pkttype=0 if side == "c" else 4, lladdrtype=1,
                                                  lladdrlen=6, src=bytes.fromhex(macs(side)[0].replace(":", "")),
                                                  proto=0x0800) / pkt)
                                for side, pkt in ipv4_packets(conv)]


def build_sll2():
    conv = standard_conversation([OK, NAT0_INT], 40004, "sll2")
    return LINKTYPE_LINUX_SLL2, [bytes(CookedLinuxV2(proto=0x0800, ifindex=2, lladdrtype=1,
                                                     pkttype=0 if side == "c" else 4, lladdrlen=6,
                                                     src=bytes.fromhex(macs(side)[0].replace(":", "")))
                                       / pkt)
                                 for side, pkt in ipv4_packets(conv)]


def build_raw_ipv4():
    conv = standard_conversation([OK, ARMY_ML], 40005, "raw ipv4")
    return LINKTYPE_RAW, [bytes(pkt) for _, pkt in ipv4_packets(conv)]


def build_null_loopback():
    conv = standard_conversation([OK, NAT0_INT], 40006, "null loopback")
    # BSD null header: the address family (AF_INET = 2) in the capturing host's byte order,
    # here little-endian as written by an x86 BSD/macOS host.
    return LINKTYPE_NULL, [struct.pack("<I", 2) + bytes(pkt) for _, pkt in ipv4_packets(conv)]


def build_ipv6():
    conv = standard_conversation([OK, ARMY_ML], 40007, "ipv6")
    return LINKTYPE_ETHERNET, [ethernet(seg.side, ipv6_packet(seg, conv, dest_options=True))
                               for seg in conv.segments]


def build_out_of_order():
    conv = TcpConversation(40008)
    conv.handshake()
    conv.play(opening())
    rng = random.Random(8)
    pipelined = b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<ok@example.com>\r\nRCPT TO:<x@army.ml>\r\nDATA\r\n"
    body = message("out of order", "<ok@example.com>, <x@army.ml>",
                   ["Hello,", "these segments arrive out of order.", "Bye"])
    for block, size in ((pipelined, 9), (body, 16)):
        first = len(conv.segments)
        conv.send_chunks("c", block, size)
        run = conv.segments[first:]
        original = list(run)
        while run == original:  # a fixed seed, but never keep the identity permutation
            rng.shuffle(run)
        conv.segments[first:] = run
        if block is pipelined:
            conv.send("s", b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                           b"354 End data with <CR><LF>.<CR><LF>\r\n")
        else:
            conv.send("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n")
    conv.play(closing())
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def build_retransmit():
    conv = TcpConversation(40009)
    conv.handshake()
    conv.play(opening())
    mail = conv.send("c", b"MAIL FROM:<sender@example.org>\r\n")
    conv.send("s", b"250 2.1.0 Ok\r\n")
    # First attempt carries only part of the line; the retransmission repeats it and adds the rest.
    conv.send("c", b"RCPT TO:<ok@exa")
    conv.send_overlapping("c", len(b"RCPT TO:<ok@exa"), b"RCPT TO:<ok@example.com>\r\n")
    conv.send("s", b"250 2.1.5 Ok\r\n")
    # The lookalike RCPT is retransmitted whole (its ack was lost): must still alert once only.
    rcpt = conv.send("c", b"RCPT TO:<y@nat0.int>\r\n")
    conv.segments.append(Segment(rcpt.side, rcpt.flags, rcpt.seq, rcpt.ack, rcpt.payload))
    reply = conv.send("s", b"250 2.1.5 Ok\r\n")
    conv.segments.append(Segment(reply.side, reply.flags, reply.seq, reply.ack, reply.payload))
    # A stale duplicate of an old segment long after it was acknowledged.
    conv.segments.append(Segment(mail.side, mail.flags, mail.seq, mail.ack, mail.payload))
    conv.send("c", b"DATA\r\n")
    conv.send("s", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    msg = message("retransmit", "<ok@example.com>, <y@nat0.int>",
                  ["Hello,", "some of these segments are sent twice.", "Bye"])
    half = len(msg) // 2
    start = len(conv.stream["c"])
    conv.send("c", msg[:half])
    conv.send("c", msg[half:])
    # Partial overlap: repeats the last 10 bytes of the first half and the first 10 of the second.
    conv.resend("c", start + half - 10, start + half + 10)
    conv.send("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n")
    conv.play(closing())
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def split_commands_conversation(client_isn):
    conv = TcpConversation(40010, client_isn=client_isn)
    conv.handshake()
    conv.play(opening() + envelope([OK]))
    line = b"RCPT TO:<x@army.ml>\r\n"
    line_offset = len(conv.stream["c"])
    for i in range(len(line)):
        conv.send("c", line[i:i + 1])
        if i % 4 == 3:  # delayed ACKs from the server every few bytes
            conv.ack("s")
    conv.send("s", b"250 2.1.5 Ok\r\n")
    conv.play(data_phase(message("split commands", "<ok@example.com>, <x@army.ml>",
                                 ["Hello,", "the second RCPT came one byte at a time.", "Bye"]))
              + closing())
    conv.close()
    return conv, line_offset


def build_split_commands():
    # Choose the client ISN so the 32-bit sequence number wraps inside the split RCPT line.
    _, line_offset = split_commands_conversation(0)
    isn = (SEQ_MOD - 1 - line_offset - 10) % SEQ_MOD
    conv, _ = split_commands_conversation(isn)
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def build_pipelined():
    conv = TcpConversation(40011)
    conv.handshake()
    conv.play(opening())
    conv.send("c", b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<ok@example.com>\r\n"
                   b"RCPT TO:<x@army.ml>\r\nDATA\r\n")
    conv.send("s", b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" + reply_for_rcpt(550, "<x@army.ml>")
                   + b"354 End data with <CR><LF>.<CR><LF>\r\n")
    conv.send("c", message("pipelined", "<ok@example.com>, <x@army.ml>",
                           ["Hello,", "everything in one segment.", "Bye"]) + b"QUIT\r\n")
    conv.send("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n221 2.0.0 Bye\r\n")
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def build_data_body_rcpt():
    conv = TcpConversation(40012)
    conv.handshake()
    conv.play(opening() + envelope([OK]))
    conv.send("c", b"DATA\r\n")
    conv.send("s", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    conv.send("c", b"From: <sender@example.org>\r\nTo: <ok@example.com>\r\nSubject: relay log\r\n"
                   b"Date: " + DATE.encode() + b"\r\n\r\nThe relay logged these commands:\r\n")
    # Segment starts with command-looking body lines; a dot-stuffed line; ends before the LF of CRLF.
    conv.send("c", b"RCPT TO:<fake@army.ml>\r\nRCPT TO:<fake@army.ml>\r\n"
                   b"..RCPT TO:<fake@army.ml>\r\nregards\r")
    # Rest of the terminator, then (pipelined) the next transaction in the same segment.
    conv.send("c", b"\n.\r\nMAIL FROM:<sender@example.org>\r\nRCPT TO:<y@nat0.int>\r\n")
    conv.send("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n")
    conv.play(data_phase(message("second", "<y@nat0.int>", ["second transaction"])) + closing())
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def build_fragments():
    conv = standard_conversation([OK, ARMY_ML], 40013, "fragments")
    ids = IpIds()
    frames = []
    for seg in conv.segments:
        if seg.side == "c" and seg.payload == b"RCPT TO:<x@army.ml>\r\n":
            seg.ip_flags = ""  # DF would forbid fragmenting
            pkt = ipv4_packet(seg, conv, ids)
            # 16-byte fragments: TCP header split over the first two, the address over the last two.
            pieces = fragment(pkt, fragsize=16)
            assert len(pieces) == 3
            frames += [ethernet(seg.side, piece) for piece in reversed(pieces)]
        else:
            frames.append(ethernet(seg.side, ipv4_packet(seg, conv, ids)))
    return LINKTYPE_ETHERNET, frames


def build_midstream():
    conv = TcpConversation(40014, client_isn=0x33445566, server_isn=0x77889900)
    # No handshake, no greeting, EHLO or MAIL: the capture starts at the RCPT command.
    conv.play([("c", b"RCPT TO:<x@army.ml>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:<ok@example.com>\r\n"), ("s", b"250 2.1.5 Ok\r\n")]
              + data_phase(message("midstream", "<x@army.ml>, <ok@example.com>", ["Hello"]))
              + closing())
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def build_one_sided():
    conv = standard_conversation([OK, NAT0_INT], 40015, "one sided")
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv) if side == "c"]


def build_truncated(path):
    conv = standard_conversation([OK, ARMY_ML], 40016, "truncated")
    frames = [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]
    full = write_pcap(path, LINKTYPE_ETHERNET, frames)
    # Cut inside the data of the last record (the client's final ACK), long after the RCPTs.
    cut = len(full) - len(frames[-1]) // 2
    with open(path, "wb") as f:
        f.write(full[:cut])


def build_not_a_pcap(path):
    with open(path, "wb") as f:
        f.write(b"This is not a pcap file.\n"
                b"It is plain text so the reader must reject it with an error, not crash.\n"
                b"RCPT TO:<x@army.ml>\n")


def build_quoted_local():
    rcpts = [('<"john doe"@army.ml> NOTIFY=NEVER ORCPT=rfc822;benign@example.com', 250), OK]
    conv = TcpConversation(40017)
    conv.handshake()
    conv.play(opening(extensions=("PIPELINING", "DSN", "8BITMIME")) + envelope(rcpts)
              + data_phase(message("quoted local part", '"john doe"@army.ml, <ok@example.com>',
                                   ["Hello"]))
              + closing())
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def tls_record(content_type, body):
    return bytes([content_type, 0x03, 0x03]) + struct.pack(">H", len(body)) + body


def build_starttls():
    # Connection 1: plain SMTP, a real lookalike (the positive control for this file).
    plain = standard_conversation([OK, ARMY_ML], 40018, "before starttls")
    frames = [ethernet(side, pkt) for side, pkt in ipv4_packets(plain)]
    # Connection 2: STARTTLS accepted; everything after the 220 is TLS, whatever it looks like.
    rng = random.Random(18)
    noise = lambda n: bytes(rng.randrange(256) for _ in range(n))
    tls = TcpConversation(40019, client_isn=0x0BADCAFE, server_isn=0x0DDBA11)
    tls.handshake()
    tls.play(opening(extensions=("PIPELINING", "STARTTLS", "8BITMIME"))
             + [("c", b"STARTTLS\r\n"), ("s", b"220 2.0.0 Ready to start TLS\r\n")])
    tls.send("c", tls_record(0x16, b"\x01\x00\x00\xbc\x03\x03" + noise(186)))   # "ClientHello"
    tls.send("s", tls_record(0x16, b"\x02\x00\x00\x4c\x03\x03" + noise(74)))    # "ServerHello"
    tls.send("s", tls_record(0x17, noise(120)))
    tls.send("c", tls_record(0x17, noise(40) + b"\r\nMAIL FROM:<sender@example.org>\r\n"
                                  b"RCPT TO:<hidden@army.ml>\r\n" + noise(40)))
    tls.send("c", tls_record(0x17, b"\r\nRCPT TO:<hidden@army.ml>\r\n"))
    tls.send("s", tls_record(0x17, noise(48)))
    tls.close()
    ids = IpIds()
    frames += [ethernet(seg.side, ipv4_packet(seg, tls, ids)) for seg in tls.segments]
    return LINKTYPE_ETHERNET, frames


def build_bdat():
    conv = TcpConversation(40020)
    conv.handshake()
    conv.play(opening(extensions=("PIPELINING", "CHUNKING", "8BITMIME")) + envelope([OK]))
    chunk1 = (b"From: <sender@example.org>\r\nTo: <ok@example.com>\r\nSubject: bdat\r\n\r\n"
              b"RCPT TO:<fake@army.ml>\r\nThe chunk ends in the middle of a li")
    chunk2 = b"ne.\r\nRCPT TO:<fake@army.ml>\r\nBye\r\n"
    # BDAT command and its chunk in one segment; the chunk does not end on a line boundary.
    conv.send("c", f"BDAT {len(chunk1)}\r\n".encode() + chunk1)
    conv.send("s", f"250 2.0.0 Ok: {len(chunk1)} octets received\r\n".encode())
    # Last chunk in its own segment, starting with a command-looking line.
    conv.send("c", f"BDAT {len(chunk2)} LAST\r\n".encode())
    conv.send("c", chunk2)
    conv.send("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n")
    conv.play(envelope([NAT0_INT]))
    chunk3 = b"Subject: second\r\n\r\nsecond transaction\r\n"
    conv.send("c", f"BDAT {len(chunk3)} LAST\r\n".encode() + chunk3)
    conv.send("s", b"250 2.0.0 Ok: queued as 5A6B7C8D\r\n")
    conv.play(closing())
    conv.close()
    return LINKTYPE_ETHERNET, [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


# --- stream reassembly and SMTP grammar cases (issues 3 and 4) ----------------------------------

def eth4(conv):
    return [ethernet(side, pkt) for side, pkt in ipv4_packets(conv)]


def conflict_conversation(port, first, second):
    """The client sends one RCPT line, then a different line of the same length at the same
    sequence numbers (an evasion attempt: which copy did the server keep?)."""
    assert len(first) == len(second)
    conv = TcpConversation(port)
    conv.handshake()
    conv.play(opening() + envelope([OK]))
    seg = conv.send("c", first)
    conv.segments.append(Segment("c", "PA", seg.seq, seg.ack, second))
    conv.send("s", b"250 2.1.5 Ok\r\n")
    conv.play(data_phase(message("conflict", "<ok@example.com>", ["Hello"])) + closing())
    conv.close()
    return conv


BENIGN_LINE = b"RCPT TO:<ok@example.com>\r\n"
EVIL_LINE = b"RCPT TO:<bobbie@army.ml>\r\n"


def build_overlap_conflict():
    return LINKTYPE_ETHERNET, eth4(conflict_conversation(40021, BENIGN_LINE, EVIL_LINE))


def build_overlap_conflict_reversed():
    return LINKTYPE_ETHERNET, eth4(conflict_conversation(40022, EVIL_LINE, BENIGN_LINE))


def build_gap_resync():
    # A client segment is lost (never captured) in the middle of a RCPT line; the parser must
    # drop the broken line and find the next command, whose recipient is a lookalike.
    conv = TcpConversation(40023)
    conv.handshake()
    conv.play(opening() + envelope([OK]))
    conv.send("c", b"RCPT TO:<lo")
    lost = len(conv.segments)
    conv.send("c", b"st@example.com>\r\nRCPT TO:<gone@exa")
    conv.send("c", b"mple.com>\r\nRCPT TO:<x@army.ml>\r\n")
    conv.send("s", b"250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n")
    conv.play(data_phase(message("gap", "<x@army.ml>", ["Hello"])) + closing())
    conv.close()
    del conv.segments[lost]
    return LINKTYPE_ETHERNET, eth4(conv)


def build_tuple_reuse():
    # The same 4-tuple twice: a finished connection, then a new SYN with another ISN.
    first = standard_conversation([OK], 40024, "first")
    second = TcpConversation(40024, client_isn=0x70000000, server_isn=0x10000000)
    second.handshake()
    second.play(standard_dialogue([ARMY_ML], "second"))
    second.close()
    return LINKTYPE_ETHERNET, eth4(first) + eth4(second)


def build_interleaved():
    # Two connections whose packets alternate; each must keep its own state.
    a = standard_conversation([OK, ARMY_ML], 40025, "interleaved a")
    b = standard_conversation([NAT0_INT, OK], 40026, "interleaved b")
    fa, fb = eth4(a), eth4(b)
    frames = []
    for i in range(max(len(fa), len(fb))):
        frames += fa[i:i + 1] + fb[i:i + 1]
    return LINKTYPE_ETHERNET, frames


def build_ipv6_fragments():
    conv = standard_conversation([OK, ARMY_ML], 40027, "ipv6 fragments")
    frames = []
    for seg in conv.segments:
        pkt = ipv6_packet(seg, conv)
        if seg.side == "c" and seg.payload == b"RCPT TO:<x@army.ml>\r\n":
            src, dst = CLIENT6, SERVER6
            whole = IPv6(src=src, dst=dst, hlim=64, fl=0) / IPv6ExtHdrFragment(id=0x2027) / tcp_layer(seg, conv)
            pieces = fragment6(whole, 80)  # the 41-byte TCP segment needs several fragments
            assert len(pieces) >= 2, len(pieces)
            frames += [ethernet(seg.side, piece) for piece in reversed(pieces)]
        else:
            frames.append(ethernet(seg.side, pkt))
    return LINKTYPE_ETHERNET, frames


def build_tso_superframe():
    # A host-side capture (TSO/GRO): one 60 KB "segment" with a whole message body, its end,
    # and the next pipelined transaction with a lookalike, as a TC hook or tcpdump on the
    # sending host sees it before the NIC cuts it up.
    conv = TcpConversation(40028)
    conv.handshake()
    conv.play(opening() + envelope([OK]))
    conv.send("c", b"DATA\r\n")
    conv.send("s", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    line = b"0123456789" * 7 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * 840 + b"RCPT TO:<inbody@army.ml>\r\n" + b".\r\n"
    tail = b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<x@army.ml>\r\n"
    conv.send("c", body + tail)
    assert 60_000 < len(body + tail) < 65_000
    conv.send("s", b"250 2.0.0 Ok: queued as 4F1A2B3C\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n")
    conv.play(data_phase(message("after tso", "<x@army.ml>", ["Hello"])) + closing())
    conv.close()
    return LINKTYPE_ETHERNET, eth4(conv)


def build_smtp_grammar():
    # Address forms passive parsers get wrong, AUTH continuations, RSET, STARTTLS refused.
    conv = TcpConversation(40029)
    conv.handshake()
    conv.play(opening(extensions=("PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS", "SMTPUTF8",
                                  "DSN", "8BITMIME")))
    conv.play([("c", b"STARTTLS\r\n"), ("s", b"454 4.7.0 TLS not available due to local problem\r\n"),
               ("c", b"AUTH LOGIN\r\n"), ("s", b"334 VXNlcm5hbWU6\r\n"),
               ("c", b"UkNQVCBUTzo8YXV0aEBhcm15Lm1sPg==\r\n"), ("s", b"334 UGFzc3dvcmQ6\r\n"),
               ("c", b"c2VjcmV0\r\n"), ("s", b"235 2.7.0 Authentication successful\r\n"),
               # transaction 1 is abandoned with RSET: its recipient was still sent to the server
               ("c", b"MAIL FROM:<sender@example.org>\r\n"), ("s", b"250 2.1.0 Ok\r\n"),
               ("c", b"RCPT TO:<reset@nat0.int>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RSET\r\n"), ("s", b"250 2.0.0 Ok\r\n"),
               ("c", "MAIL FROM:<s\u00e9nder@example.org> SMTPUTF8\r\n".encode()),
               ("s", b"250 2.1.0 Ok\r\n"),
               ("c", b"RCPT TO:<@relay.example.org,@hop.example.net:routed@army.ml>\r\n"),
               ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:<postmaster@[192.0.2.1]>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:<ops@[IPv6:2001:db8::1]>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO: <spaced@nat0.int>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:bare@army.ml\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:<dot@army.ml.>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"rcpt to:<LOWER@ARMY.ML>\r\n"), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", "RCPT TO:<j\u00f6rg@n\u0430to.int>\r\n".encode()), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b'RCPT TO:<"a>b@c"@army.ml>\r\n'), ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:<ok@example.com> ORCPT=rfc822;x@army.ml NOTIFY=FAILURE\r\n"),
               ("s", b"250 2.1.5 Ok\r\n"),
               ("c", b"RCPT TO:<denied@army.ml>\r\n"),
               ("s", b"550 5.7.1 <denied@army.ml>: Relay access denied\r\n")]
              + data_phase(message("grammar", "many", ["RCPT TO:<body@army.ml>", "Bye"]))
              + closing())
    conv.close()
    return LINKTYPE_ETHERNET, eth4(conv)


# --- DNS and encrypted SMTP (issue 11) -----------------------------------------------------------

RESOLVER4 = "192.0.2.53"
LOOKALIKE_MX4 = "203.0.113.7"   # mx.army.ml in dns-mx-starttls
BENIGN_MX4 = "198.51.100.26"    # mx.example.com in dns-clean


def dns_name(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00"


def dns_message(ident, flags, questions, answers=(), additional=()):
    """questions: [(name, type)]; records: (name_bytes, type, ttl, rdata) with name_bytes
    already encoded (so tests can use compression pointers)."""
    out = struct.pack(">HHHHHH", ident, flags, len(questions), len(answers), 0, len(additional))
    for name, qtype in questions:
        out += dns_name(name) + struct.pack(">HH", qtype, 1)
    for name, rtype, ttl, rdata in list(answers) + list(additional):
        out += name + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return out


PTR_QNAME = b"\xc0\x0c"  # compression pointer to the question name at offset 12
TYPE_A, TYPE_MX, TYPE_AAAA = 1, 15, 28


def mx_target_pointer(qname):
    """Pointer to the MX target of a one-question, one-MX-answer response: header (12) +
    question + answer name pointer (2) + type/class/ttl/rdlength (10) + preference (2)."""
    return struct.pack(">H", 0xC000 | (12 + len(dns_name(qname)) + 4 + 2 + 10 + 2))


def udp_frame(src, sport, dst, dport, payload, ip_id):
    side = "c" if src.startswith("192.0.2.10") else "s"
    return ethernet(side, IP(src=src, dst=dst, id=ip_id, flags="DF", ttl=64)
                    / UDP(sport=sport, dport=dport) / Raw(payload))


def tcp_frames(conv, server, port):
    """Ethernet frames of a conversation with a server other than SERVER4:25."""
    ids = IpIds()
    frames = []
    for seg in conv.segments:
        src, dst = (CLIENT4, server) if seg.side == "c" else (server, CLIENT4)
        sport, dport = (conv.client_port, port) if seg.side == "c" else (port, conv.client_port)
        options = [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)] if "S" in seg.flags else []
        tcp = TCP(sport=sport, dport=dport, flags=seg.flags, seq=seg.seq,
                  ack=seg.ack if "A" in seg.flags else 0, window=64240, options=options)
        if seg.payload:
            tcp = tcp / Raw(seg.payload)
        frames.append(ethernet(seg.side, IP(src=src, dst=dst, id=ids.take(seg.side), flags="DF",
                                            ttl=64) / tcp))
    return frames


def client_hello(server_name):
    """A TLS 1.2/1.3 ClientHello record: fixed random, two suites, server_name (+ an empty
    supported_groups-like extension before it, so SNI is not the first extension)."""
    sni = server_name.encode()
    sni_ext = struct.pack(">HH", 0, len(sni) + 5) + struct.pack(">HBH", len(sni) + 3, 0, len(sni)) + sni
    other_ext = struct.pack(">HH", 10, 4) + struct.pack(">HH", 2, 0x001d)
    exts = other_ext + sni_ext
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack(">H", 4) + b"\x13\x01\x13\x02"
            + b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
    return tls_record(0x16, b"\x01" + struct.pack(">I", len(body))[1:] + body)


def starttls_session(client_port, server_host, sni, client_isn, server_isn, seed):
    rng = random.Random(seed)
    noise = lambda n: bytes(rng.randrange(256) for _ in range(n))
    conv = TcpConversation(client_port, client_isn=client_isn, server_isn=server_isn)
    conv.handshake()
    conv.play([("s", f"220 {server_host} ESMTP ready\r\n".encode()),
               ("c", b"EHLO client.example.org\r\n"),
               ("s", f"250-{server_host} Hello client.example.org\r\n250-PIPELINING\r\n"
                     "250-STARTTLS\r\n250 8BITMIME\r\n".encode()),
               ("c", b"STARTTLS\r\n"), ("s", b"220 2.0.0 Ready to start TLS\r\n")])
    conv.send("c", client_hello(sni))
    conv.send("s", tls_record(0x16, b"\x02\x00\x00\x4c\x03\x03" + noise(74)))
    conv.send("c", tls_record(0x17, noise(64)))
    conv.send("s", tls_record(0x17, noise(48)))
    conv.close()
    return conv


def build_dns_mx_starttls():
    # The sending MTA resolves army.ml MX (answer compressed against the question), gets
    # mx.army.ml with its address in the additional section, then connects with STARTTLS.
    query = dns_message(0x4d58, 0x0100, [("army.ml", TYPE_MX)])
    mx_rdata = struct.pack(">H", 10) + b"\x02mx" + PTR_QNAME   # mx.army.ml, compressed
    response = dns_message(0x4d58, 0x8180, [("army.ml", TYPE_MX)],
                           answers=[(PTR_QNAME, TYPE_MX, 300, mx_rdata)],
                           additional=[(mx_target_pointer("army.ml"), TYPE_A, 300,
                                        bytes([203, 0, 113, 7]))])
    frames = [udp_frame(CLIENT4, 53001, RESOLVER4, 53, query, 0x2000),
              udp_frame(RESOLVER4, 53, CLIENT4, 53001, response, 0x6000)]
    conv = starttls_session(40030, "mx.army.ml", "mx.army.ml", 0x11111111, 0x22222222, 30)
    frames += tcp_frames(conv, LOOKALIKE_MX4, SMTP_PORT)
    return LINKTYPE_ETHERNET, frames


def build_dns_clean():
    query = dns_message(0x1001, 0x0100, [("example.com", TYPE_MX)])
    mx_rdata = struct.pack(">H", 10) + b"\x02mx" + PTR_QNAME
    response = dns_message(0x1001, 0x8180, [("example.com", TYPE_MX)],
                           answers=[(PTR_QNAME, TYPE_MX, 300, mx_rdata)],
                           additional=[(mx_target_pointer("example.com"), TYPE_A, 300,
                                        bytes([198, 51, 100, 26]))])
    frames = [udp_frame(CLIENT4, 53002, RESOLVER4, 53, query, 0x2000),
              udp_frame(RESOLVER4, 53, CLIENT4, 53002, response, 0x6000)]
    conv = starttls_session(40031, "mx.example.com", "mx.example.com", 0x33333333, 0x44444444, 31)
    frames += tcp_frames(conv, BENIGN_MX4, SMTP_PORT)
    return LINKTYPE_ETHERNET, frames


def build_dns_tcp():
    # DNS over TCP: two pipelined queries in one segment (nat0.int A and AAAA); the answers
    # come back with the first split between two segments, inside its length prefix.
    q1 = dns_message(0x0a01, 0x0100, [("nat0.int", TYPE_A)])
    q2 = dns_message(0x0a02, 0x0100, [("nat0.int", TYPE_AAAA)])
    r1 = dns_message(0x0a01, 0x8180, [("nat0.int", TYPE_A)],
                     answers=[(PTR_QNAME, TYPE_A, 600, bytes([203, 0, 113, 9]))])
    r2 = dns_message(0x0a02, 0x8180, [("nat0.int", TYPE_AAAA)],
                     answers=[(PTR_QNAME, TYPE_AAAA, 600,
                               bytes.fromhex("20010db8000000000000000000000009"))])
    framed = lambda m: struct.pack(">H", len(m)) + m
    conv = TcpConversation(40032, client_isn=0x55555555, server_isn=0x66666666)
    conv.handshake()
    conv.send("c", framed(q1) + framed(q2))
    both = framed(r1) + framed(r2)
    conv.send("s", both[:1])
    conv.send("s", both[1:20])
    conv.send("s", both[20:])
    conv.close()
    return LINKTYPE_ETHERNET, tcp_frames(conv, RESOLVER4, 53)


# --- learned protection (--learn, issue 11): a history of correspondence, then typos -------------
# One connection per message, each to its own MX (198.51.100.100 + n), so that with --workers
# the sessions are spread over the workers. Replayed with --learn by tests/learn/learn_replay.sh.

LEARN_TYPO_T0_SEC = T0_SEC + 86_400  # the typo capture is a day after the history


def learn_sessions(sessions, first_port):
    """sessions: [(mail_from, [(rcpt argument, reply code)])]; Ethernet frames, one after another."""
    frames = []
    for i, (mail_from, rcpts) in enumerate(sessions):
        conv = standard_conversation(rcpts, first_port + i, f"learn {first_port + i}", mail_from)
        frames += tcp_frames(conv, f"198.51.100.{100 + (first_port + i) % 100}", SMTP_PORT)
    return frames


def build_learn_history():
    partner = lambda local: (f"<{local}@partner-firm.example>", 250)
    contoso = lambda local: (f"<{local}@contoso-defence.co.uk>", 250)
    rejected = ("<no@rejected-only.example>", 550)
    sessions = [
        ("alice@example.org", [partner("bob")]),
        ("carol@example.org", [partner("bob"), partner("sales")]),   # one message, two recipients
        ("dave@example.org", [contoso("ops")]),
        ("alice@example.org", [contoso("ops"), contoso("x")]),
        ("dave@example.org", [partner("sales")]),
        ("alice@example.org", [partner("bob")]),
        ("dave@example.org", [contoso("ops")]),
        ("carol@example.org", [partner("bob")]),
        ("alice@example.org", [contoso("ops"), ("<hello@once-only.example>", 250)]),
        ("dave@example.org", [rejected]),
        ("alice@example.org", [partner("bob")]),
        ("carol@example.org", [rejected]),
        ("dave@example.org", [contoso("ops")]),
        ("alice@example.org", [rejected]),
        ("dave@example.org", [rejected]),
        ("carol@example.org", [rejected]),
    ]
    return LINKTYPE_ETHERNET, learn_sessions(sessions, 40100)


def build_learn_typo():
    query = dns_message(0x7001, 0x0100, [("partner-frim.example", TYPE_MX)])
    frames = [udp_frame(CLIENT4, 53010, RESOLVER4, 53, query, 0x2100)]
    frames += learn_sessions([
        ("alice@example.org", [("<bob@partner-frim.example>", 250)]),
        ("carol@example.org", [("<ops@contoso-defense.co.uk>", 250)]),
        ("dave@example.org", [("<hello@brand-new-unrelated.example>", 250)]),
        ("alice@example.org", [("<bob@partner-firm.example>", 250)]),
        ("carol@example.org", [("<new@once-only.example>", 250)]),
        ("dave@example.org", [ARMY_ML]),
    ], 40150)
    return LINKTYPE_ETHERNET, frames, LEARN_TYPO_T0_SEC


BUILDERS = {
    "vlan": build_vlan,
    "qinq": build_qinq,
    "sll": build_sll,
    "sll2": build_sll2,
    "raw-ipv4": build_raw_ipv4,
    "null-loopback": build_null_loopback,
    "ipv6": build_ipv6,
    "out-of-order": build_out_of_order,
    "retransmit": build_retransmit,
    "split-commands": build_split_commands,
    "pipelined": build_pipelined,
    "data-body-rcpt": build_data_body_rcpt,
    "fragments": build_fragments,
    "midstream": build_midstream,
    "one-sided": build_one_sided,
    "truncated": build_truncated,
    "not-a-pcap": build_not_a_pcap,
    "quoted-local": build_quoted_local,
    "starttls": build_starttls,
    "bdat": build_bdat,
    "overlap-conflict": build_overlap_conflict,
    "overlap-conflict-reversed": build_overlap_conflict_reversed,
    "gap-resync": build_gap_resync,
    "tuple-reuse": build_tuple_reuse,
    "interleaved": build_interleaved,
    "ipv6-fragments": build_ipv6_fragments,
    "tso-superframe": build_tso_superframe,
    "smtp-grammar": build_smtp_grammar,
    "dns-mx-starttls": build_dns_mx_starttls,
    "dns-clean": build_dns_clean,
    "dns-tcp": build_dns_tcp,
    "learn-history": build_learn_history,
    "learn-typo": build_learn_typo,
}
WRITES_ITSELF = {"truncated", "not-a-pcap"}


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default=os.path.join(repo_root, "pcaps"))
    parser.add_argument("names", nargs="*", help=f"subset of: {' '.join(BUILDERS)}")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BUILDERS]
    if unknown:
        parser.error(f"unknown capture(s): {' '.join(unknown)}")
    os.makedirs(args.outdir, exist_ok=True)
    for name in args.names or BUILDERS:
        path = os.path.join(args.outdir, f"{name}.pcap")
        if name in WRITES_ITSELF:
            BUILDERS[name](path)
        else:
            linktype, frames, *t0 = BUILDERS[name]()  # a builder may give its own start time
            write_pcap(path, linktype, frames, t0_sec=t0[0] if t0 else T0_SEC)
        print(f"{path}: {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
