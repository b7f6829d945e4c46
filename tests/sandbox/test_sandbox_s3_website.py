"""The status bucket served as an S3 website endpoint serves it, read from moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.moto_server import MotoServer
from sandbox.s3_website import S3Website

BUCKET = "site-under-test"


@pytest.fixture(scope="module")
def site(aws: MotoServer) -> Iterator[S3Website]:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_website(
        Bucket=BUCKET,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
        },
    )
    put(s3, "index.html", "<h1>status</h1>", "text/html; charset=utf-8", "max-age=30")
    put(s3, "status.json", '{"ok": true}', "application/json", "no-store")
    put(s3, "error.html", "<h1>not here</h1>", "text/html", "max-age=5")
    put(s3, "docs/index.html", "<h1>docs</h1>", "text/html", "max-age=60")
    with S3Website(s3, BUCKET) as running:
        yield running


def put(s3: Any, key: str, body: str, content_type: str, cache_control: str) -> None:
    s3.put_object(
        Bucket=BUCKET, Key=key, Body=body.encode(), ContentType=content_type, CacheControl=cache_control
    )


def test_root_serves_the_index_document_with_its_headers(site: S3Website) -> None:
    answer = requests.get(site.url + "/?v=1712345678", timeout=5)
    assert (answer.status_code, answer.text) == (200, "<h1>status</h1>")
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "max-age=30"
    assert answer.headers["ETag"] and answer.headers["Last-Modified"].endswith("GMT")


def test_an_object_keeps_its_own_headers(site: S3Website) -> None:
    answer = requests.get(site.url + "/status.json", timeout=5)
    assert answer.json() == {"ok": True}
    assert (answer.headers["Content-Type"], answer.headers["Cache-Control"]) == (
        "application/json",
        "no-store",
    )


def test_a_missing_key_serves_the_error_document_with_404(site: S3Website) -> None:
    answer = requests.get(site.url + "/nope.html", timeout=5)
    assert (answer.status_code, answer.text, answer.headers["Cache-Control"]) == (
        404,
        "<h1>not here</h1>",
        "max-age=5",
    )


def test_a_folder_redirects_to_its_slash_and_serves_its_index(site: S3Website) -> None:
    moved = requests.get(site.url + "/docs", timeout=5, allow_redirects=False)
    assert (moved.status_code, moved.headers["Location"]) == (302, "/docs/")
    assert requests.get(site.url + "/docs/", timeout=5).text == "<h1>docs</h1>"


def test_head_has_no_body_and_writes_are_refused(site: S3Website) -> None:
    head = requests.head(site.url + "/status.json", timeout=5)
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == "12"
    assert requests.put(site.url + "/status.json", data=b"{}", timeout=5).status_code == 405
    assert requests.get(site.url + "/status.json", timeout=5).json() == {"ok": True}


def test_a_bucket_without_website_configuration_is_404(aws: MotoServer) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="plain-bucket")
    s3.put_object(Bucket="plain-bucket", Key="index.html", Body=b"hi")
    with S3Website(s3, "plain-bucket") as plain:
        answer = requests.get(plain.url + "/", timeout=5)
    assert answer.status_code == 404 and "NoSuchWebsiteConfiguration" in answer.text
