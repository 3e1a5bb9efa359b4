"""`serverless package` once per run: the template tests and the artifact tests read the same output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def package(out: Path, *params: str) -> Path:
    # Packaging must need no AWS credentials at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = ["npx", "--no-install", "serverless", "package", "--stage", "ci", "--region", "ap-south-1"]
    result = subprocess.run(
        [*command, *(f"--param={param}" for param in params), "--package", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "SLS_TELEMETRY_DISABLED": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Path:
    return package(tmp_path_factory.mktemp("serverless-package"))


@pytest.fixture(scope="session")
def packaged_with_snapstart(tmp_path_factory) -> Path:
    return package(tmp_path_factory.mktemp("serverless-package-snapstart"), "snapStart=true")


@pytest.fixture(scope="session")
def template(packaged: Path) -> dict:
    return json.loads((packaged / "cloudformation-template-update-stack.json").read_text())


@pytest.fixture(scope="session")
def resources(template: dict) -> dict:
    return template["Resources"]
