"""Pages of the local runner that a person looks at: the API reference and the message review.

Both work offline: Swagger UI's assets come from the swagger-ui-py package (served by the runner
under /_local/docs/), and the message page is plain HTML with no script or remote asset at all.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

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


def messages_page(settings: object) -> str:
    """Every language's SMS and email as the current settings render them, with segment counts."""
    from otp.config import Settings
    from otp.domain.outgoing import sms_for
    from otp.messages import catalog, render_email

    assert isinstance(settings, Settings)
    sample = "4" * settings.code_length
    rows = []
    for locale in sorted(catalog()):
        sms = sms_for(settings, locale, sample)
        email = render_email(locale, sample, settings.brand_name, settings.ttl_seconds)
        warning = "" if sms.segments == 1 else ' class="over"'
        rows.append(
            f'<section id="{locale}" lang="{locale}"><h2>{locale}</h2>'
            f'<div class="phone"><pre class="sms">{html.escape(sms.text)}</pre>'
            f'<p{warning} data-segments="{sms.segments}">{sms.encoding}, {len(sms.text)} characters, '
            f"{sms.segments} segment{'s' if sms.segments != 1 else ''}</p></div>"
            f'<div class="email"><p class="subject">{html.escape(email.subject)}</p>'
            f'<iframe title="email {locale}" sandbox srcdoc="{html.escape(email.html)}"></iframe>'
            f'<pre class="text">{html.escape(email.text)}</pre></div></section>'
        )
    settings_line = html.escape(
        f"brand {settings.brand_name!r}, {settings.ttl_seconds} s validity, "
        f"template {'custom' if settings.sms_template else 'built in'}, "
        f"WebOTP {settings.webotp_domain or 'off'}, app hash {settings.android_app_hash or 'off'}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OTP messages (local)</title>
<style>
body {{ font-family: sans-serif; margin: 2em; background: #f4f4f4; }}
section {{ display: flex; gap: 2em; background: #fff; margin: 1em 0; padding: 1em; border-radius: 8px; }}
h2 {{ width: 3em; margin: 0; }}
.phone {{ width: 20em; }}
.sms {{ white-space: pre-wrap; background: #e5e5ea; border-radius: 16px; padding: 0.8em; font: 15px sans-serif; }}
.over {{ color: #b00; font-weight: bold; }}
iframe {{ width: 28em; height: 11em; border: 1px solid #ddd; background: #fff; }}
.text {{ white-space: pre-wrap; color: #555; font-size: 12px; }}
</style></head>
<body><h1>Messages as they are sent</h1><p>With the current settings: {settings_line}.</p>
{"".join(rows)}
</body></html>
"""
