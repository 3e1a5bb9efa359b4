"""Pages of the local runner that a person looks at: the API reference, the message review, the inbox.

All work offline: Swagger UI's assets come from the swagger-ui-py package (served by the runner
under /_local/docs/), the message page is plain HTML with no script or remote asset at all, and the
inbox carries its own style and script, which its Content-Security-Policy names by hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otp.config import Settings

SWAGGER_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OTP service API (local)</title>
<link rel="stylesheet" href="/_local/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/_local/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/_local/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""


def swagger_asset(name: str) -> bytes | None:
    """One of Swagger UI's files, from the installed package; None for anything else."""
    if name not in SWAGGER_ASSETS:
        return None
    static = Path(str(resources.files("swagger_ui"))) / "static"
    return (static / name).read_bytes()


MESSAGES_STYLE = """
body { font-family: sans-serif; margin: 2em; background: #f4f4f4; color: #111; overflow-wrap: anywhere; }
section { display: grid; grid-template-columns: repeat(auto-fill, minmax(17em, 1fr)); gap: 1em 1.5em;
  background: #fff; margin: 1em 0; padding: 1em; border-radius: 8px; }
h2 { grid-column: 1 / -1; margin: 0; font-size: 1.2em; }
h3 { margin: 0 0 0.4em; font-size: 0.8em; letter-spacing: 0.08em; text-transform: uppercase; color: #0a58ca; }
.sms, .wa { white-space: pre-wrap; border-radius: 16px; padding: 0.8em; font: 15px sans-serif; margin: 0; }
.sms { background: #e5e5ea; }
.wa { background: #dcf8c6; }
.said { margin: 0; padding: 0.8em; border-left: 4px solid #0a58ca; background: #eef4ff; font-size: 15px; }
.meta { color: #555; font-size: 12px; margin: 0.4em 0; }
.over { color: #b00; font-weight: bold; }
.warning { background: #fff3cd; border: 1px solid #e0b400; padding: 0.8em 1em; border-radius: 8px; }
details pre, .params { white-space: pre-wrap; font-size: 12px; background: #f7f7f7; padding: 0.5em; margin: 0; }
/* Tall enough for the longest language at phone width: a sandboxed preview cannot size itself. */
iframe { box-sizing: border-box; width: 100%; height: 17em; border: 1px solid #ddd; background: #fff; }
.text { white-space: pre-wrap; color: #555; font-size: 12px; }
@media (max-width: 40em) { body { margin: 0.5em; } section { padding: 0.75em; } }
"""


def messages_page(settings: object) -> str:
    """Every language's SMS, voice call, WhatsApp message and email as the current settings render
    them, with segment counts, and the start-up segment warning when a language needs two."""
    from otp.bootstrap import sms_segment_report
    from otp.config import Settings
    from otp.messages import catalog

    assert isinstance(settings, Settings)
    sample = "4" * settings.code_length
    rows = [
        f'<section id="{locale}" lang="{locale}"><h2>{locale}</h2>'
        f"{_sms_block(settings, locale, sample)}{_voice_block(settings, locale, sample)}"
        f"{_whatsapp_block(settings, locale, sample)}{_email_block(settings, locale, sample)}</section>"
        for locale in sorted(catalog())
    ]
    report = sms_segment_report(settings)
    warning = report and report.warning(settings.brand_name)
    alert = f'<p class="warning" id="segment-warning" role="alert">{html.escape(warning)}</p>' if warning else ""
    settings_line = html.escape(
        f"brand {settings.brand_name!r}, {settings.ttl_seconds} s validity, "
        f"template {'custom' if settings.sms_template else 'built in'}, "
        f"WebOTP {settings.webotp_domain or 'off'}, app hash {settings.android_app_hash or 'off'}, "
        f"voice {settings.voice_provider or 'off'}, WhatsApp template {settings.whatsapp_template!r} in "
        f"{', '.join(settings.whatsapp_languages) if settings.whatsapp_phone_number_id else 'off'}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>OTP messages (local)</title>
<style>{MESSAGES_STYLE}</style></head>
<body><h1>Messages as they are sent</h1><p>With the current settings: {settings_line}.</p>{alert}
{"".join(rows)}
</body></html>
"""


def _sms_block(settings: Settings, locale: str, sample: str) -> str:
    from otp.domain.outgoing import sms_for

    sms = sms_for(settings, locale, sample)
    over = "" if sms.segments == 1 else " over"
    return (
        f'<div class="phone"><h3>SMS</h3><pre class="sms">{html.escape(sms.text)}</pre>'
        f'<p class="meta{over}" data-segments="{sms.segments}">{sms.encoding}, {len(sms.text)} characters, '
        f"{sms.segments} segment{'s' if sms.segments != 1 else ''}</p></div>"
    )


def _voice_block(settings: Settings, locale: str, sample: str) -> str:
    from otp.messages import render_voice

    if settings.voice_provider is None:
        return '<div class="voice"><h3>Voice</h3><p class="meta">off (OTP_VOICE_PROVIDER not set)</p></div>'
    voice = render_voice(locale, sample, settings.brand_name, settings.ttl_seconds, settings.default_locale)
    spoken_in = "" if voice.language == locale else f"; {locale} has no voice, so the call is in {voice.language}"
    notify = "; with notify, AWS's template is spoken instead" if settings.voice_provider == "notify" else ""
    return (
        f'<div class="voice" data-language="{voice.language}"><h3>Voice call</h3>'
        f'<p class="said" lang="{voice.language}">{html.escape(voice.text)}</p>'
        f'<p class="meta">voice {html.escape(voice.voice_id)}, language {voice.language}{spoken_in}{notify}</p>'
        f'<details><summary class="meta">SSML sent</summary><pre class="ssml">{html.escape(voice.ssml)}</pre>'
        "</details></div>"
    )


def _whatsapp_block(settings: Settings, locale: str, sample: str) -> str:
    from local.messaging import WHATSAPP_TEXT
    from otp.aws.whatsapp import authentication_template
    from otp.domain.outbound import WhatsAppMessage
    from otp.messages import whatsapp_language

    if not settings.whatsapp_phone_number_id:
        return '<div class="whatsapp"><h3>WhatsApp</h3><p class="meta">off (no OTP_WHATSAPP_PHONE_NUMBER_ID)</p></div>'
    language, _tag = whatsapp_language(locale, settings.whatsapp_languages)
    template = authentication_template(WhatsAppMessage("+10000000000", sample, settings.whatsapp_template, language))
    parameters = [
        f"{component['type']}: " + ", ".join(p["text"] for p in component["parameters"])
        for component in template["template"]["components"]
    ]
    return (
        f'<div class="whatsapp" data-template="{html.escape(settings.whatsapp_template)}" data-language="{language}">'
        f'<h3>WhatsApp</h3><p class="wa">{html.escape(WHATSAPP_TEXT.replace("{code}", sample))}</p>'
        f'<p class="meta">template <b>{html.escape(settings.whatsapp_template)}</b>, language <b>{language}</b> '
        "(Meta writes the words of an authentication template)</p>"
        f'<pre class="params">{html.escape(chr(10).join(parameters))}</pre></div>'
    )


def _email_block(settings: Settings, locale: str, sample: str) -> str:
    from otp.messages import render_email

    email = render_email(locale, sample, settings.brand_name, settings.ttl_seconds)
    return (
        f'<div class="email"><h3>Email</h3><p class="subject">{html.escape(email.subject)}</p>'
        f'<iframe title="email {locale}" sandbox srcdoc="{html.escape(email.html)}"></iframe>'
        f'<pre class="text">{html.escape(email.text)}</pre></div>'
    )


INBOX_STYLE = """
:root { color-scheme: light; font-family: system-ui, sans-serif; }
body { margin: 0; background: #f2f2f7; color: #111; overflow-wrap: anywhere; }
header { display: flex; align-items: baseline; gap: 0.75rem; padding: 0.75rem 1rem 0.25rem; }
h1 { font-size: 1.25rem; margin: 0; }
#status { flex: 1; margin: 0; color: #666; font-size: 0.85rem; }
main { max-width: 40rem; margin: 0 auto; padding: 0 0.75rem 2rem; }
section { margin: 0.75rem 0; }
h2 { font-size: 0.95rem; margin: 0 0 0.35rem; color: #333; }
article { background: #fff; border-radius: 12px; padding: 0.75rem 0.9rem; margin: 0 0 0.5rem;
  box-shadow: 0 1px 2px rgb(0 0 0 / 8%); }
article + article { opacity: 0.75; }
.meta { display: flex; gap: 0.6rem; margin: 0; font-size: 0.8rem; color: #666; }
.channel { font-weight: 600; color: #0a58ca; }
.code-row { display: flex; align-items: center; gap: 0.75rem; margin: 0.35rem 0; }
.code { font: 700 2.25rem ui-monospace, monospace; letter-spacing: 0.12em; }
button { font: inherit; padding: 0.4rem 0.9rem; border-radius: 8px; border: 1px solid #0a58ca;
  background: #0a58ca; color: #fff; }
#clear { background: #fff; color: #0a58ca; font-size: 0.8rem; padding: 0.2rem 0.6rem; }
.subject { margin: 0.2rem 0; font-weight: 600; }
.text { margin: 0.2rem 0 0; white-space: pre-wrap; font-size: 0.9rem; color: #333; }
.empty { color: #666; text-align: center; margin-top: 3rem; }
"""

INBOX_SCRIPT = """
"use strict";
const CODE = new RegExp("(?<![0-9A-Za-z])[0-9]{" + document.body.dataset.codeLength + "}(?![0-9A-Za-z])");
const inbox = document.getElementById("inbox");
const status = document.getElementById("status");
let shown = null;
let version = "";

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;  // never innerHTML: message texts are data
  return made;
}

function copyCode(code, button) {
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  const byHand = () => {
    const area = element("textarea");
    area.value = code;
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (copied) done();
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(code).then(done, byHand);
  else byHand();
}

function card(message) {
  const article = element("article", "message " + message.channel);
  const meta = element("p", "meta");
  const time = element("time", null, new Date(message.sent_at).toLocaleTimeString());
  time.dateTime = message.sent_at;
  time.title = message.sent_at;
  meta.append(element("span", "channel", message.channel.toUpperCase()), time);
  article.append(meta);
  const found = (message.body || "").match(CODE);
  if (found) {
    const row = element("div", "code-row");
    const button = element("button", "copy", "Copy");
    button.type = "button";
    button.setAttribute("aria-label", "Copy code " + found[0]);
    button.addEventListener("click", () => copyCode(found[0], button));
    row.append(element("output", "code", found[0]), button);
    article.append(row);
  }
  if (message.subject) article.append(element("p", "subject", message.subject));
  article.append(element("p", "text", message.body));
  return article;
}

function render(messages) {
  // The outbox lists oldest first; a Map keeps insertion order, so walking it backwards puts the
  // destination of the newest message first, and each destination's newest message on top.
  const groups = new Map();
  for (const message of [...messages].reverse()) {
    if (!groups.has(message.destination)) groups.set(message.destination, []);
    groups.get(message.destination).push(message);
  }
  const sections = [...groups].map(([destination, list]) => {
    const section = element("section", "destination");
    section.append(element("h2", null, destination), ...list.map(card));
    return section;
  });
  inbox.replaceChildren(...(sections.length ? sections : [element("p", "empty", "No message yet.")]));
}

async function poll() {
  // A long poll: the runner answers when the outbox changes (or after a while), so an open inbox
  // costs one request per message, not one a second.
  let pause = 100;
  try {
    const reply = await fetch("/_local/outbox?after=" + version, { cache: "no-store" });
    version = reply.headers.get("X-Outbox-Version") || "";
    const messages = (await reply.json()).messages;
    const text = JSON.stringify(messages);
    if (text !== shown) { shown = text; render(messages); }
    status.textContent = messages.length + " message" + (messages.length === 1 ? "" : "s") + ", live";
  } catch (error) {
    status.textContent = "The runner is not answering; trying again.";
    version = "";
    pause = 1000;
  }
  setTimeout(poll, pause);
}

document.getElementById("clear").addEventListener("click", async () => {
  await fetch("/_local/outbox", { method: "DELETE" });
});
poll();
"""


def _digest(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# The page may run its own script and style and talk to its own runner; nothing else, nowhere else.
INBOX_POLICY = (
    f"default-src 'none'; script-src {_digest(INBOX_SCRIPT)}; style-src {_digest(INBOX_STYLE)}; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def inbox_page(code_length: int) -> str:
    """Delivered messages, newest first, grouped by destination; it polls the outbox by itself."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Inbox (local OTP service)</title>
<style>{INBOX_STYLE}</style></head>
<body data-code-length="{int(code_length)}">
<header><h1>Inbox</h1><p id="status" role="status">Loading…</p><button id="clear" type="button">Clear</button></header>
<main id="inbox" aria-live="polite"></main>
<script>{INBOX_SCRIPT}</script>
</body></html>
"""
