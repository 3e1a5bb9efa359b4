"""One cold start, in a fresh process: import a handler (or the floor) and serve one request.

    python -m bench.first_request handler|floor generate|verify '<request body as JSON>'

Prints one JSON line: milliseconds from before the first import to the end of the first response,
and the AWS clients the process created. bench/cold_start.py and bench/import_time.py run it.
"""

import json
import sys
import time
from typing import Any

started = time.perf_counter()

# The clients each function creates; the floor creates the same and calls nothing.
FLOOR_CLIENTS = {"generate": ["dynamodb", "kms", "sns"], "verify": ["dynamodb", "kms"]}
# generate with another provider (bench/provider_cold_start.py): its client instead of SNS's.
FLOOR_CLIENTS.update(
    {
        "generate-eum": ["dynamodb", "kms", "pinpoint-sms-voice-v2"],
        "generate-notify": ["dynamodb", "kms", "pinpoint-sms-voice-v2"],
        "generate-whatsapp": ["dynamodb", "kms", "socialmessaging"],
    }
)


def floor(which: str) -> dict[str, object]:
    import boto3
    from botocore.config import Config

    session: Any = boto3.session.Session()  # typed per service literal; the names here are data
    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    for service in FLOOR_CLIENTS[which]:
        session.client(service, config=config)
    return {"ms": (time.perf_counter() - started) * 1000, "clients": FLOOR_CLIENTS[which]}


def handler(which: str, body: dict[str, object]) -> dict[str, object]:
    import importlib

    module = importlib.import_module(f"handlers.{which}")
    from local.events import LambdaContext, http_api_event

    event = http_api_event("POST", f"/{which}", json.dumps(body), headers={"content-type": "application/json"})
    response = module.lambda_handler(event, LambdaContext())
    elapsed = (time.perf_counter() - started) * 1000
    from bench.service import created_clients  # after the clock stops: not part of the cold start

    return {"ms": elapsed, "status": response["statusCode"], "clients": created_clients()}


def main() -> None:
    kind, which, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    print(json.dumps(floor(which) if kind == "floor" else handler(which, body)))


if __name__ == "__main__":
    main()
