"""What the runner shows the person at its terminal (stderr): the banner and each delivered message.

Each call is one write under one lock, so messages delivered by concurrent requests never mix.
"""

from __future__ import annotations

import os
import threading
from importlib.metadata import version
from typing import Any

_terminal_lock = threading.Lock()


def say(text: str = "") -> None:
    data = (text + "\n").encode("utf-8", errors="replace")
    with _terminal_lock:
        while data:
            data = data[os.write(2, data) :]


def show_message(message: Any) -> None:
    title = f" {message.channel.upper()} to {message.destination} "
    lines = [f"\n┌{title:─^70}┐"]
    if message.subject:
        lines.append(f"  Subject: {message.subject}")
    lines.extend(f"  {line}" for line in message.body.splitlines())
    if message.channel == "sms":
        shown = message.as_json()
        lines.append(f"  ({shown['encoding']}, {shown['segments']} segment{'s' if shown['segments'] != 1 else ''})")
    lines.append(f"└{'─' * 70}┘\n")
    say("\n".join(lines))


def warn_of_long_sms(settings: Any, url: str) -> None:
    """The generate function's start-up segment warning, where the person at the terminal sees it."""
    from otp.bootstrap import sms_segment_report

    report = sms_segment_report(settings)
    warning = report and report.warning(settings.brand_name)
    if warning:
        say(f"  Warning: {warning}. Each language's SMS: {url}/_local/messages\n")


def banner(url: str, emulator_url: str, workers: int, open_endpoints: bool) -> None:
    lines = [f"\nOTP service (local) on {url}"]
    json = " -H 'content-type: application/json'" if open_endpoints else ""  # open routes take JSON only
    if open_endpoints:
        lines.append("  Routes are open (OPEN_ENDPOINTS=true): the per-IP limit counts the connection's address.")
    else:
        lines.append(
            "  Requests arrive IAM-authorized, as from your signed backend: pass the user's address as client_ip."
        )
    lines += [
        f"  AWS is emulated in-process (moto {version('moto')} on {emulator_url}); nothing leaves this machine.",
        "  The emulator answers only this runner's workers (a secret of this run signs their calls).",
        f"  {workers} Lambda-like workers. Ctrl-C stops.",
        f"  Inbox (codes as they arrive, refreshes itself): {url}/_local/inbox",
        f"  The same as JSON: {url}/_local/outbox",
        f"  API reference: {url}/_local/docs (OpenAPI at {url}/_local/openapi.json)",
        f"  Every language's messages, as sent with these settings: {url}/_local/messages\n",
        "Try it:",
        f'  curl -s {url}/generate{json} -d \'{{"channel": "sms", "destination": "+14155552671"}}\'',
        f'  curl -s {url}/verify{json} -d \'{{"destination": "+14155552671", "code": "<the code below>"}}\'',
        f'  curl -s {url}/generate{json} -d \'{{"channel": "voice", "destination": "+442079460000"}}\'  # a landline',
        f'  curl -s {url}/generate{json} -d \'{{"channel": "whatsapp", "destination": "+919876543210", '
        '"locale": "hi"}\'\n',
    ]
    say("\n".join(lines))
