"""Size limits that keep the code reviewable: no function over 60 lines, no module over 400.

The layering rules (the domain imports no AWS SDK, adapters import no use case, nothing outside
tests/ imports tests/) are import-linter contracts in pyproject.toml, run by `make lint`.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ["otp", "handlers", "local", "bench", "deploy"]
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def sources() -> list[Path]:
    found = sorted(path for folder in CHECKED for path in (ROOT / folder).rglob("*.py"))
    assert len(found) > 20  # the check would pass vacuously on an empty tree
    return found


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


@pytest.mark.parametrize("path", sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_function_is_over_60_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    too_long = {
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in functions(tree)
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert not too_long


@pytest.mark.parametrize("path", sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


def test_the_checks_see_a_long_function():
    long_one = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    assert [node.name for node in functions(ast.parse(long_one)) if node.end_lineno - node.lineno + 1 > 60] == ["f"]


def test_importing_the_service_turns_off_pydantics_plugin_scan():
    # Every function's cold start would otherwise read the entry points of every installed distribution.
    import subprocess
    import sys

    probe = (
        "import os; os.environ.pop('PYDANTIC_DISABLE_PLUGINS', None); "
        "import otp; print(os.environ['PYDANTIC_DISABLE_PLUGINS'])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "__all__"
