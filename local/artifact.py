"""The deployed function as Lambda runs it: the packaged zip, the Powertools layer and the runtime's boto3.

Lambda puts the zip in /var/task, the layer in /opt/python and boto3 in the runtime's own folder;
nothing else is importable. ``LambdaArtifact`` lays out the same three folders from the zip that
`serverless package` built and from the exact distributions requirements.txt pins, without any
compiled bytecode except what the zip itself ships, and runs a handler in a fresh interpreter
that sees only those folders. The artifact tests and `make bench` both use it.

It also writes the botocore data the zip ships (``python -m local.artifact models``), from the
botocore that requirements.txt pins: the functions read their service models from the zip alone.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What the AWS-managed Powertools layer provides (it bundles pydantic), and what the python3.13
# runtime provides, as pinned in requirements.txt.
LAYER = [
    "aws-lambda-powertools",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
]
RUNTIME = ["boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"]
# An SDK older than the End User Messaging operations the functions call: botocore 1.34.145 (July
# 2024) has no socialmessaging service and no SendNotify* operations. AWS documents no fixed SDK
# version for the python3.13 runtime (it "depends on the runtime version and your AWS Region"), so
# the artifact tests also run the zip on this one, with the shipped models standing in.
OLDER_RUNTIME_SDK = ("boto3==1.34.145", "botocore==1.34.145")

# A child serves one JSON event per line of stdin and answers one JSON line per event, like one
# Lambda execution environment. It runs with -I -S -B: no site-packages, no PYTHON* variables, no
# bytecode written, so every start compiles whatever the folders do not ship compiled.
_CHILD = r"""
import json, sys, time
started = time.perf_counter()
sys.path[:0] = json.loads(sys.argv[1])
module_name, attribute = sys.argv[2], sys.argv[3]
out = sys.stdout
sys.stdout = sys.stderr  # the function's logs and metrics; the answers alone go to the real stdout
import importlib
handler = getattr(importlib.import_module(module_name), attribute)

class Context:
    function_name = "otp-artifact"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:otp-artifact"
    aws_request_id = "artifact"
    function_version = "$LATEST"
    log_group_name = "/aws/lambda/otp-artifact"
    log_stream_name = "artifact"
    def get_remaining_time_in_millis(self):
        return 10000

first = True
for line in sys.stdin:
    result = handler(json.loads(line), Context())
    answer = {"result": result}
    if first:
        answer["cold_start_ms"] = (time.perf_counter() - started) * 1000
        answer["modules"] = sorted(sys.modules)
        first = False
    out.write(json.dumps(answer) + "\n")
    out.flush()
"""


@dataclass
class LambdaArtifact:
    root: Path

    @property
    def task(self) -> Path:
        return self.root / "var-task"

    @property
    def layer(self) -> Path:
        return self.root / "opt" / "python"

    @property
    def runtime(self) -> Path:
        return self.root / "var-runtime"

    @property
    def search_path(self) -> list[str]:
        return [str(self.task), str(self.layer), str(self.runtime)]

    @classmethod
    def unpack(cls, zip_path: Path, into: Path, runtime_sdk: tuple[str, ...] | None = None) -> LambdaArtifact:
        """``runtime_sdk`` (pip requirements) replaces the pinned boto3 and botocore in the runtime folder."""
        artifact = cls(into)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(artifact.task)
        runtime = RUNTIME if runtime_sdk is None else [n for n in RUNTIME if n not in ("boto3", "botocore")]
        for names, folder in ((LAYER, artifact.layer), (runtime, artifact.runtime)):
            for name in names:
                _copy_distribution(name, folder)
        if runtime_sdk is not None:
            _pip_install(runtime_sdk, artifact.runtime)
        return artifact

    def start(self, handler: str, env: dict[str, str]) -> LambdaProcess:
        """Start one execution environment for ``handler`` (as serverless.yml names it: path/module.attr)."""
        module_path, _, attribute = handler.rpartition(".")
        process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-B",
                "-c",
                _CHILD,
                json.dumps(self.search_path),
                module_path.replace("/", "."),
                attribute,
            ],
            cwd=self.task,  # Lambda's working directory is /var/task
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return LambdaProcess(process)

    def run(self, source: str, env: dict[str, str]) -> str:
        """Run Python ``source`` in a fresh interpreter that sees only the three folders; its stdout."""
        prelude = "import json, sys\nsys.path[:0] = json.loads(sys.argv[1])\n"
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", prelude + source, json.dumps(self.search_path)],
            cwd=self.task,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"the snippet failed:\n{result.stderr}")
        return result.stdout


@dataclass
class LambdaProcess:
    process: subprocess.Popen[str]
    cold_start_ms: float | None = None
    modules: list[str] | None = None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the function exited:\n{self.stop()}")
        answer = json.loads(line)
        if "cold_start_ms" in answer:
            self.cold_start_ms, self.modules = answer["cold_start_ms"], answer["modules"]
        return dict(answer["result"])

    def stop(self) -> str:
        """End the environment; its log output."""
        try:
            _, errors = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, errors = self.process.communicate()
        return errors


_PIP = (sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile")


def _pip_install(requirements: tuple[str, ...], folder: Path) -> None:
    subprocess.run(
        [*_PIP, "--no-deps", "--target", str(folder), *requirements],
        check=True,
        timeout=300,
    )
    for cache in folder.rglob("__pycache__"):
        shutil.rmtree(cache)


def service_model_files() -> dict[str, bytes]:
    """The shipped botocore data, by path under otp/aws/models, as the pinned botocore has it.

    Each shipped service's definition without documentation strings (most of its size, and never
    read at run time) and its endpoint rules; botocore's shared data files, with the legacy endpoint
    table cut to the shipped services' entries (the whole table is 1.2 MB, parsed at every cold
    start). Uncompressed, so that any botocore reads them.
    """
    import botocore.loaders

    from otp.aws.clients import SHIPPED_DATA, SHIPPED_SERVICES

    loader = botocore.loaders.create_loader()
    files, prefixes = {}, set()
    for service in SHIPPED_SERVICES:
        version = loader.determine_latest_version(service, "service-2")
        for kind in ("service-2", "endpoint-rule-set-1"):
            data = loader.load_service_model(service, kind, version)
            if kind == "service-2":
                data = _without_documentation(data)
                prefixes.add(data["metadata"]["endpointPrefix"])
            files[f"{service}/{version}/{kind}.json"] = _json(data)
    for name in SHIPPED_DATA:
        data = loader.load_data(name)
        if name == "endpoints":
            data = _endpoints_of(data, prefixes)
        files[f"{name}.json"] = _json(data)
    return files


def _json(data: Any) -> bytes:
    return (json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n").encode()


def _endpoints_of(table: dict[str, Any], prefixes: set[str]) -> dict[str, Any]:
    """The legacy endpoint table with every partition kept whole except its services: only ``prefixes``."""
    partitions = [
        {**partition, "services": {k: v for k, v in partition["services"].items() if k in prefixes}}
        for partition in table["partitions"]
    ]
    return {**table, "partitions": partitions}


def _without_documentation(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_documentation(v) for k, v in value.items() if k not in ("documentation", "documentationUrl")
        }
    if isinstance(value, list):
        return [_without_documentation(v) for v in value]
    return value


def write_service_models() -> None:
    from otp.aws.clients import SERVICE_MODELS

    shutil.rmtree(SERVICE_MODELS, ignore_errors=True)
    for relative, content in service_model_files().items():
        target = SERVICE_MODELS / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _copy_distribution(name: str, folder: Path) -> None:
    """The distribution's files as pip installed them, without any bytecode."""
    distribution = importlib.metadata.distribution(name)
    for file in distribution.files or []:
        if "__pycache__" in file.parts or file.suffix == ".pyc" or str(file).startswith(".."):
            continue
        source = Path(str(distribution.locate_file(file)))
        if source.is_file():
            target = folder / str(file)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


if __name__ == "__main__":
    if sys.argv[1:] != ["models"]:
        raise SystemExit("usage: python -m local.artifact models")
    write_service_models()
