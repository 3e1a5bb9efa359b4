"""What a voice call says: the brand, the code digit by digit, the code again, the validity.

A language's file holds, under ``voice``, the Polly voice (``voice_id``, one of those
SendVoiceMessage's model lists) and three sentences: ``intro`` (names ``{brand}``, leads to the
code), ``again`` (leads to the repeated code) and ``validity`` (names ``{minutes}``). The order is
fixed here, not in the files, so no language can drop the repetition. A language without a
voice (SendVoiceMessage has none for Hindi or Indonesian) is spoken in the closest language that
has one, else the default locale, else English; ``Voice.language`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass

from otp.messages import catalog, minutes_of, substitute

_DIGIT_PAUSE = '<break time="300ms"/>'
_SENTENCE_PAUSE = '<break time="700ms"/>'


@dataclass(frozen=True)
class Voice:
    ssml: str
    text: str  # the same words, as the user hears them
    language: str  # the language spoken: the 201 `locale`
    voice_id: str


def voice_language(locale: str, default: str) -> str:
    """The language a call in ``locale`` is spoken in."""
    texts = catalog()
    primary = locale.split("-")[0]
    for candidate in (locale, primary, default, default.split("-")[0], "en"):
        if "voice_id" in texts.get(candidate, {}).get("voice", {}):
            return candidate
    voiced = sorted(name for name, entries in texts.items() if "voice_id" in entries.get("voice", {}))
    if not voiced:
        raise ValueError("no message file has a voice")
    return voiced[0]


def render_voice(locale: str, code: str, brand: str, ttl_seconds: int, default: str) -> Voice:
    # Imported here: xml.sax pulls in urllib.request, a cold-start cost for every generate, and
    # only a call needs it.
    from xml.sax.saxutils import escape

    language = voice_language(locale, default)
    voice = catalog()[language]["voice"]
    minutes = minutes_of(ttl_seconds)
    intro = substitute(voice["intro"], brand=brand, code="", minutes=minutes)
    again = substitute(voice["again"], brand=brand, code="", minutes=minutes)
    validity = substitute(voice["validity"], brand=brand, code="", minutes=minutes)
    # Each digit on its own, with a pause after it, so that no engine reads 123456 as a number.
    spoken = _DIGIT_PAUSE.join(f'<say-as interpret-as="characters">{digit}</say-as>' for digit in code)
    ssml = (
        f"<speak>{escape(intro)}{_DIGIT_PAUSE}{spoken}{_SENTENCE_PAUSE}"
        f"{escape(again)}{_DIGIT_PAUSE}{spoken}{_SENTENCE_PAUSE}{escape(validity)}</speak>"
    )
    digits = " ".join(code)
    text = f"{intro} {digits}. {again} {digits}. {validity}"
    return Voice(ssml=ssml, text=text, language=language, voice_id=voice["voice_id"])
