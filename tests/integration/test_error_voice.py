"""One voice in errors: every details[].message is the project's own, short and lower-case, saying
what is expected; no pydantic wording or prefix leaks through. Sent through the real handlers."""

from __future__ import annotations

import re

import pytest

from tests.helpers import GOOD_US

# Lower-case, starting with what is expected; names (JSON, IPv4, BCP 47) keep their capitals; no full stop.
STYLE = re.compile(r"^(must |is required|is not a field)[A-Za-z0-9 ,;:.'\"{}()+_@/-]*(?<!\.)$")
LEAKS = ("Input should", "Value error", "Field required", "Extra inputs", "String should", "validation error")

MALFORMED_GENERATE = [
    {},
    {"channel": "sms"},
    {"destination": GOOD_US},
    {"channel": "fax", "destination": GOOD_US},
    {"channel": 7, "destination": GOOD_US},
    {"channel": "sms", "destination": ""},
    {"channel": "sms", "destination": "x" * 400},
    {"channel": "sms", "destination": "not a number"},
    {"channel": "sms", "destination": "+15555550100"},
    {"channel": "email", "destination": "no-at-sign"},
    {"channel": "sms", "destination": GOOD_US, "purpose": "Not Allowed!"},
    {"channel": "sms", "destination": GOOD_US, "purpose": 5},
    {"channel": "sms", "destination": GOOD_US, "client_ip": "999.1.1.1"},
    {"channel": "sms", "destination": GOOD_US, "locale": "en_US"},
    {"channel": "sms", "destination": GOOD_US, "extra": True},
    {"channel": "voice", "destination": GOOD_US},
]
MALFORMED_VERIFY = [
    {},
    {"destination": GOOD_US},
    {"destination": GOOD_US, "code": "12"},
    {"destination": GOOD_US, "code": 123456},
    {"destination": GOOD_US, "code": "123456", "verification_id": "bad id!"},
    {"destination": GOOD_US, "code": "123456", "client_ip": "nope"},
    {"destination": GOOD_US, "code": "123456", "surprise": 1},
]


def assert_in_one_voice(reply) -> None:
    assert reply.status == 400, reply.body
    assert reply.error == "invalid_request"
    for problem in reply.body["error"]["details"]:
        message = problem["message"]
        assert not any(leak in message for leak in LEAKS), problem
        assert STYLE.match(message), problem
        assert len(message) <= 120, problem


@pytest.mark.parametrize("body", MALFORMED_GENERATE)
def test_every_malformed_generate_field_is_explained_in_the_projects_words(api, body):
    assert_in_one_voice(api.generate(body))


@pytest.mark.parametrize("body", MALFORMED_VERIFY)
def test_every_malformed_verify_field_is_explained_in_the_projects_words(api, body):
    assert_in_one_voice(api.verify(body))


@pytest.mark.parametrize("body", ["[]", "not json", '"a string"', "null"])
def test_a_body_that_is_not_an_object_is_explained_too(api, body):
    assert_in_one_voice(api.generate(body))


def test_every_rate_limit_says_its_reason_and_when(make_api):
    api = make_api()
    assert api.generate({"channel": "sms", "destination": GOOD_US}).status == 201
    refused = api.generate({"channel": "sms", "destination": GOOD_US})
    assert refused.body["error"]["reason"] == "cooldown"
    wait = refused.body["error"]["retry_after"]
    assert refused.body["error"]["message"] == (
        f"A code was sent to this destination moments ago. A new code can be sent in {wait} s."
    )
