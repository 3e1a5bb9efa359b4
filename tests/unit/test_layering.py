"""The domain never imports boto3: only otp/aws (and the wiring in otp/runtime) may."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = [
    "otp.codes",
    "otp.config",
    "otp.destinations",
    "otp.errors",
    "otp.messages",
    "otp.models",
    "otp.ports",
    "otp.keys",
    "otp.policy",
    "otp.use_cases",
    "otp.use_cases.issue_code",
    "otp.use_cases.check_code",
    "otp.verification",
    "otp.api_docs",
]


def test_the_domain_imports_no_aws_sdk():
    probe = (
        f"import sys; import {', '.join(DOMAIN)}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
