#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A tcpy client written from the wire format (PROTOCOL.md section 8): a
# 4-byte big-endian length, then a MessagePack map. Debian's python3-msgpack.
# Usage: tcpy_client.py PORT < requests.jsonl; prints each answer as JSON.
# A request line {"__raw": "HEX"} sends those bytes as they are; a line with
# "__noreply": true is sent without reading an answer; {"__read": true} sends
# nothing and reads one frame (a handler's send(), a progress frame).
import json
import socket
import struct
import sys

import msgpack


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def recv_frame(s):
    head = recv_exact(s, 4)
    if head is None:
        return None
    body = recv_exact(s, struct.unpack(">I", head)[0])
    return None if body is None else msgpack.unpackb(body, raw=False)


def main():
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
    for line in sys.stdin:
        req = json.loads(line)
        noreply = req.pop("__noreply", False)
        if req.get("__read"):
            pass
        elif "__raw" in req:
            s.sendall(bytes.fromhex(req["__raw"]))
        else:
            body = msgpack.packb(req, use_bin_type=True)
            s.sendall(struct.pack(">I", len(body)) + body)
        if noreply:
            continue
        answer = recv_frame(s)
        print(json.dumps(answer if answer is not None else "closed", sort_keys=True), flush=True)
        if answer is None:
            break
    # After a refused frame the server closes: say so.
    if len(sys.argv) > 2 and sys.argv[2] == "expect-close":
        print(json.dumps("closed" if recv_frame(s) is None else "open"), flush=True)


main()
