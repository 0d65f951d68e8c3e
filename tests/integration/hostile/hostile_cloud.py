#!/usr/bin/env python3
"""A hostile Atom Cloud for the CLI's tests: HTTPS on 127.0.0.1 with a fresh
self-signed certificate, answering like the platform but with what a broken or
malicious server would send.

    hostile_cloud.py DIR

writes DIR/cert.pem (the certificate to trust) and DIR/key.pem, prints
"port=N" once it listens, and serves until it is killed. Endpoints:

- /api/orgs/:org/devicepacket/:number   history pages that never end: every
  page is full and total_page is huge; times go back one millisecond per
  packet, so each packet is new to a history walk. ?limit= sets the page size.
- /api/orgs/:org/devicestate/:id        a state string with terminal escapes.
- /api/orgs/:org/groups/:group/devices  a device whose number, name and
  show_id carry terminal escapes.
- anything else                         code 201 with an escaped message.
"""
import asyncio
import datetime
import json
import os
import ssl
import subprocess
import sys
import urllib.parse

# Sets the window title, clears the screen, and forges a line.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\r\nFAKE"
PAYLOAD_BYTES = 128
NEWEST = datetime.datetime(2018, 8, 11, 17, 0, 0,
                           tzinfo=datetime.timezone(datetime.timedelta(hours=8)))


def make_certificate(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=hostile",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def envelope(data, code=200, message=""):
    return json.dumps({"code": code, "message": message, "data": data},
                      ensure_ascii=False).encode()


# Packet k's payload is bytes k, k+1, ... (mod 256): 256 different hex texts.
HEX = [" ".join("%02X" % ((k + i) & 0xFF) for i in range(PAYLOAD_BYTES)) for k in range(256)]


def history_page(number, page, limit):
    items = []
    first = (page - 1) * limit
    for k in range(first, first + limit):
        when = NEWEST - datetime.timedelta(milliseconds=k)
        items.append({
            "time": when.isoformat(timespec="microseconds"),
            "hex_packet": HEX[k & 0xFF],
            "length": PAYLOAD_BYTES,
            "number": number,
        })
    total_page = 1 << 40
    return envelope({"current_page": page, "total_page": total_page,
                     "total_item": total_page * limit, "page_limit": limit,
                     "items": items})


def answer(target):
    url = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(url.query)
    parts = url.path.strip("/").split("/")
    if len(parts) == 5 and parts[:2] == ["api", "orgs"] and parts[3] == "devicepacket":
        page = int(query.get("page", ["1"])[0])
        limit = int(query.get("limit", ["30"])[0])
        return history_page(urllib.parse.unquote(parts[4]), page, limit)
    if len(parts) == 5 and parts[:2] == ["api", "orgs"] and parts[3] == "devicestate":
        return envelope(ESCAPES)
    if len(parts) == 6 and parts[:2] == ["api", "orgs"] and parts[5] == "devices":
        return envelope([{"id": 7, "show_id": ESCAPES, "name": ESCAPES,
                          "number": "1234567890\x1b[2J\r\nFAKE"}])
    return envelope(None, 201, ESCAPES)


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            body = answer(target)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, IndexError):
        pass
    finally:
        writer.close()


async def main():
    cert, key = make_certificate(sys.argv[1])
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    print("port=%d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
