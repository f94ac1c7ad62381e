#!/usr/bin/python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/ from pcaps/, rules/ and the
unit tests' kinds of input, each in the input format its fuzz target expects. Deterministic:
re-running it rewrites the same files. Usage: fuzz/make-seeds.py [REPO_DIR]"""
import hashlib
import os
import struct
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
# Index into fuzz_decoder.cpp's kLinkTypes for each pcap link type.
DECODER_LINK_INDEX = {0: 0, 1: 1, 12: 2, 14: 3, 101: 4, 108: 5, 113: 6, 228: 7, 229: 8, 276: 9}


def write(target, data, name=None):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read_pcap(path):
    """(link type, [(ts_usec, frame)]) of a classic little/big-endian pcap, or None."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 24:
        return None
    magic = blob[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    link = struct.unpack(e + "I", blob[20:24])[0] & 0x0FFFFFFF
    pos, frames = 24, []
    while pos + 16 <= len(blob):
        sec, usec, incl, _orig = struct.unpack(e + "IIII", blob[pos:pos + 16])
        frames.append((sec * 1000000 + usec, blob[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return link, frames


def tcp_payloads(link, frames):
    """(to_server, payload) for IPv4/Ethernet TCP frames with data (good enough for seeds)."""
    out = []
    for _ts, fr in frames:
        off = {1: 14, 101: 0, 228: 0, 113: 16}.get(link)
        if off is None or len(fr) < off + 20:
            continue
        ip = fr[off:]
        if link == 1 and fr[12:14] != b"\x08\x00":
            continue
        if ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        dport = struct.unpack(">H", tcp[2:4])[0]
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:struct.unpack(">H", ip[2:4])[0] - ihl]
        if payload:
            out.append((dport in (25, 587, 2525), bytes(payload)))
    return out


def session_script(payloads):
    """fuzz_session format: limits bytes, then [kind<<6 | len-1][bytes] chunks."""
    out = bytearray([200, 0xFF])
    for to_server, data in payloads:
        for i in range(0, len(data), 64):
            chunk = data[i:i + 64]
            out.append((0 if to_server else 1) << 6 | (len(chunk) - 1))
            out += chunk
    return bytes(out)


def main():
    pcaps = sorted(f for f in os.listdir(os.path.join(ROOT, "pcaps")) if f.endswith(".pcap"))
    for name in pcaps:
        path = os.path.join(ROOT, "pcaps", name)
        with open(path, "rb") as f:
            blob = f.read()
        if len(blob) <= 20000:
            write("pcap", blob, name)
        parsed = read_pcap(path)
        if not parsed:
            continue
        link, frames = parsed
        if link in DECODER_LINK_INDEX:
            # Up to 24 frames of at most 255 bytes each, length-prefixed.
            seed = bytearray([DECODER_LINK_INDEX[link], 1])
            for _ts, fr in frames[:24]:
                fr = fr[:255]
                seed.append(len(fr))
                seed += fr
            write("decoder", bytes(seed), name)
        payloads = tcp_payloads(link, frames)
        if payloads:
            write("session", session_script(payloads), name)

    # A pcapng file with a section header, an interface, one enhanced packet and an unknown block.
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 65535))
    demo = read_pcap(os.path.join(ROOT, "pcaps", "demo.pcap"))
    frame = demo[1][3][1] if demo else b"\0" * 60
    epb = block(6, struct.pack("<IIIII", 0, 0, 1000, len(frame), len(frame)) + frame)
    unknown = block(0x0BADCAFE, b"hello unknown block")
    write("pcap", shb + idb + unknown + epb, "pcapng-unknown-block")

    # Fragments: [flags][offset hi][offset lo][length][bytes]; flags bit 2 = MF.
    write("fragments", bytes([0x04, 0, 0, 16]) + b"A" * 16 + bytes([0x00, 0, 2, 8]) + b"B" * 8, "two-in-order")
    write("fragments", bytes([0x00, 0, 2, 8]) + b"B" * 8 + bytes([0x04, 0, 0, 16]) + b"A" * 16, "two-reversed")
    write("fragments", bytes([0x04, 0, 0, 24]) + b"A" * 24 + bytes([0x04, 0, 1, 16]) + b"C" * 16
          + bytes([0x00, 0, 3, 8]) + b"D" * 8, "overlap")
    write("fragments", bytes([0x0C, 0, 0, 8]) + b"6" * 8 + bytes([0xF9, 0, 1, 8]) + b"x" * 8, "ipv6-and-timeout")

    # Stream: 5-byte header (tail flag, ISN), then [op][seq hi][seq lo][len][bytes].
    isn = b"\x01\xff\xff\xff\xf0"
    write("stream", isn + bytes([5, 0, 0, 0]) + bytes([0, 0, 0, 5]) + b"HELO " + bytes([0, 0, 5, 3]) + b"x\r\n", "in-order")
    write("stream", isn + bytes([5, 0, 0, 0]) + bytes([0, 0, 5, 3]) + b"x\r\n" + bytes([0, 0, 0, 5]) + b"HELO ", "reordered")
    write("stream", isn + bytes([0, 0, 0, 4]) + b"abcd" + bytes([0, 0, 2, 4]) + b"cXef" + bytes([7, 0, 0, 0]), "conflict-flush")
    write("stream", isn + bytes([0, 0, 0, 4]) + b"abcd" + bytes([0xF8, 0, 1, 4]) + b"jump" + bytes([6, 0, 0, 0]), "jump-2^31")

    # Addresses: keyword selector byte then the argument after the verb.
    for i, arg in enumerate([b":<john.doe@army.ml>", b": <\"john doe\"@army.ml> NOTIFY=NEVER ORCPT=rfc822;x@y",
                             b":<>", b":<@a.example,@b.example:user@nato.int>", b":user@[192.0.2.1]",
                             b":<user@d\xc3\xa9fense.gov> SMTPUTF8", b":<unterminated@x", b"<a@b>"]):
        write("address", bytes([i & 1]) + arg, "addr-%d" % i)

    # Matcher: recipient domains of every technique, IDNs, malformed punycode, edge lengths.
    for i, d in enumerate(["army.ml", "army.com", "mail.army.com", "nato-login.int", "loginnato.int", "natologin.int",
                           "rolls-login.com", "login-royce.com", "canada.gc.com", "se.ibm.net", "seibm.com",
                           "army.mil.com", "arrny.mil", "xn--80ak6aa92e.com", "xn---nchen-3ya.de", "xn--zz.ml",
                           "b\u00fccher-login.de", "nato.int.", "-.-.-", "a" * 63 + "." + "b" * 63 + ".com",
                           ".".join(["x"] * 127), "intranet-nato.int", "staff-portal-rolls-royce.com"]):
        write("matcher", d.encode("utf-8"), "domain-%d" % i)

    # Rules: the shipped rule files.
    for name in sorted(os.listdir(os.path.join(ROOT, "rules"))):
        if name.endswith(".rules"):
            with open(os.path.join(ROOT, "rules", name), "rb") as f:
                text = f.read()
            if b"include" not in text.lower():
                write("rules", text, name)


if __name__ == "__main__":
    main()
