"""What the local world does with its child processes: ask whether they answer, stop them."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from typing import Optional


def http_status(url: str, timeout: float = 1.0) -> Optional[int]:
    """The HTTP status `url` answers with (errors included), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=min(timeout, 2.0)) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def terminate(process: Optional[subprocess.Popen], timeout: float = 5.0) -> None:
    """Terminate, then kill after `timeout`; always reap so no zombie is left."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout)
