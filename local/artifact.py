"""The deployed function as Lambda runs it: the packaged zip, the Powertools layer and the runtime's boto3.

Lambda puts the zip in /var/task, the layer in /opt/python and boto3 in the runtime's own folder;
nothing else is importable. ``LambdaArtifact`` lays out the same three folders from the zip that
`serverless package` built and from the exact distributions requirements.txt pins, without any
compiled bytecode except what the zip itself ships, and runs a handler in a fresh interpreter
that sees only those folders. The artifact tests and `make bench` both use it.
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
    def unpack(cls, zip_path: Path, into: Path) -> LambdaArtifact:
        artifact = cls(into)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(artifact.task)
        for names, folder in ((LAYER, artifact.layer), (RUNTIME, artifact.runtime)):
            for name in names:
                _copy_distribution(name, folder)
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
