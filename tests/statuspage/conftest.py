"""One Debian Chromium per test session, driven by Playwright (its own browser download is not used)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("AUTOHEAL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> object:
    """Screenshots land here (pytest's temporary directory); the path is printed."""
    return tmp_path_factory.mktemp("page-screenshots")
