"""Package size: the zips `serverless package` builds, against the 2 MB budget."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench.context import REGION, ROOT
from bench.figures import table
from bench.report import Section, prose
from deploy.packaging_lock import one_packaging_at_a_time

BUDGET_BYTES = 2 * 1024 * 1024


def measure(out: Path) -> Section:
    """Package into ``out``; the section's facts name the zip, which the artifact cold start runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # packaging needs no account
    command = ["npx", "--no-install", "serverless", "package", "--stage", "bench", "--region", REGION]
    with one_packaging_at_a_time(ROOT):
        result = subprocess.run(
            [*command, "--package", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
    if result.returncode != 0:
        raise RuntimeError(f"serverless package failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
    rows, zips = [], set()
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            key = resource["Properties"]["Code"]["S3Key"].rsplit("/", 1)[-1]
            size = (out / key).stat().st_size
            zips.add(out / key)
            function = name.removesuffix("LambdaFunction").lower()
            rows.append([function, key, f"{size / 1024:.0f} KiB", f"{size / BUDGET_BYTES:.2f}"])
    [archive] = zips  # the functions share one zip
    text = prose("package_size", table=table(["function", "zip", "size", "of the 2 MB budget"], rows))
    return Section("package_size", "Package size", text, {"zip": str(archive), "bytes": archive.stat().st_size})
