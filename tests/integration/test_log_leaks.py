"""No log line, metric or response ever holds a code or a full destination."""

import json
import logging

from tests.helpers import GOOD_IN, GOOD_US, wrong_code


def test_a_whole_session_of_traffic_leaks_nothing(make_api, aws, faults, backoff_sleeps, log_output, capfd):
    logging.getLogger("otp").setLevel(logging.DEBUG)
    try:
        api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
        codes, replies = [], []
        for destination, channel in ((GOOD_US, "sms"), (GOOD_IN, "sms"), ("grace@example.com", "email")):
            reply, code = api.issue(destination, channel=channel)
            codes.append(code)
            replies.append(reply)
            replies.append(api.verify({"destination": destination, "code": wrong_code(code)}))
            replies.append(api.verify({"destination": destination, "code": code}))
            replies.append(api.verify({"destination": destination, "code": code}))
        faults.fail("sns", "Publish", 400, "InvalidParameter")
        replies.append(api.generate({"channel": "sms", "destination": GOOD_US}))
        replies.append(api.generate({"channel": "sms", "destination": "+15555550100"}))
        replies.append(api.verify({"destination": GOOD_US, "code": "12345a"}))
    finally:
        logging.getLogger("otp").setLevel(logging.INFO)
    captured = capfd.readouterr()
    everything = log_output.getvalue() + captured.out + captured.err
    assert "code delivered" in everything
    assert "CodeVerified" in everything
    for line in log_output.getvalue().splitlines():
        json.loads(line)  # structured JSON, one object per line
    for secret in [*codes, GOOD_US, GOOD_IN, "grace@example.com", "9876543210", "4155552671"]:
        assert secret not in everything, secret
    for reply in replies:
        assert GOOD_US not in json.dumps(reply.body)
        assert GOOD_IN not in json.dumps(reply.body)
