"""Generated requests against the runner over HTTP: never a 5xx, always the contract's answers.

A fixed seed keeps `make test` repeatable; `make fuzz` (FUZZ_EXAMPLES=5000) runs longer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "openapi.json").read_text())
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
SENT = {"/generate": 0, "/verify": 0, "/verifications/{verification_id}": 0}
VERIFICATION = "/verifications/{verification_id}"

ERROR_CODES = {
    "/generate": {
        400: {"invalid_request"},
        403: {"destination_not_allowed"},
        409: {"idempotency_conflict", "request_in_progress"},
        413: {"payload_too_large"},
        429: {"rate_limited"},
        502: set(),
    },
    "/verify": {
        400: {"invalid_request"},
        403: {"invalid_code"},
        404: {"not_found"},
        410: {"expired"},
        413: {"payload_too_large"},
        429: {"too_many_attempts"},
    },
    VERIFICATION: {400: {"invalid_request"}, 404: {"not_found"}, 405: {"method_not_allowed"}, 409: {"not_pending"}},
}

phones = st.sampled_from(
    [
        "+14155552671",
        "+919876543210",
        "+91 98765 43210",
        "+15555550100",
        "+18002530000",
        "+449098790879",
        "4155552671",
        "+",
        "+0",
        "++1",
        "+1-800-FLOWERS",
        "+1" + "2" * 40,
    ]
)
emails = st.sampled_from(["ada@example.com", "A@EXAMPLE.COM", "user@bücher.de", "a@b", "@", "ü@x.io", "a" * 400])
codes = st.sampled_from(["123456", " 123456 ", "12345", "1234567", "١٢٣٤٥٦", "12a456", ""]) | st.from_regex(
    r"\A[0-9]{4,10}\Z"
)
odd_text = st.text(max_size=80)  # any code point, lone surrogates included (JSON escapes them)
huge_numbers = st.integers(min_value=-(2**80), max_value=2**80) | st.just(10**400) | st.floats()
junk = (
    st.none()
    | st.booleans()
    | huge_numbers
    | odd_text
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)
value = phones | emails | codes | junk | st.sampled_from(["sms", "email", "default", "login", "Login!", "x" * 40])
field = st.sampled_from(["channel", "destination", "purpose", "code", "verification_id", "unknown", ""])
objects = st.dictionaries(field, value, max_size=6)
purposes = st.sampled_from(["default", "login", "a" * 32, "A"])
well_formed_generate = st.fixed_dictionaries(
    {"channel": st.just("sms"), "destination": phones}, optional={"purpose": purposes}
) | st.fixed_dictionaries({"channel": st.just("email"), "destination": emails}, optional={"purpose": purposes})
well_formed_verify = st.fixed_dictionaries(
    {"destination": phones | emails, "code": codes}, optional={"purpose": purposes}
)


def dumps(document) -> str:
    return json.dumps(document, allow_nan=True)


def bodies(well_formed: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        objects.map(dumps),
        # Listed three times, so that about a third of the requests get past validation.
        well_formed.map(dumps),
        well_formed.map(dumps),
        well_formed.map(dumps),
        objects.map(lambda d: dumps(d)[:-1]),  # truncated JSON
        st.binary(max_size=300),  # arrives as a base64 event when it is not UTF-8
        odd_text,
        junk.map(dumps),
        st.just("[" * 2000 + "]" * 2000),
        st.just('{"code": 1' + "0" * 5000 + "}"),
        st.just(""),
    )


content_types = st.sampled_from(
    [
        None,
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=z",
        "application/octet-stream",
    ]
)
idempotency_keys = (
    st.none()
    | st.none()
    | st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=140).filter(
        lambda key: key == key.strip()  # HTTP itself trims what surrounds a header value
    )
)


def response_schema(path: str, status: int, method: str = "post") -> dict:
    responses = SPEC["paths"][path][method]["responses"]
    assert str(status) in responses, f"{path} answered {status}, which the OpenAPI document does not describe"
    reference = responses[str(status)]["content"]["application/json"]["schema"]
    return {**reference, "components": SPEC["components"]}


def check(path: str, reply: requests.Response, documented_as: tuple[str, str] | None = None) -> None:
    SENT[path] += 1
    assert reply.status_code < 500 or reply.status_code == 502, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    unrouted = {404: "not_found", 405: "method_not_allowed"}
    if documented_as and unrouted.get(reply.status_code) == body.get("error", {}).get("code"):
        pass  # a path that matches no route once the client normalized it (an empty id, "." or "..")
    else:
        spec_path, method = documented_as or (path, "post")
        jsonschema.validate(body, response_schema(spec_path, reply.status_code, method))
    if reply.status_code >= 400:
        assert body["error"]["code"] in ERROR_CODES[path][reply.status_code], body
        if path == "/verify":
            assert body["verified"] is False
    if reply.status_code in (429, 503) and path == "/generate":
        assert reply.headers["retry-after"] == str(body["error"]["retry_after"])


def send(runner, path: str, body, content_type: str | None, key: str | None = None) -> requests.Response:
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return requests.post(runner.url + path, data=data, headers=headers, timeout=30)


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same requests on every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@FUZZ
@given(body=bodies(well_formed_generate), content_type=content_types, key=idempotency_keys)
def test_fuzz_generate(runner, body, content_type, key):
    check("/generate", send(runner, "/generate", body, content_type, key))


@FUZZ
@given(body=bodies(well_formed_verify), content_type=content_types)
def test_fuzz_verify(runner, body, content_type):
    check("/verify", send(runner, "/verify", body, content_type))


ids = (
    st.sampled_from(["", ".", "..", "../../etc/passwd", "%2F", "a%2Fb", "vrf_", "vrf_" + "A" * 36 + "_default"])
    | st.text(max_size=300)
    | st.from_regex(r"\Avrf_[A-Za-z0-9_-]{30,40}_[a-z0-9._-]{0,40}\Z")
    | st.text(
        alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF, exclude_categories=("Cs",)), max_size=50
    )
    | st.just("x" * 3000)
)


@FUZZ
@given(verification_id=ids, cancel=st.booleans(), body=st.sampled_from([None, "{}", "[]", '{"a": 1}', "null"]))
def test_fuzz_verification_ids(runner, verification_id, cancel, body):
    quoted = requests.utils.quote(verification_id, safe="%")
    path = f"/verifications/{quoted}" + ("/cancel" if cancel else "")
    if cancel:
        reply = requests.post(runner.url + path, data=body, timeout=30)
        documented = (VERIFICATION + "/cancel", "post")
    else:
        reply = requests.get(runner.url + path, timeout=30)
        documented = (VERIFICATION, "get")
    check(VERIFICATION, reply, documented)


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    from tests.e2e.conftest import AUDIT

    AUDIT["fuzzed"] = dict(SENT)
