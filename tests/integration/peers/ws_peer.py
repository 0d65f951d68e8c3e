#!/usr/bin/python3
"""WebSocket servers that are not atomcloud's, for the session's integration tests.

    ws_peer.py --cert CERT --key KEY --mode MODE

Listens on 127.0.0.1 (a free port) over TLS, prints "PORT <n>" once ready, then one line
per thing worth checking. Modes:

  script          Python's `websockets` library: after the client subscribes to device
                  A, sends fragmented and single-frame 0x06 messages of A, frames of a
                  device B nobody subscribed to, a text message and pings (between the
                  fragments of a message too); answers a 0x03 "echo" with 0x06 "echo-ack"
                  and a 0x03 "close-me" with a close frame (4000, "bye").
  close-at-once   `websockets`: every connection is closed right after the upgrade
                  (prints "CONN <seconds since start>").
  ignore-close    a raw server: answers the upgrade, sends one 0x06 message of A, then
                  reads everything and never answers a close frame.
  tls-only        a bare TLS server (for certificate tests): prints "CONN" per handshake.
"""
import argparse
import asyncio
import base64
import hashlib
import ssl
import sys
import time

A = b"18846494908532689575"
B = b"00000000000000000002"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
START = time.monotonic()


def say(*parts):
    print(*parts, flush=True)


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


async def script(ws, path=None):
    say("CONN", path or "")
    async for msg in ws:
        if isinstance(msg, str):
            continue
        kind, device, payload = msg[0], msg[1:21], msg[21:]
        if kind == 0x01 and device == A:
            say("SUBSCRIBED", device.decode())
            await ws.send([b"\x06" + A, b"o", b"ne"])          # fragmented: "one"
            pong = await ws.ping(b"hello")
            await ws.send(b"\x06" + B + b"nope")                  # not subscribed
            await ws.send(b"\x04" + B)                            # not subscribed
            await ws.send(b"\x06" + A + b"two")

            async def fragments():
                yield b"\x06" + A + b"th"
                await ws.ping(b"between")                         # between fragments
                yield b"r"
                yield b"ee"
            await ws.send(fragments())
            await ws.send("a text message")
            await ws.send(b"\x05" + A)
            await pong
            say("PONG hello")
        elif kind == 0x03 and device == A and payload == b"echo":
            await ws.send(b"\x06" + A + b"echo-ack")
        elif kind == 0x03 and device == A and payload == b"close-me":
            await ws.close(code=4000, reason="bye")
            say("CLOSED 4000")
            return


async def close_at_once(ws, path=None):
    say("CONN %.3f" % (time.monotonic() - START))
    await ws.close()


async def ignore_close(reader, writer):
    say("CONN")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await reader.read(4096)
        if not chunk:
            return
        head += chunk
    key = b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    message = b"\x06" + A + b"hi"
    writer.write(bytes([0x82, len(message)]) + message)
    await writer.drain()
    while True:  # read and ignore everything, close frames included
        if not await reader.read(65536):
            say("EOF")
            return


async def tls_only(reader, writer):
    say("CONN")
    await reader.read(65536)
    writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--mode", required=True)
    args = p.parse_args()
    ctx = tls_context(args.cert, args.key)
    if args.mode in ("script", "close-at-once"):
        import websockets
        handler = script if args.mode == "script" else close_at_once
        server = await websockets.serve(handler, "127.0.0.1", 0, ssl=ctx, max_size=2 ** 20)
    else:
        handler = ignore_close if args.mode == "ignore-close" else tls_only
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx)
    say("PORT", server.sockets[0].getsockname()[1])
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
