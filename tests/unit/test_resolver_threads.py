"""Two events resolved at once in one process each see their own event and routing context.

Lambda never does this, but the integration tests race handlers in threads, and a cancel once read
a concurrent verify's body there (a 400 for a bodiless cancel).
"""

from __future__ import annotations

import json
import threading

from aws_lambda_powertools.event_handler import Response

from local.events import LambdaContext, http_api_event
from otp.http.app import create_resolver


def test_a_route_held_while_another_event_is_resolved_still_sees_its_own_body_and_context():
    app = create_resolver()
    held, release = threading.Event(), threading.Event()

    @app.post("/slow")
    def slow() -> Response[str]:
        app.append_context(channel="slow")
        held.set()
        assert release.wait(timeout=30)
        seen = {"body": app.current_event.body, "channel": app.context.get("channel")}
        return Response(status_code=200, content_type="application/json", body=json.dumps(seen))

    @app.post("/fast")
    def fast() -> Response[str]:
        app.append_context(channel="fast")
        return Response(status_code=200, content_type="application/json", body="{}")

    answers = {}

    def resolve(name: str, body: str) -> None:
        event = http_api_event("POST", f"/{name}", body, {"content-type": "application/json"})
        answers[name] = app.resolve(event, LambdaContext(function_name="otp-test"))

    slow_thread = threading.Thread(target=resolve, args=("slow", '{"mine": 1}'))
    slow_thread.start()
    try:
        assert held.wait(timeout=30)
        resolve("fast", '{"theirs": 2}')  # resolves whole, and clears its routing context, meanwhile
    finally:
        release.set()
        slow_thread.join(timeout=30)
    assert answers["fast"]["statusCode"] == 200
    assert json.loads(answers["slow"]["body"]) == {"body": '{"mine": 1}', "channel": "slow"}


def test_an_answer_that_fails_its_own_model_is_a_500_not_the_callers_400():
    app = create_resolver()

    @app.get("/broken")
    def broken() -> Response[dict]:
        return Response(status_code=200, content_type="application/json", body="not an object")

    answer = app.resolve(http_api_event("GET", "/broken", None), LambdaContext(function_name="otp-test"))
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["error"]["code"] == "internal_error"
