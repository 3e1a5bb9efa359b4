"""One cold start, in a fresh process: import the handler (or the floor) and serve one request.

Prints one JSON line: milliseconds from before the first import to the end of the first response,
and the AWS clients the process created.
"""

import json
import sys
import time

started = time.perf_counter()

FLOOR_CLIENTS = {"generate": ["dynamodb", "kms", "sns"], "verify": ["dynamodb", "kms"]}


def main() -> None:
    kind, which, argument = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    if kind == "floor":
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        config = Config(retries={"mode": "standard", "total_max_attempts": 3})
        for service in FLOOR_CLIENTS[which]:
            session.client(service, config=config)
        result = {"ms": (time.perf_counter() - started) * 1000, "clients": FLOOR_CLIENTS[which]}
    else:
        import importlib

        module = importlib.import_module(f"handlers.{which}")
        from local.events import LambdaContext, http_api_event
        from otp.aws.clients import created_clients

        event = http_api_event("POST", f"/{which}", json.dumps(argument), headers={"content-type": "application/json"})
        response = module.lambda_handler(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        result = {"ms": elapsed, "status": response["statusCode"], "clients": created_clients()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
