"""The S3 side of the status site: the objects, each with its type and caching, gzip-encoded.

status.json and maintenance.html are never cached (a cached maintenance page or status would
keep users away after recovery); index.html may be for a short while; the feed a little longer.

Every object is stored gzipped with `Content-Encoding: gzip`: an S3 website endpoint does not
compress, but it hands back the stored bytes and headers as they are, so the wire carries the
compressed size (90 days of history compress about 20-fold) and every browser and feed reader
inflates it (they all send `Accept-Encoding: gzip`).
"""

from __future__ import annotations

import gzip
from typing import Mapping

from chalicelib.aws.clients import client

STATUS_JSON, INDEX, FEED, MAINTENANCE_PAGE = "status.json", "index.html", "feed.xml", "maintenance.html"
HISTORY = "history.html"
BADGES = "badges/"  # badges/<component>.svg
OBJECTS = {
    # key: (Content-Type, Cache-Control), in the order they are written: the page users may be
    # sent to first, the page it reads next.
    MAINTENANCE_PAGE: ("text/html; charset=utf-8", "no-store"),
    STATUS_JSON: ("application/json", "no-store"),
    INDEX: ("text/html; charset=utf-8", "public, max-age=30"),
    FEED: ("application/atom+xml; charset=utf-8", "public, max-age=300"),
    HISTORY: ("text/html; charset=utf-8", "public, max-age=60"),
}
BADGE = ("image/svg+xml", "public, max-age=300")


# zlib's default level: at 1,000 monitors it compresses the site in 0.18 s where level 9 took
# 0.60 s of the probe's core, for 7% more bytes (bench/status_size.py --levels).
GZIP_LEVEL = 6


def encoded(body: bytes) -> bytes:
    """The stored bytes: gzip with no timestamp (same page, same bytes)."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


class SitePublisher:
    """>>> SitePublisher("autoheal-status").publish({"status.json": b"{}"})  # doctest: +SKIP"""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.badges_written: dict[str, bytes] = {}  # a badge is written again only when it changed

    def publish(self, bodies: Mapping[str, bytes]) -> None:
        unknown = sorted(k for k in bodies if k not in OBJECTS and not is_badge(k))
        if unknown:
            raise ValueError(
                f"not a status site object: {', '.join(unknown)} "
                f"(expected {', '.join(OBJECTS)}, {BADGES}*.svg)"
            )
        s3 = client("s3")
        badges = sorted(k for k in bodies if is_badge(k) and self.badges_written.get(k) != bodies[k])
        order = [k for k in OBJECTS if k in bodies] + badges
        for key in order:
            content_type, cache_control = OBJECTS.get(key, BADGE)
            s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=encoded(bodies[key]),
                ContentEncoding="gzip",
                ContentType=content_type,
                CacheControl=cache_control,
            )
            if is_badge(key):
                self.badges_written[key] = bodies[key]


def is_badge(key: str) -> bool:
    name = key[len(BADGES) :]
    return key.startswith(BADGES) and name.endswith(".svg") and "/" not in name and name != ".svg"
