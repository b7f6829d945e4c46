"""A bucket served as an S3 static website endpoint does, read from moto, on its own port.

``GET /`` (and any path ending in ``/``) serves the index document; a key that is missing serves
the error document with status 404; ``/docs`` redirects to ``/docs/`` when ``docs/index.html``
exists; the query string is ignored (so ``?v=<timestamp>`` cache-busting works); the object's
Content-Type, Cache-Control and other stored headers pass through. Only GET and HEAD are allowed.

Usage::

    with S3Website(boto3.client("s3"), "autoheal-status") as site:
        requests.get(site.url + "/")             # index.html, with its Cache-Control
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError

from sandbox.ports import LOOPBACK

CONFIG_SECONDS = 1.0  # the website configuration is re-read at most this often
PASSED_THROUGH = {
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "ContentDisposition": "Content-Disposition",
    "ETag": "ETag",
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class S3Website:
    def __init__(self, s3: Any, bucket: str, port: int = 0) -> None:
        self.s3 = s3
        self.bucket = bucket
        self._server = ThreadingHTTPServer((LOOPBACK, port), _WebsiteHandler)
        self._server.daemon_threads = True
        self._server.site = self  # type: ignore[attr-defined]
        self._config: tuple[float, dict[str, Any] | None] = (0.0, None)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> S3Website:
        threading.Thread(target=self._server.serve_forever, name="s3-website", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> S3Website:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reply(self, path: str) -> Reply:
        """What the website endpoint answers for a GET of ``path`` (query already removed)."""
        config = self.website_config()
        if config is None:
            return _html(
                404, "NoSuchWebsiteConfiguration", f"The bucket {self.bucket} has no website configuration"
            )
        index = config.get("IndexDocument", {}).get("Suffix", "index.html")
        key = unquote(path).lstrip("/")
        if key == "" or key.endswith("/"):
            key += index
        found = self._get(key)
        if found is not None:
            return found
        if not key.endswith(index) and self._get(f"{key}/{index}") is not None:
            return Reply(302, {"Location": f"{path}/"}, b"")
        error_key = config.get("ErrorDocument", {}).get("Key")
        error = self._get(error_key) if error_key else None
        if error is not None:
            return Reply(404, error.headers, error.body)
        return _html(404, "NoSuchKey", f"The specified key does not exist: {key}")

    def website_config(self) -> dict[str, Any] | None:
        with self._lock:
            read_at, config = self._config
        if time.monotonic() - read_at < CONFIG_SECONDS:
            return config
        try:
            config = self.s3.get_bucket_website(Bucket=self.bucket)
        except ClientError:
            config = None  # no such bucket, or not a website
        with self._lock:
            self._config = (time.monotonic(), config)
        return config

    def _get(self, key: str) -> Reply | None:
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
                return None
            raise
        headers = {header: str(found[field]) for field, header in PASSED_THROUGH.items() if found.get(field)}
        if found.get("LastModified"):
            headers["Last-Modified"] = found["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT")
        return Reply(200, headers, found["Body"].read())


class _WebsiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        site: S3Website = self.server.site  # type: ignore[attr-defined]
        try:
            reply = site.reply(urlsplit(self.path).path or "/")
        except ClientError as err:
            reply = _html(500, "InternalError", str(err))
        self.send(reply)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        self.send(
            _html(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        )

    do_PUT = do_DELETE = do_PATCH = do_POST  # noqa: N815

    def send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _html(status: int, code: str, message: str) -> Reply:
    title = f"{status} {code}"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{escape(message)}</p>"
    return Reply(status, {"Content-Type": "text/html; charset=utf-8"}, body.encode())
