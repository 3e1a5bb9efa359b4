"""A --param name the template does not declare stops `serverless package` and `deploy` at once."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.infrastructure.conftest import ROOT


def serverless(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        ["npx", "--no-install", "serverless", *args, "--stage", "ci", "--region", "ap-south-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "SLS_TELEMETRY_DISABLED": "1"},
    )


@pytest.mark.parametrize("command", ["package", "deploy"])
def test_a_misspelled_param_is_refused_with_the_closest_name(command, tmp_path):
    result = serverless(command, "--param=ttlSecond=60", "--package", str(tmp_path / "out"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "unknown --param: ttlSecond (did you mean ttlSeconds?)" in output
    assert not (tmp_path / "out").exists()  # refused before anything was built


def test_every_unknown_name_is_listed_and_a_far_one_gets_no_guess(tmp_path):
    result = serverless("package", "--param=maxAttempt=3", "--param=colour=blue", "--package", str(tmp_path / "out"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "maxAttempt (did you mean maxAttempts?), colour;" in output
