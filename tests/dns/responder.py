#!/usr/bin/python3
"""responder.py ZONE LOG: a small UDP DNS server on 127.0.0.1:53 for the
resolver tests (spec/dns_spec.lua runs it inside a private network
namespace, so nothing leaves the machine).

ZONE lines: "NAME A 10.0.0.1", "NAME AAAA fd00::1", "NAME DROP" (never
answers), "NAME DELAY SECONDS" (answers its records that late). A name not
in the zone gets NXDOMAIN; a known name without records of the asked type
gets an empty answer. Every query is appended to LOG as "NAME TYPE".
Prints "ready" once it listens.
"""
import socket
import struct
import sys
import threading

TYPES = {1: "A", 28: "AAAA"}


def load(path):
    zone = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            rec = zone.setdefault(parts[0].lower().rstrip("."), {"A": [], "AAAA": []})
            if parts[1] in ("A", "AAAA"):
                rec[parts[1]].append(parts[2])
            elif parts[1] == "DROP":
                rec["drop"] = True
            elif parts[1] == "DELAY":
                rec["delay"] = float(parts[2])
    return zone


def parse_question(msg):
    labels, i = [], 12
    while msg[i]:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype, _qclass = struct.unpack("!HH", msg[i + 1:i + 5])
    return ".".join(labels).lower(), qtype, msg[12:i + 5]


def answer(msg, zone):
    name, qtype, question = parse_question(msg)
    rec = zone.get(name)
    rcode = 0 if rec is not None else 3
    answers = b""
    count = 0
    if rec is not None and qtype in TYPES:
        for value in rec[TYPES[qtype]]:
            family = socket.AF_INET if qtype == 1 else socket.AF_INET6
            data = socket.inet_pton(family, value)
            answers += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(data)) + data
            count += 1
    flags = 0x8180 | rcode
    header = struct.pack("!HHHHHH", struct.unpack("!H", msg[:2])[0], flags, 1, count, 0, 0)
    return name, qtype, rec, header + question + answers


def main():
    zone = load(sys.argv[1])
    log = open(sys.argv[2], "a", buffering=1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))
    print("ready", flush=True)
    while True:
        msg, peer = sock.recvfrom(4096)
        try:
            name, qtype, rec, reply = answer(msg, zone)
        except (IndexError, struct.error):
            continue
        log.write("%s %s\n" % (name, TYPES.get(qtype, qtype)))
        if rec is not None and rec.get("drop"):
            continue
        if rec is not None and rec.get("delay"):
            threading.Timer(rec["delay"], sock.sendto, (reply, peer)).start()
        else:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
