"""The pumping guard's block list, for operators: `make blocks` and `make unblock PREFIX=447911`.

Against a deployment (STAGE, REGION) this runs ``python -m otp.aws.pumping list|lift`` with the
table and the digest key that the stack ``otp-<stage>`` names in its outputs, under the caller's
own AWS credentials. Against a running `make run` (``--local``, what ``LOCAL=1`` selects) it asks
the runner's GET /_local/blocks and DELETE /_local/blocks/<prefix>, which do the same against the
emulator: the emulator answers only the runner's own clients, so this process cannot ask it.

Either way a lift takes effect without a redeploy: generate reads the block list again within
OTP_FRAUD_REACTION_SECONDS.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from local.workers import write_log_line


class NoBlock(LookupError):
    pass


class LocalBlocks:
    """The block list in the runner's emulator, read and lifted with otp.aws.pumping's own store."""

    def __init__(self, emulator: Any, table_name: str, digest_key_id: str, window_seconds: int) -> None:
        """``window_seconds``: OTP_FRAUD_WINDOW_SECONDS, which shapes the keys of the counts items."""
        self._emulator = emulator
        self._table = table_name
        self._digest_key_id = digest_key_id
        self._window = window_seconds

    @functools.cached_property
    def _store(self) -> tuple[Any, Any]:
        from otp.aws.kms import KmsSecretDeriver
        from otp.aws.pumping import DynamoDbPumpingCounts
        from otp.domain.keys import DIGEST_LABEL
        from otp.domain.prefix_keys import PrefixKeys

        # The runner's own clients: its environment holds only the public pair the emulator refuses.
        deriver = KmsSecretDeriver(self._digest_key_id, lambda: self._emulator.client("kms"))
        keys = PrefixKeys(functools.cache(lambda: deriver.derive(DIGEST_LABEL)))
        counts = DynamoDbPumpingCounts(self._table, lambda: self._emulator.client("dynamodb"), self._window)
        return keys, counts

    def list(self) -> list[dict[str, Any]]:
        """What ``python -m otp.aws.pumping list`` prints, one object per block, oldest first."""
        from otp.aws.pumping import listed_blocks

        keys, counts = self._store
        return listed_blocks(keys, counts, int(time.time()))

    def lift(self, prefix: str) -> dict[str, str]:
        """Lift the block on ``prefix`` (digits, a leading + allowed); NoBlock when there is none."""
        from otp.aws.pumping import lift_prefix

        keys, counts = self._store
        done = lift_prefix(keys, counts, prefix, int(time.time()))
        if done is None:
            raise NoBlock(prefix.removeprefix("+"))
        lifted_prefix, digest, lifted = done
        # The line `python -m otp.aws.pumping lift` logs, with the country: never a number.
        write_log_line(
            json.dumps(
                {
                    "level": "WARNING",
                    "location": "local.blocks",
                    "message": "prefix unblocked",
                    "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
                    "prefix": lifted_prefix,
                    "prefix_digest": digest,
                    "country": lifted.country,
                    "reason": "lifted",
                }
            )
        )
        return {"lifted": lifted_prefix, "prefix_digest": digest}


def answer_blocks(blocks: LocalBlocks | None, method: str, prefix: str) -> tuple[int, dict[str, Any]]:
    """The runner's GET /_local/blocks (the list) and DELETE /_local/blocks/<prefix> (a lift)."""
    if blocks is None:
        return 404, {"error": {"code": "not_found", "message": "The table has no stream consumer."}}
    try:
        if method == "GET":
            return 200, {"blocks": blocks.list()}
        return 200, blocks.lift(prefix)
    except NoBlock:
        return 404, {"error": {"code": "not_found", "message": f"No block on {prefix}."}}
    except ValueError as exc:
        return 400, {"error": {"code": "invalid_request", "message": str(exc)}}


# ---- the command ------------------------------------------------------------------------------------


def _local(action: str, prefix: str | None, port: str) -> int:
    base = f"http://127.0.0.1:{port}/_local/blocks"
    url = base if action == "list" else f"{base}/{urllib.parse.quote(prefix or '')}"
    request = urllib.request.Request(url)  # noqa: S310 (loopback http, built here)
    request.method = "GET" if action == "list" else "DELETE"
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (loopback)
            answer = json.load(reply)
    except urllib.error.HTTPError as refused:
        message = json.load(refused).get("error", {}).get("message", refused.reason)
        print(message, file=sys.stderr)
        return 1 if refused.code == 404 else 2
    except (urllib.error.URLError, OSError):
        print(f"no `make run` answers on 127.0.0.1:{port} (PORT sets another)", file=sys.stderr)
        return 2
    for shown in answer["blocks"] if action == "list" else [answer]:
        print(json.dumps(shown))
    return 0


def _deployed(action: str, prefix: str | None, stage: str, region: str) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    stack = f"otp-{stage}"
    try:
        found = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
    except (BotoCoreError, ClientError) as exc:
        print(f"cannot read the stack {stack} in {region}: {exc}", file=sys.stderr)
        return 2
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    if "TableName" not in outputs or "DigestKeyArn" not in outputs:
        print(f"the stack {stack} has no TableName or DigestKeyArn output", file=sys.stderr)
        return 2
    environ = {
        **os.environ,
        "OTP_TABLE_NAME": outputs["TableName"],
        "OTP_DIGEST_KEY_ID": outputs["DigestKeyArn"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    command = [sys.executable, "-m", "otp.aws.pumping", action, *([prefix] if prefix else [])]
    return subprocess.run(command, env=environ, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.blocks", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("list", "lift"))
    parser.add_argument("prefix", nargs="?", help="lift: the prefix as listed (447911)")
    parser.add_argument("--local", action="store_true", help="the `make run` on 127.0.0.1:$PORT (default 3000)")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--region", default="ap-south-1")
    options = parser.parse_args(argv)
    if (options.action == "lift") != bool(options.prefix):
        parser.error("lift takes one prefix (447911); list takes none")
    if options.local:
        return _local(options.action, options.prefix, os.environ.get("PORT", "3000"))
    return _deployed(options.action, options.prefix, options.stage, options.region)


if __name__ == "__main__":
    sys.exit(main())
