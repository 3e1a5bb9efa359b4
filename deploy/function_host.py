"""One function's execution environment for the IAM proof: its handler, in a process of its own.

    python -m deploy.function_host INPUT.json OUTPUT.json

The parent sets this process's environment to what the emulated Lambda holds for the function
(plus the emulator's endpoint and throw-away credentials), as Lambda would. INPUT names the handler
and the API Gateway requests to send it (or, as ``event``, a stream batch or a schedule's event);
OUTPUT receives each response and every AWS request the handler made. The handler's logs go to
stdout as in Lambda, so results travel through a file.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from deploy.recorder import Recorder
from local.events import LambdaContext, http_api_event


def run(spec: dict[str, Any]) -> dict[str, Any]:
    recorder = Recorder(spec["function"], spec["region"], spec["account"], spec["partition_key"])
    recorder.install()
    try:
        module_path, _, attribute = spec["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_path.replace("/", ".")), attribute)
        responses = []
        for request in spec["requests"]:
            if "event" in request:  # a stream batch or a schedule's tick, as Lambda hands it over
                context = LambdaContext(function_name=spec["function_name"])
                responses.append({"status": None, "body": handler(request["event"], context)})
                continue
            event = http_api_event(
                request["method"],
                request["path"],
                json.dumps(request["body"]) if "body" in request else None,
                headers={"content-type": "application/json", **request.get("headers", {})},
                path_parameters=request.get("path_parameters"),
                route_key=request.get("route_key"),
            )
            context = LambdaContext(function_name=spec["function_name"])
            reply = handler(event, context)
            responses.append({"status": reply["statusCode"], "body": json.loads(reply.get("body") or "null")})
    finally:
        recorder.uninstall()
    return {"responses": responses, "requests": [r.to_json() for r in recorder.requests]}


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    target.write_text(json.dumps(run(json.loads(source.read_text()))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
