"""What every test run reports at its end."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The evidence in numbers: what the end-to-end audits and the fuzzer covered."""
    e2e = sys.modules.get("tests.e2e.conftest")
    if e2e is None or not e2e.AUDIT["runners"]:
        return
    audit = e2e.AUDIT
    terminalreporter.write_sep("-", "evidence")
    fuzzed = audit.get("fuzzed", {})
    if fuzzed:
        terminalreporter.write_line(
            "fuzzed over HTTP: " + ", ".join(f"{path} {count} requests" for path, count in fuzzed.items())
        )
    terminalreporter.write_line(
        f"leak audit: {audit['log_lines']} log lines of {audit['runners']} runners checked for "
        f"{audit['codes']} delivered codes and {audit['destinations']} destinations"
    )
