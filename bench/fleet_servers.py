"""A local fleet to probe: many independent HTTP/1.1 endpoints on 127.0.0.1 (for benchmarks).

    python bench/fleet_servers.py --ports 100 --slow 0.3 --hang 3 --lifetime 300 [--tls DIR]

One asyncio process listens on --ports ports (keep-alive, one write per response) and prints
"PORTS <n> <n> ...", then "CERT <path>" with --tls (an ECDSA P-256 certificate made in DIR).
Paths: /ok answers at once, /slow after --slow seconds, /hang after --hang seconds (past the
probes' timeout, yet it ends by itself), /flip like /ok until a request to /outage, then like
/hang (and /recover undoes it). The process exits after --lifetime seconds or as soon as
its stdin closes, so it never outlives the benchmark that started it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import ssl
import sys
import threading
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: `import sandbox`

from sandbox.certificates import self_signed  # noqa: E402

BODY = b'{"status": "ok"}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


class Fleet:
    def __init__(self, slow: float, hang: float) -> None:
        self.slow = slow
        self.hang = hang
        self.outage = False

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].split(b"?", 1)[0]
                if path == b"/slow":
                    await asyncio.sleep(self.slow)
                elif path == b"/hang" or (path == b"/flip" and self.outage):
                    await asyncio.sleep(self.hang)
                elif path == b"/outage":
                    self.outage = True
                elif path == b"/recover":
                    self.outage = False
                writer.write(OK)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError):
            pass
        finally:
            writer.transport.abort()


async def main_async(args: argparse.Namespace) -> None:
    fleet = Fleet(args.slow, args.hang)
    context: Optional[ssl.SSLContext] = None
    if args.tls:
        cert, key = self_signed(Path(args.tls), datetime.timedelta(days=30), stem="fleet-")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    servers = [
        await asyncio.start_server(fleet.serve, "127.0.0.1", 0, ssl=context, backlog=4096)
        for _ in range(args.ports)
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print("PORTS " + " ".join(map(str, ports)), flush=True)
    if args.tls:
        print(f"CERT {cert}", flush=True)
    await asyncio.sleep(args.lifetime)


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", type=int, default=100)
    parser.add_argument("--slow", type=float, default=0.3)
    parser.add_argument("--hang", type=float, default=3.0)
    parser.add_argument("--lifetime", type=float, default=300.0)
    parser.add_argument("--tls", help="a directory for the certificate: serve HTTPS")
    args = parser.parse_args()
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    asyncio.run(main_async(args))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
