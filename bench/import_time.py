"""Import time by package: one cold start per function under `python -X importtime`."""

from __future__ import annotations

import re
import sys
from collections import Counter

from bench.children import first_request, request_body
from bench.context import LIMITS_OFF, Bench
from bench.figures import table
from bench.report import Section, prose
from bench.service import load_handlers

# -X importtime writes: "import time: <self us> | <cumulative us> | <indent><module>".
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")
TOP = 10


def package_of(module: str) -> str:
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
    if top in ("bench", "local"):
        return "the benchmark's own child process"
    if top in sys.stdlib_module_names:
        return "standard library"
    return top


def tables_for(importtime: str) -> tuple[str, str, dict[str, float]]:
    """The top modules by cumulative time, and each package's own time summed, from -X importtime output."""
    cumulative: list[tuple[int, str]] = []
    by_package: Counter[str] = Counter()
    for line in importtime.splitlines():
        found = _LINE.match(line)
        if found:
            own, total, module = int(found.group(1)), int(found.group(2)), found.group(3)
            cumulative.append((total, module))
            by_package[package_of(module)] += own
    top = sorted(cumulative, reverse=True)[:TOP]
    modules = table(["module", "cumulative ms"], [[f"`{name}`", f"{us / 1000:.0f}"] for us, name in top])
    packages = table(["package", "ms"], [[name, f"{us / 1000:.0f}"] for name, us in by_package.most_common(TOP)])
    return modules, packages, {name: us / 1000 for name, us in by_package.items()}


def measure(bench: Bench) -> Section:
    handlers = load_handlers(bench.settings(LIMITS_OFF))
    parts, facts = [], {}
    for which in ("generate", "verify"):
        body = request_body(bench, handlers, which, f"importtime-{which}")
        sample = first_request(bench, "handler", which, body, "-X", "importtime")
        modules, packages, facts[which] = tables_for(sample.stderr)
        parts.append(prose("import_time_function", which=which, top=TOP, modules=modules, packages=packages))
    return Section("import_time", "Import time by package", prose("import_time", functions="\n\n".join(parts)), facts)
