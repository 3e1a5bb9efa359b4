"""Open routes (openEndpoints=true) refuse what a web page on another origin could send through its
visitors' browsers: a non-JSON POST (415, before anything else) and a foreign Origin (403)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import GOOD_US

OPEN = {"iam_authorized": False, "source_ip": "198.51.100.20"}
BODY = {"channel": "sms", "destination": GOOD_US}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_post_that_is_not_json_is_415_and_sends_nothing(api, aws, content_type):
    reply = api.generate(json.dumps(BODY), headers={"content-type": content_type}, **OPEN)
    assert reply.status == 415
    assert reply.error == "unsupported_media_type"
    assert aws.sms() == []


def test_a_body_without_a_content_type_is_415(api, aws):
    assert api.generate(json.dumps(BODY), headers={}, **OPEN).status == 415
    assert aws.sms() == []


def test_json_with_parameters_passes(api):
    reply = api.generate(json.dumps(BODY), headers={"content-type": "application/json; charset=utf-8"}, **OPEN)
    assert reply.status == 201


def test_a_foreign_origin_is_403_and_a_configured_one_passes(make_api, aws):
    api = make_api(OTP_CORS_ORIGINS="https://app.example.com")
    json_headers = {"content-type": "application/json"}
    foreign = api.generate(BODY, headers={**json_headers, "origin": "https://evil.example"}, **OPEN)
    assert foreign.status == 403
    assert foreign.error == "origin_not_allowed"
    assert aws.sms() == []
    verify = api.verify(
        {"destination": GOOD_US, "code": "123456"}, headers={**json_headers, "origin": "https://evil.example"}, **OPEN
    )
    assert verify.status == 403
    assert verify.body["verified"] is False
    allowed = api.generate(BODY, headers={**json_headers, "origin": "https://app.example.com"}, **OPEN)
    assert allowed.status == 201


def test_with_no_origins_configured_any_origin_is_refused(api):
    reply = api.generate(BODY, headers={"content-type": "application/json", "origin": "https://a.example"}, **OPEN)
    assert reply.status == 403


def test_under_iam_the_body_is_json_whatever_the_content_type(api):
    reply = api.generate(json.dumps(BODY), headers={"content-type": "text/plain", "origin": "https://x.example"})
    assert reply.status == 201
