"""The runner's pages in a real headless Chromium, offline: the API reference and the message review.

`make test` runs `make browser` first, which installs Debian's chromium when it is missing. These
tests skip, saying so, only where it could not be installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed here (`make browser` installs Debian's chromium package)"
)


def rendered(url: str, profile: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran, as headless Chromium (with no network but loopback) saw it."""
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",  # lets the page's scripts finish before the DOM is read
    ]
    if screenshot is not None:
        subprocess.run(
            [CHROMIUM, *flags, "--window-size=1280,2400", f"--screenshot={screenshot}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    result = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_api_reference_renders_offline(runner, tmp_path):
    page = requests.get(runner.url + "/_local/docs", timeout=30).text
    assert not re.findall(r"""(?:src|href)=["']https?://""", page)  # no CDN: every asset is the runner's
    dom = rendered(runner.url + "/_local/docs", tmp_path / "profile")
    assert 'class="swagger-ui' in dom
    for path in ("/generate", "/verify", "/verifications/{verification_id}", "/verifications/{verification_id}/cancel"):
        assert f'data-path="{path}"' in dom, path
    assert "OTP service" in dom


def test_the_message_review_shows_every_language_in_one_segment(runner, tmp_path):
    from otp.messages import catalog

    screenshot = tmp_path / "messages.png"
    dom = rendered(runner.url + "/_local/messages", tmp_path / "profile", screenshot)
    for locale in catalog():
        assert f'<section id="{locale}" lang="{locale}">' in dom
    segments = re.findall(r'data-segments="(\d+)"', dom)
    assert len(segments) == len(catalog()) and set(segments) == {"1"}
    assert "UCS-2" in dom and "GSM-7" in dom
    assert "कोड" in dom and "<iframe" in dom
    assert screenshot.stat().st_size > 10_000  # something was painted
