"""The S3 side of the status site: the four objects, each with its type and caching.

status.json and maintenance.html are never cached (a cached maintenance page or status would
keep users away after recovery); index.html may be for a short while; the feed a little longer.
"""

from __future__ import annotations

from typing import Mapping

from chalicelib.aws.clients import client

STATUS_JSON, INDEX, FEED, MAINTENANCE_PAGE = "status.json", "index.html", "feed.xml", "maintenance.html"
OBJECTS = {
    # key: (Content-Type, Cache-Control), in the order they are written: the page users may be
    # sent to first, the page it reads next.
    MAINTENANCE_PAGE: ("text/html; charset=utf-8", "no-store"),
    STATUS_JSON: ("application/json", "no-store"),
    INDEX: ("text/html; charset=utf-8", "public, max-age=30"),
    FEED: ("application/atom+xml; charset=utf-8", "public, max-age=300"),
}


class SitePublisher:
    """>>> SitePublisher("autoheal-status").publish({"status.json": b"{}"})  # doctest: +SKIP"""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def publish(self, bodies: Mapping[str, bytes]) -> None:
        unknown = sorted(set(bodies) - set(OBJECTS))
        if unknown:
            raise ValueError(
                f"not a status site object: {', '.join(unknown)} (expected {', '.join(OBJECTS)})"
            )
        s3 = client("s3")
        for key, (content_type, cache_control) in OBJECTS.items():
            if key in bodies:
                s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=bodies[key],
                    ContentType=content_type,
                    CacheControl=cache_control,
                )
