"""The runner's pages in a real headless Chromium, offline: the API reference and the message review.

`make test` runs `make browser` first, which installs Debian's chromium when it is missing. These
tests skip, saying so, only where it could not be installed.

Layout checks drive Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3
in, fd 4 out, NUL-separated JSON), which needs nothing beyond the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# Chromium reads DevTools commands from fd 3 and answers on fd 4; this trampoline puts the pipes there.
_ON_FDS_3_AND_4 = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)
DEVTOOLS_TIMEOUT_SECONDS = 60


class DevTools:
    """One headless Chromium and one tab in it, driven over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None
        commands_read, commands_write = os.pipe()
        events_read, events_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
        flags += ["--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}"]
        # Keeps sandboxed previews (the email iframes) in the page's process, where they can be measured.
        flags += ["--disable-features=IsolateSandboxedIframes", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ON_FDS_3_AND_4, str(commands_read), str(events_write), CHROMIUM, *flags],
            pass_fds=(commands_read, events_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(events_write)
        self._commands = os.fdopen(commands_write, "wb", buffering=0)
        self._events = os.fdopen(events_read, "rb", buffering=0)
        self._pending = b""
        self._last_id = 0
        self.session = ""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self._commands.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._pending:
                data = self._events.read(1 << 16)
                assert data, f"Chromium closed its DevTools pipe during {method}"
                self._pending += data
            raw, _, self._pending = self._pending.partition(b"\0")
            answer = json.loads(raw)
            if answer.get("id") == self._last_id:
                assert "error" not in answer, (method, answer["error"])
                return answer["result"]

    def open(self, url: str, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=2, mobile=True)
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str, context: int | None = None) -> Any:
        extra = {"contextId": context} if context is not None else {}
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, **extra)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 20) -> Any:
        """The expression's value once it is truthy; fails after ``seconds`` (a hang, not slowness)."""
        deadline = time.monotonic() + seconds
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.1)
        return value

    def frames(self) -> list[int]:
        """An execution context in each child frame (iframe) of the page, sandboxed ones included."""
        tree = self.call("Page.getFrameTree")["frameTree"]
        frames = [child["frame"]["id"] for child in tree.get("childFrames", [])]
        return [self.call("Page.createIsolatedWorld", frameId=frame)["executionContextId"] for frame in frames]

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError, ValueError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self._commands.close()
        self._events.close()


@contextlib.contextmanager
def devtools(profile: Path) -> Iterator[DevTools]:
    browser = DevTools(profile)
    try:
        yield browser
    finally:
        browser.close()


PHONE = (390, 844)  # an iPhone 12-15's viewport in CSS pixels


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


def test_the_message_review_fits_a_phone_and_shows_each_email_whole(runner, tmp_path):
    page = requests.get(runner.url + "/_local/messages", timeout=30).text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    with devtools(tmp_path / "profile") as browser:
        for width, height in (PHONE, (1280, 900)):
            browser.open(runner.url + "/_local/messages", width, height)
            assert browser.evaluate("window.innerWidth") == width  # laid out for the device, not zoomed out
            overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{overflow} px of horizontal overflow at {width} px"
            previews, heights = browser.frames(), []
            assert len(previews) == len(re.findall("<iframe", page))
            for context in previews:
                # The preview's content against its visible height: nothing may hide below.
                content, scrolled, visible = browser.evaluate(
                    "[Math.ceil(document.body.lastElementChild.getBoundingClientRect().bottom),"
                    " document.documentElement.scrollHeight, window.innerHeight]",
                    context,
                )
                assert scrolled <= visible, f"an email preview scrolls by {scrolled - visible} px at {width} px"
                assert content <= visible, f"an email preview clips {content - visible} px at {width} px"
                heights.append(content)
            print(f"email previews at {width} px: content {min(heights)}-{max(heights)} px high")
        browser.screenshot(tmp_path / "messages-wide.png")


# Every channel's block in each language's section, as Chromium laid the page out.
CHANNELS_SHOWN = """[...document.querySelectorAll("section[lang]")].map(section => ({
  locale: section.id,
  blocks: [...section.querySelectorAll("h3")].map(h => h.textContent),
  said: section.querySelector(".voice .said") && section.querySelector(".voice .said").textContent,
  ssml: section.querySelector(".voice .ssml") && section.querySelector(".voice .ssml").textContent,
  voiceLanguage: section.querySelector(".voice") && section.querySelector(".voice").dataset.language,
  template: section.querySelector(".whatsapp") && section.querySelector(".whatsapp").dataset.template,
  waLanguage: section.querySelector(".whatsapp") && section.querySelector(".whatsapp").dataset.language,
  params: section.querySelector(".whatsapp .params") && section.querySelector(".whatsapp .params").textContent,
  visible: [...section.querySelectorAll(".phone, .voice, .whatsapp, .email")].every(block => {
    const box = block.getBoundingClientRect();
    return box.width > 150 && box.height > 40 && box.right <= window.innerWidth;
  }),
}))"""


def test_the_message_review_shows_voice_and_whatsapp_in_every_language(runner, tmp_path):
    from otp.messages import catalog, render_voice, whatsapp_language

    languages = runner.get("/_local/messages").text
    assert "OTP_WHATSAPP_PHONE_NUMBER_ID" not in languages  # the runner turns every channel on
    sample = "4" * 6
    with devtools(tmp_path / "profile") as browser:
        for width, height in (PHONE, (1280, 900)):
            browser.open(runner.url + "/_local/messages", width, height)
            shown = {section["locale"]: section for section in browser.evaluate(CHANNELS_SHOWN)}
            assert set(shown) == set(catalog())
            for locale, section in shown.items():
                assert section["blocks"] == ["SMS", "Voice call", "WhatsApp", "Email"], (locale, section["blocks"])
                assert section["visible"], f"a block of {locale} is hidden or clipped at {width} px"
                voice = render_voice(locale, sample, "OTP Service", 300, "en")
                assert section["said"] == voice.text and section["voiceLanguage"] == voice.language
                assert section["ssml"] == voice.ssml and section["ssml"].count("interpret-as") == 2 * len(sample)
                code, _ = whatsapp_language(locale, ["en_US", "es", "pt_BR", "fr", "de", "it", "id", "hi"])
                assert section["template"] == "otp_code" and section["waLanguage"] == code
                assert section["params"] == f"body: {sample}\nbutton: {sample}"
            browser.screenshot(tmp_path / f"messages-{width}.png")
    assert shown["hi"]["voiceLanguage"] != "hi"  # no Hindi voice: the call is in another language, and says so
    print(f"message review screenshots: {tmp_path}/messages-*.png")


def test_a_brand_that_pushes_hindi_over_one_segment_is_warned_of_at_start_and_on_the_page(runner_logs, tmp_path):
    from tests.e2e.conftest import start_runner, stop_runner

    brand = "B" * 23  # one over the 22 that fit Hindi with both autofill lines and 5 minutes
    started = start_runner(
        runner_logs,
        LOCAL_WORKERS="1",
        OTP_BRAND_NAME=brand,
        OTP_WEBOTP_DOMAIN="example.com",
        OTP_ANDROID_APP_HASH="FA+9qCX9VSu",
    )
    try:
        dom = rendered(started.url + "/_local/messages", tmp_path / "profile")
        terminal, logs = started.terminal(), started.logs()
    finally:
        stop_runner(started)
    warning = re.search(r'<p class="warning" id="segment-warning" role="alert">([^<]*)</p>', dom)
    assert warning and "hi (2 segments)" in warning.group(1) and "at most 22 characters" in warning.group(1)
    assert re.findall(r'data-segments="(\d+)"', dom).count("2") == 1  # Hindi's SMS, marked on its own
    assert terminal.count("Warning: OTP_BRAND_NAME (23 characters)") == 1
    lines = [json.loads(line) for line in logs.splitlines() if "SMS segment" in line]
    assert [(line["level"], line["languages"], line["brand_length"]) for line in lines] == [("WARNING", ["hi"], 22)]
    assert any('"SmsLanguagesOverOneSegment"' in line for line in logs.splitlines())
