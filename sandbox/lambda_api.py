"""Lambda's Invoke API on 127.0.0.1, answered by the sandbox's runtime.

moto's Lambda would run each function in a Docker container of its own, away from the world's
in-process state and not available here; this answers the one call operators make, `Invoke`
(POST /2015-03-31/functions/<name>/invocations), with the same handlers the runtime runs. A name
may be the deployed one (`autoheal-dev-probe`) or the Chalice one (`probe`). Point boto3 or the
AWS CLI at it with AWS_ENDPOINT_URL_LAMBDA (`python -m sandbox` prints it).

>>> with LambdaApi(runtime) as api: boto3.client("lambda", endpoint_url=api.url).invoke(...)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from sandbox.ports import LOOPBACK

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
DEPLOYED_NAME = re.compile(r"^autoheal-[a-z][a-z0-9]*-(?P<function>[a-z_]+)$")
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's own limit for a synchronous request


class LambdaApi:
    def __init__(self, runtime: Any, port: int = 0) -> None:
        self.runtime = runtime
        self.server = ThreadingHTTPServer((LOOPBACK, port), self._handler())
        self.server.daemon_threads = True
        self.thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def start(self) -> LambdaApi:
        self.thread = threading.Thread(target=self.server.serve_forever, name="lambda-api", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LambdaApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def function(self, name: str) -> Optional[str]:
        match = DEPLOYED_NAME.match(name)
        found = match.group("function") if match else name
        return found if found in self.runtime.handlers else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the runtime reports invocations
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                path = INVOKE_PATH.match(self.path.split("?", 1)[0])
                function = api.function(path.group(1)) if path else None
                if function is None:
                    name = path.group(1) if path else self.path
                    return self.answer(
                        404,
                        {"Type": "User", "message": f"Function not found: {name}"},
                        {"x-amzn-ErrorType": "ResourceNotFoundException"},
                    )
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD:
                    return self.answer(
                        413,
                        {"message": "payload over 6 MB"},
                        {"x-amzn-ErrorType": "RequestTooLargeException"},
                    )
                try:
                    event = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self.answer(
                        400,
                        {"message": "payload is not JSON"},
                        {"x-amzn-ErrorType": "InvalidRequestContentException"},
                    )
                invocation = api.runtime.invoke(function, event)
                if invocation.error:
                    last = invocation.error.strip().splitlines()[-1]
                    body = {"errorMessage": last, "errorType": last.split(":", 1)[0]}
                    return self.answer(200, body, {"X-Amz-Function-Error": "Unhandled"})
                return self.answer(200, invocation.result, {"X-Amz-Executed-Version": "$LATEST"})

            def answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
