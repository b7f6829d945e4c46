"""A local fleet to probe: one threaded HTTP/1.1 server on 127.0.0.1 (for benchmarks).

    python bench/fleet_servers.py --slow 0.3 --hang 3 --lifetime 300

Prints "PORT <n>" once listening. Paths: /ok answers at once, /slow after --slow
seconds, /hang after --hang seconds (past the probes' timeout, yet it ends by itself).
The process exits after --lifetime seconds or as soon as its stdin closes, so it never
outlives the benchmark that started it.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"status": "ok"}'


class FleetServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096  # a burst of ~1000 connects must not overflow the backlog

    def __init__(self, slow: float, hang: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.slow = slow
        self.hang = hang


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the probe's pooled session expects
    # One send per response and no Nagle: headers and body in two segments meet the
    # client's delayed ACK and add ~40ms to every keep-alive request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: FleetServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/slow":
            time.sleep(self.server.slow)
        elif path == "/hang":
            time.sleep(self.server.hang)
        elif path != "/ok":
            self.send_error(404)
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        except OSError:
            pass  # the probe gave up long ago

    def log_message(self, *args: object) -> None:
        pass


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    _stop()


def _stop() -> None:
    sys.stdout.flush()
    os._exit(0)  # daemon handler threads may still sleep in /hang


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=float, default=0.3)
    parser.add_argument("--hang", type=float, default=3.0)
    parser.add_argument("--lifetime", type=float, default=300.0)
    args = parser.parse_args()
    server = FleetServer(args.slow, args.hang)
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    threading.Timer(args.lifetime, _stop).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
