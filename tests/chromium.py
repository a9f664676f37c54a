"""Headless Chromium for the picture tests: a screenshot of a file, or its DOM after scripts ran.

Debian's ``chromium`` package (``.ci/run`` installs it). Every run gets a fresh profile folder and
no network services (no sync, no component updates, no QUIC), so a test never reaches the network.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]


def binary() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    exe = binary()
    assert exe is not None, "chromium is not installed"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


def screenshot(page: Path, png: Path, width: int, height: int) -> Path:
    """Render ``page`` (HTML or SVG) in a ``width``×``height`` window to ``png``."""
    done = _run([f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()])
    assert png.exists(), f"chromium wrote no screenshot: {done.stderr.decode(errors='replace')[-2000:]}"
    return png


def dump_dom(page: Path, width: int | None = None, height: int = 2000) -> str:
    """The page's DOM after its scripts ran (``--dump-dom``), in a ``width``-pixel window if given."""
    size = [f"--window-size={width},{height}"] if width else []
    done = _run(["--dump-dom", "--virtual-time-budget=5000", *size, page.resolve().as_uri()])
    return done.stdout.decode("utf-8", errors="replace")
