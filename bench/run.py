"""`make bench`: cold start, AWS calls per request, latency and throughput, package size and cost,
each beside a floor measured in the same run on the same machine.

    python -m bench.run            # the full run; writes BENCHMARKS.md and prints the same tables
    python -m bench.run --quick    # a smoke run with few samples (used by the test suite)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGION = "ap-south-1"
SENDER = "bench@example.com"
TABLE = "otp_bench"
DESTINATION = "+14155552671"
FLOOR_CLIENTS = {"generate": ["dynamodb", "kms", "sns"], "verify": ["dynamodb", "kms"]}

# AWS list prices, us-east-1, checked 2026-11-28. The SMS or email itself is excluded.
PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
    "http_api_request": 1.00 / 1_000_000,
    "kms_request": 0.03 / 10_000,
    "dynamodb_write_unit": 0.625 / 1_000_000,
    "logs_ingested_gb": 0.50,
}
PRICES_DATE = "2026-11-28"
TWILIO_VERIFY_PER_VERIFICATION = 0.05
LAMBDA_MEMORY_GB = 512 / 1024  # serverless.yml memorySize
FLOOR_CALLS = {"generate": 3, "verify": 3}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- the emulator and the handlers in this process ------------------------------------------


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.sections: list[str] = []
        self.facts: dict[str, Any] = {}

    def add(self, title: str, text: str) -> None:
        block = f"## {title}\n\n{text}\n"
        self.sections.append(block)
        print(block, flush=True)

    def start_emulator(self) -> None:
        from local import stack
        from local.emulator import Emulator
        from local.runner import isolate_from_real_aws

        self.emulator = Emulator(REGION)
        self.emulator.start()
        isolate_from_real_aws(self.emulator.url, REGION)
        key_arn, digest_key_arn = self.emulator.provision(stack.table_shape(stack.load()), TABLE, SENDER)
        self.env = {
            **os.environ,
            "OTP_KMS_KEY_ID": key_arn,
            "OTP_DIGEST_KEY_ID": digest_key_arn,
            "OTP_TABLE_NAME": TABLE,
            "OTP_EMAIL_SENDER": SENDER,
            "OTP_RESEND_COOLDOWN_SECONDS": "0",
            "OTP_MAX_SENDS_PER_WINDOW": "0",
            "OTP_MAX_SENDS_PER_IP": "0",
            "OTP_MAX_ATTEMPTS": "10",
            "POWERTOOLS_METRICS_NAMESPACE": "OtpService",
        }
        os.environ.update(self.env)

    def latest_code(self, destination: str) -> str:
        self.emulator.collect()
        messages = [m for m in self.emulator.outbox() if m.destination == destination]
        return re.search(r"(?<!\d)\d{6}(?!\d)", messages[-1].body).group(0)

    # ---- cold start ---------------------------------------------------------------------------

    def cold_start(self) -> None:
        runs = 2 if self.quick else 12
        rows, ratios = [], {}
        import_tables = []
        for which in ("generate", "verify"):
            handler_ms, floor_ms, clients = [], [], set()
            for run in range(runs):
                if which == "generate":
                    argument = {"channel": "sms", "destination": DESTINATION, "purpose": f"cold-{run}"}
                else:
                    argument = self._pending(f"cold-verify-{run}")
                result = self._child("handler", which, argument)
                assert result["status"] in (200, 201), result
                handler_ms.append(result["ms"])
                clients.add(",".join(result["clients"]))
                floor_ms.append(self._child("floor", which, {})["ms"])
            [created] = clients
            if which == "verify":
                assert "sns" not in created and "sesv2" not in created, created
            ratio = statistics.median(handler_ms) / statistics.median(floor_ms)
            ratios[which] = ratio
            rows.append(
                [
                    which,
                    f"{statistics.median(handler_ms):.0f}",
                    f"{percentile(handler_ms, 0.9):.0f}",
                    f"{statistics.median(floor_ms):.0f}",
                    f"{percentile(floor_ms, 0.9):.0f}",
                    f"{ratio:.2f}",
                    created.replace(",", ", "),
                ]
            )
            import_tables.append(f"`{which}`, top 10 by cumulative import time:\n\n" + self._import_times(which))
        self.facts["cold_start_ratio"] = ratios
        text = (
            f"Each sample is a fresh `python` process ({runs} per row): from before the first import to the end "
            "of the first response, against the embedded emulator. The floor imports boto3 and creates only "
            "the clients that handler needs, and calls nothing.\n\n"
            + table(
                ["handler", "median ms", "p90 ms", "floor median ms", "floor p90 ms", "ratio", "clients created"],
                rows,
            )
            + "\n\n"
            + "\n\n".join(import_tables)
            + "\n\nWhat stays above the floor, and what removing it would take (the tables above measure "
            "each): pydantic, the validation the handlers are built on, stays; Powertools' event handler "
            "imports its whole package root (AppSync, Bedrock agents, asyncio) and its OpenAPI params, with "
            "no supported way around it in 3.37.0, which is also the newest release: a known upstream cost; "
            "this service's own modules build their pydantic models and routes at import; and the first "
            "request makes its AWS calls (the floor makes none), among them one KMS GenerateMac per "
            "container for the digest secret. SnapStart (deploy parameter snapStart) moves all imports and "
            "model loading to deploy time."
        )
        self.add("Cold start", text)

    def _pending(self, purpose: str) -> dict[str, str]:
        """A code waiting to be verified, for a verify cold start."""
        from handlers import generate
        from local.events import LambdaContext, http_api_event

        body = json.dumps({"channel": "sms", "destination": DESTINATION, "purpose": purpose})
        response = generate.lambda_handler(http_api_event("POST", "/generate", body), LambdaContext())
        assert response["statusCode"] == 201, response
        return {"destination": DESTINATION, "purpose": purpose, "code": self.latest_code(DESTINATION)}

    def _child(self, kind: str, which: str, argument: dict, *extra: str) -> dict:
        result = subprocess.run(
            [sys.executable, *extra, "-m", "bench.cold_start", kind, which, json.dumps(argument)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        self._last_stderr = result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def artifact_cold_start(self) -> None:
        """Cold starts of the zip that deploys, in the layout Lambda gives it, against a floor in the same layout."""
        from local import stack
        from local.artifact import LambdaArtifact
        from local.events import http_api_event

        runs = 1 if self.quick else 12
        # The AWS-calls section restored the default limits; pending codes here need them off again.
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("OTP_")})
        from handlers import generate

        _reload(generate)
        root = Path(tempfile.mkdtemp(prefix="otp-artifact-"))
        try:
            [archive] = self.package_dir.glob("*.zip")
            artifact = LambdaArtifact.unpack(archive, root)
            handlers = {name: f["handler"] for name, f in stack.load()["functions"].items()}
            rows, ratios = [], {}
            for which in ("generate", "verify"):
                handler_ms, floor_ms = [], []
                for run in range(runs):
                    if which == "generate":
                        body = {"channel": "sms", "destination": DESTINATION, "purpose": f"artifact-{run}"}
                    else:
                        body = self._pending(f"artifact-verify-{run}")
                    function = artifact.start(handlers[which], self.env)
                    try:
                        result = function.invoke(http_api_event("POST", f"/{which}", json.dumps(body)))
                    finally:
                        function.stop()
                    assert result["statusCode"] in (200, 201), result
                    handler_ms.append(function.cold_start_ms or 0.0)
                    floor_ms.append(self._artifact_floor(artifact, which))
                ratio = statistics.median(handler_ms) / statistics.median(floor_ms)
                ratios[which] = ratio
                rows.append(
                    [
                        which,
                        f"{statistics.median(handler_ms):.0f}",
                        f"{percentile(handler_ms, 0.9):.0f}",
                        f"{statistics.median(floor_ms):.0f}",
                        f"{ratio:.2f}",
                    ]
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(self.package_dir, ignore_errors=True)
        self.facts["artifact_cold_start_ratio"] = ratios
        text = (
            f"The zip that `serverless package` built, unpacked beside the pinned Powertools layer packages and "
            f"the runtime's boto3 as Lambda lays them out, each started in a fresh `python -I -S -B` that sees "
            f"only those folders ({runs} processes per row). Nothing is compiled beforehand except the bytecode "
            "the zip ships, and nothing is written, so every process compiles what the layer and the runtime "
            "do not ship compiled (in AWS those are usually precompiled: this is the pessimistic case). "
            "The floor runs in the same layout: it imports boto3 and creates only the clients that handler "
            "needs.\n\n" + table(["handler", "median ms", "p90 ms", "floor median ms", "ratio"], rows)
        )
        self.add("Cold start of the deployed artifact", text)

    def _artifact_floor(self, artifact: Any, which: str) -> float:
        script = (
            "import sys, time; started = time.perf_counter(); "
            f"sys.path[:0] = [{str(artifact.runtime)!r}]; "
            "import boto3; from botocore.config import Config; "
            "session = boto3.session.Session(); "
            "config = Config(retries={'mode': 'standard', 'total_max_attempts': 3}); "
            f"[session.client(s, config=config) for s in {FLOOR_CLIENTS[which]!r}]; "
            "print((time.perf_counter() - started) * 1000)"
        )
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", script],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return float(result.stdout.strip().splitlines()[-1])

    def _import_times(self, which: str) -> str:
        self._child(
            "handler",
            which,
            self._pending(f"importtime-{which}")
            if which == "verify"
            else {"channel": "sms", "destination": DESTINATION, "purpose": "importtime"},
            "-X",
            "importtime",
        )
        cumulative = []
        for line in self._last_stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if match:
                cumulative.append((int(match.group(2)), match.group(4)))
        top = sorted(cumulative, reverse=True)[:10]
        by_package: Counter[str] = Counter()
        for line in self._last_stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if match:
                by_package[_package_of(match.group(4))] += int(match.group(1))
        packages = by_package.most_common(10)
        return (
            table(["module", "cumulative ms"], [[f"`{name}`", f"{us / 1000:.0f}"] for us, name in top])
            + f"\n\n`{which}`, import time by package (each module's own time, summed):\n\n"
            + table(["package", "ms"], [[name, f"{us / 1000:.0f}"] for name, us in packages])
        )

    # ---- AWS calls per request ----------------------------------------------------------------

    def aws_calls(self) -> None:
        from handlers import generate, verify
        from local.events import LambdaContext, http_api_event
        from otp.aws.clients import client

        calls: list[str] = []

        def record(model: Any = None, **_: Any) -> None:
            calls.append(f"{model.service_model.service_name}:{model.name}")

        def invoke(
            module: Any, path: str, body: dict | None, headers: dict | None = None, method: str = "POST", vid: str = ""
        ) -> int:
            calls.clear()
            event = http_api_event(
                method,
                path,
                None if body is None else json.dumps(body),
                headers=headers,
                path_parameters={"verification_id": vid} if vid else None,
                route_key=f"{method} /verifications/{{verification_id}}{'/cancel' if path.endswith('/cancel') else ''}"
                if vid
                else None,
            )
            return module.lambda_handler(event, LambdaContext())["statusCode"]

        rows = []
        durations: dict[str, float] = {}
        log_bytes: dict[str, int] = {}

        def measure(
            name: str,
            module: Any,
            path: str,
            body: dict,
            expected: int,
            headers: dict | None = None,
            floor: int | None = None,
            why: str = "",
            method: str = "POST",
            vid: str = "",
        ) -> None:
            captured = io.StringIO()
            handlers = [h for h in logging.getLogger("otp").handlers if isinstance(h, logging.StreamHandler)]
            previous = [h.setStream(captured) for h in handlers]
            started = time.perf_counter()
            with contextlib.redirect_stdout(captured):  # the EMF metrics line
                status = invoke(module, path, body, headers, method, vid)
            durations[name] = (time.perf_counter() - started) * 1000
            for handler, stream in zip(handlers, previous, strict=True):
                handler.setStream(stream)
            log_bytes[name] = len(captured.getvalue().encode())
            assert status == expected, (name, status)
            rows.append([name, len(calls), floor if floor is not None else "", ", ".join(calls), why])
            self.facts.setdefault("calls", {})[name] = list(calls)

        # The contract's default limits, so that every generate takes its send allowance as in production.
        for name in ("OTP_RESEND_COOLDOWN_SECONDS", "OTP_MAX_SENDS_PER_WINDOW", "OTP_MAX_SENDS_PER_IP"):
            os.environ.pop(name, None)
        generate, verify = _reload(generate), _reload(verify)
        for service in ("kms", "dynamodb", "sns", "sesv2"):
            events = client(service).meta.events
            events.register(f"before-call.{client(service).meta.service_model.service_id.hyphenize()}", record)

        # Warm both handlers first: call counts and durations are per warm request.
        invoke(generate, "/generate", {"channel": "sms", "destination": "+33612345678", "purpose": "warm"})
        code = self.latest_code("+33612345678")
        invoke(verify, "/verify", {"destination": "+33612345678", "purpose": "warm", "code": code})

        one_write = "+1: the destination's limits are taken in one conditional write, before anything is spent"
        measure(
            "generate (SMS)",
            generate,
            "/generate",
            {"channel": "sms", "destination": DESTINATION},
            201,
            floor=3,
            why=one_write,
        )
        measure(
            "generate (SMS, with client_ip)",
            generate,
            "/generate",
            {"channel": "sms", "destination": "+34612345678", "purpose": "ip", "client_ip": "203.0.113.7"},
            201,
            floor=3,
            why="+1: the destination's limits and the end user's IP counter in one transaction",
        )
        measure(
            "generate (email)",
            generate,
            "/generate",
            {"channel": "email", "destination": "ada@example.com"},
            201,
            floor=3,
            why=one_write,
        )
        measure(
            "generate with Idempotency-Key",
            generate,
            "/generate",
            {"channel": "sms", "destination": "+919876543210", "purpose": "idem"},
            201,
            headers={"idempotency-key": "bench-1"},
            floor=3,
            why=one_write + "; +2: Powertools records the request in progress, then its answer",
        )
        code = self.latest_code("+919876543210")
        measure(
            "verify (right code)",
            verify,
            "/verify",
            {"destination": "+919876543210", "purpose": "idem", "code": code},
            200,
            floor=3,
        )
        invoke(generate, "/generate", {"channel": "sms", "destination": "+61491570156", "purpose": "wrong"})
        from tests.helpers import wrong_code

        wrong = wrong_code(self.latest_code("+61491570156"))
        measure(
            "verify (wrong code)",
            verify,
            "/verify",
            {"destination": "+61491570156", "purpose": "wrong", "code": wrong},
            403,
            floor=2,
            why="(floor: reserve and decrypt; the reserve also counts it against the destination's failure budget)",
        )
        invoke(generate, "/generate", {"channel": "email", "destination": "grace@example.com", "purpose": "late"})
        verify.deps.clock = lambda: time.time() + 3600
        try:
            measure(
                "verify (expired)",
                verify,
                "/verify",
                {"destination": "grace@example.com", "purpose": "late", "code": "000000"},
                410,
                floor=1,
                why="(floor: the refused reservation returns the record; no decrypt)",
            )
        finally:
            verify.deps.clock = time.time
        measure(
            "generate refused by a rate limit",
            generate,
            "/generate",
            {"channel": "sms", "destination": DESTINATION, "purpose": "again"},
            429,
            floor=1,
            why="(floor: one refused conditional write; no KMS call, no send)",
        )
        self._verification_calls(generate, measure_route=measure, invoke=invoke)
        self._derive_calls(generate, verify, calls)
        self.facts["warm_ms"] = durations
        self.facts["log_bytes"] = log_bytes
        text = (
            "Counted with a botocore `before-call` hook on every client, one warm request each. "
            "The mission's floor is 3 sequential calls for generate (KMS, DynamoDB, delivery) and 3 for verify "
            "(reserve, decrypt, consume).\n\n"
            + table(["request", "AWS calls", "floor", "operations, in order", "above the floor because"], rows)
        )
        self.add("AWS calls per request", text)

    def _verification_calls(self, generate: Any, measure_route: Any, invoke: Any) -> None:
        from handlers import verifications

        verifications = _reload(verifications)
        from otp.aws.clients import client

        client("dynamodb")  # the hook is on this shared client already
        body = {"channel": "sms", "destination": "+818012345678", "purpose": "status"}
        from local.events import LambdaContext, http_api_event

        created = generate.lambda_handler(http_api_event("POST", "/generate", json.dumps(body)), LambdaContext())
        vid = json.loads(created["body"])["verification_id"]
        for name, method, path, floor in (
            ("read a verification", "GET", f"/verifications/{vid}", 1),
            ("cancel a verification", "POST", f"/verifications/{vid}/cancel", 1),
        ):
            measure_route(name, verifications, path, None, 200, floor=floor, method=method, vid=vid)

    def _derive_calls(self, generate: Any, verify: Any, calls: list[str]) -> None:
        """The digest secret costs each container one KMS call, on its first request, and none after."""
        counts = {}
        for name, module, path, body in (
            ("generate", generate, "/generate", {"channel": "sms", "destination": "+447400123456"}),
            ("verify", verify, "/verify", {"destination": "+447400123456", "code": "000000"}),
        ):
            module.deps.digests.forget()
            per_request = []
            for _ in range(3):
                calls.clear()
                from local.events import LambdaContext, http_api_event

                module.lambda_handler(http_api_event("POST", path, json.dumps(body)), LambdaContext())
                per_request.append(calls.count("kms:GenerateMac"))
            counts[name] = per_request
        assert all(c == [1, 0, 0] for c in counts.values()), counts
        self.add(
            "The digest key per container",
            "`kms:GenerateMac` calls in the first three requests after a cold start: "
            + ", ".join(f"{name} {c}" for name, c in counts.items())
            + ". The calls above are warm requests, after it.",
        )

    # ---- latency and throughput through the local runner ------------------------------------

    def latency(self) -> None:
        config_path = self._config_with_floor_route()
        from tests.e2e.conftest import start_runner, stop_runner  # the same start and stop the e2e tests use

        logs = Path(tempfile.mkdtemp(prefix="otp-bench-"))
        launched = time.perf_counter()
        runner = start_runner(
            logs,
            LOCAL_SERVERLESS_YML=str(config_path),
            OTP_RESEND_COOLDOWN_SECONDS="0",
            OTP_MAX_SENDS_PER_WINDOW="0",
            OTP_MAX_SENDS_PER_IP="0",
        )
        startup_seconds = time.perf_counter() - launched
        self.facts["runner_startup_seconds"] = startup_seconds
        try:
            import requests

            session = requests.Session()
            count = 8 if self.quick else 150
            rows = []

            def timed(call) -> float:
                started = time.perf_counter()
                reply = call()
                assert reply.status_code < 300, reply.text
                return (time.perf_counter() - started) * 1000

            # One destination per request, as in production, where each user has a record of their own.
            def generate_for(name: str, http: Any = session) -> Any:
                body = {"channel": "email", "destination": f"{name}@bench.example"}
                return http.post(runner.url + "/generate", json=body, timeout=30)

            def verify_for(name: str, codes: dict[str, str], http: Any = session) -> Any:
                body = {"destination": f"{name}@bench.example", "code": codes[name]}
                return http.post(runner.url + "/verify", json=body, timeout=30)

            # Every worker process serves a few requests first, so that no cold start is in the samples.
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda i: generate_for(f"warm-{i}", requests), range(16)))
                list(pool.map(lambda _: requests.post(runner.url + "/floor", json={}, timeout=30), range(16)))

            # Codes for both verify runs are made one at a time, so the outbox order names their purposes.
            sequential_purposes = [f"seq-{i}" for i in range(count)]
            concurrent_purposes = [f"conc-{i}" for i in range(count)]
            gen_seq = [timed(lambda p=p: generate_for(p)) for p in sequential_purposes]
            seq_codes = self._codes_by_purpose(runner, sequential_purposes)
            for purpose in concurrent_purposes:
                generate_for(purpose)
            conc_codes = self._codes_by_purpose(runner, concurrent_purposes)
            ver_seq = [timed(lambda p=p: verify_for(p, seq_codes)) for p in sequential_purposes]
            floor_seq = [timed(lambda: session.post(runner.url + "/floor", json={}, timeout=30)) for _ in range(count)]

            def concurrent(make_call, items) -> tuple[list[float], float]:
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=8) as pool:
                    samples = list(pool.map(lambda item: timed(lambda: make_call(item)), items))
                return samples, len(items) / (time.perf_counter() - started)

            gen_conc, gen_rps = concurrent(lambda p: generate_for(p, requests), [f"load-{i}" for i in range(count)])
            ver_conc, ver_rps = concurrent(lambda p: verify_for(p, conc_codes, requests), concurrent_purposes)
            floor_conc, floor_rps = concurrent(
                lambda _: requests.post(runner.url + "/floor", json={}, timeout=30), range(count)
            )
            for name, seq, conc, rps in (
                ("generate", gen_seq, gen_conc, gen_rps),
                ("verify", ver_seq, ver_conc, ver_rps),
                ("floor: trivial handler", floor_seq, floor_conc, floor_rps),
            ):
                rows.append(
                    [
                        name,
                        f"{statistics.median(seq):.1f}",
                        f"{percentile(seq, 0.99):.1f}",
                        f"{statistics.median(conc):.1f}",
                        f"{percentile(conc, 0.99):.1f}",
                        f"{rps:.0f}",
                    ]
                )
            self.facts["latency"] = rows
        finally:
            stop_runner(runner)
            shutil.rmtree(logs, ignore_errors=True)
            config_path.unlink()
        text = (
            f"HTTP against `make run` (4 worker processes, the emulator in the runner), {count} requests per "
            "sequential column and per concurrent run (8 clients). The floor is a handler that returns at once, "
            "served by the same runner: the difference is this service's own work plus its emulated AWS calls. "
            f"The runner itself answered {startup_seconds:.1f} s after it was launched (the budget for `make run` "
            "after the first install is 3 s).\n\n"
            + table(
                [
                    "endpoint",
                    "sequential p50 ms",
                    "sequential p99 ms",
                    "8 clients p50 ms",
                    "8 clients p99 ms",
                    "8 clients req/s",
                ],
                rows,
            )
        )
        self.add("Latency and throughput (local runner)", text)

    def _config_with_floor_route(self) -> Path:
        text = (ROOT / "serverless.yml").read_text()
        addition = (
            "  floor:\n    handler: bench/floor.lambda_handler\n    events:\n      - httpApi:\n"
            "          method: POST\n          path: /floor\n"
        )
        text = text.replace("\nfunctions:\n", "\nfunctions:\n" + addition, 1)
        # Outside the work tree, so that an interrupted run leaves nothing there to commit.
        handle, name = tempfile.mkstemp(prefix="otp-bench-", suffix=".yml")
        os.close(handle)
        path = Path(name)
        path.write_text(text)
        return path

    @staticmethod
    def _codes_by_purpose(runner: Any, names: list[str]) -> dict[str, str]:
        by_destination = {m["destination"]: m["body"] for m in runner.outbox()}
        return {n: re.search(r"(?<!\d)\d{6}(?!\d)", by_destination[f"{n}@bench.example"]).group(0) for n in names}

    # ---- package size -------------------------------------------------------------------------

    def package_size(self) -> None:
        out = Path(tempfile.mkdtemp(prefix="otp-package-"))
        self.package_dir = out  # the artifact cold start below runs this very zip
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            subprocess.run(
                [
                    "npx",
                    "--no-install",
                    "serverless",
                    "package",
                    "--stage",
                    "bench",
                    "--region",
                    REGION,
                    "--package",
                    str(out),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                check=True,
                timeout=300,
            )
            template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
            rows = []
            for name, resource in template["Resources"].items():
                if resource["Type"] == "AWS::Lambda::Function":
                    key = resource["Properties"]["Code"]["S3Key"].rsplit("/", 1)[-1]
                    size = (out / key).stat().st_size
                    rows.append(
                        [
                            name.removesuffix("LambdaFunction").lower(),
                            key,
                            f"{size / 1024:.0f} KiB",
                            f"{size / (2 * 1024 * 1024):.2f}",
                        ]
                    )
                    self.facts["package_bytes"] = size
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
        text = (
            "Zip sizes from `serverless package` (the functions share one zip, with checked hash-based bytecode). "
            "Powertools and pydantic come from the AWS layer and boto3 from the runtime, so neither is in the "
            "zip. The budget is 2 MB.\n\n" + table(["function", "zip", "size", "of the 2 MB budget"], rows)
        )
        self.add("Package size", text)

    # ---- cost ---------------------------------------------------------------------------------

    def cost(self) -> None:
        calls = self.facts["calls"]
        warm = self.facts["warm_ms"]
        # The recommended deployment: IAM, with the backend passing the end user's client_ip.
        generate_calls = Counter(calls["generate (SMS, with client_ip)"])
        verify_calls = Counter(calls["verify (right code)"])
        kms = generate_calls["kms:Encrypt"] + verify_calls["kms:Decrypt"]
        # On-demand write units: 1 per item write under 1 KB; each of a transaction's 2 items costs 2.
        write_units = (
            generate_calls["dynamodb:TransactWriteItems"] * 2 * 2
            + generate_calls["dynamodb:UpdateItem"]
            + verify_calls["dynamodb:UpdateItem"]
        )
        billed_ms = max(1.0, warm["generate (SMS)"]) + max(1.0, warm["verify (right code)"])
        log_bytes = self.facts["log_bytes"]["generate (SMS)"] + self.facts["log_bytes"]["verify (right code)"]
        per_million = {
            "Lambda requests": 2 * PRICES["lambda_request"],
            "Lambda duration (arm64, 512 MB)": billed_ms / 1000 * LAMBDA_MEMORY_GB * PRICES["lambda_arm64_gb_second"],
            "HTTP API requests": 2 * PRICES["http_api_request"],
            f"KMS ({kms} requests)": kms * PRICES["kms_request"],
            f"DynamoDB on-demand ({write_units} write units)": write_units * PRICES["dynamodb_write_unit"],
            f"CloudWatch Logs ingestion ({log_bytes} bytes of logs and metrics)": log_bytes
            / 1024**3
            * PRICES["logs_ingested_gb"],
        }
        rows = [[item, f"${cost * 1_000_000:,.2f}"] for item, cost in per_million.items()]
        total = sum(per_million.values()) * 1_000_000
        twilio = TWILIO_VERIFY_PER_VERIFICATION * 1_000_000
        rows.append(["**total per 1,000,000 verifications**", f"**${total:,.2f}**"])
        rows.append(["Twilio Verify at $0.05 per verification", f"${twilio:,.0f}"])
        self.facts["cost"] = {"total": total, "twilio": twilio, "largest": max(per_million, key=per_million.get)}
        text = (
            f"One verification = one generate and one verify. List prices (us-east-1, {PRICES_DATE}) times the "
            f"calls counted above; Lambda duration uses the warm handler time measured here ({billed_ms:.0f} ms for "
            "the pair, against the emulator on loopback; in AWS each call adds network time). The SMS or email "
            "itself, the KMS key's $1 a month and free-tier allowances are left out.\n\n"
            + table(["item", "per 1,000,000 verifications"], rows)
            + f"\n\nThat is {twilio / total:,.0f} times cheaper than Twilio Verify, before the message itself. "
            f"The largest remaining cost is {self.facts['cost']['largest']}."
        )
        self.add("Cost model", text)


def _package_of(module: str) -> str:
    """Where an import's time goes: the Powertools parts apart, the standard library as one."""
    if module.startswith("aws_lambda_powertools.event_handler"):
        return "Powertools event handler (upstream)"
    if module.startswith("aws_lambda_powertools"):
        return "Powertools logger, metrics, shared"
    top = module.split(".")[0].lstrip("_")
    if top in ("pydantic", "pydantic_core", "annotated_types", "typing_inspection"):
        return "pydantic (stays: the validation we want)"
    if top in ("botocore", "urllib3", "jmespath", "dateutil", "six"):
        return "botocore and its dependencies (the floor pays them too)"
    if top in ("otp", "handlers"):
        return "this service (otp/, handlers/)"
    if top in sys.stdlib_module_names:
        return "standard library"
    return top


def _reload(module: Any) -> Any:
    import importlib

    return importlib.reload(module)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    bench = Bench(quick=args.quick)
    bench.start_emulator()
    try:
        bench.cold_start()
        bench.aws_calls()
        bench.latency()
        bench.package_size()
        bench.artifact_cold_start()
        bench.cost()
    finally:
        bench.emulator.stop()
    header = (
        "# Benchmarks\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({platform.machine()}), "
        f"Python {platform.python_version()}, in {time.perf_counter() - started:.0f} s"
        f"{' (--quick: too few samples to quote)' if args.quick else ''}. "
        "Reproduce with `make bench`; it rewrites this file.\n\n"
        "Timings here come from one machine and an emulator, not from AWS: compare each row with its floor, "
        "measured in the same run, rather than with numbers from elsewhere.\n"
    )
    args.output.write_text(header + "\n" + "\n".join(bench.sections))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
