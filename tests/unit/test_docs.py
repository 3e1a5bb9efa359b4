"""The docs against the code: settings, deploy parameters, metrics, links and make targets.

Each check reads the source of truth (otp.config.Settings, serverless.yml, the metric catalog, the
Makefile, the files on disk), so a setting or a metric added later fails here until it is documented.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from otp.config import Settings, load_settings
from otp.domain.pumping_rules import ATTRIBUTES as PUMPING_ATTRIBUTES
from otp.observability import METRICS
from tests.unit.docs_sources import (
    CODE_SPAN,
    FENCE,
    LINK,
    anchors,
    first_code_span,
    load_yaml,
    only_code_span,
    prose,
    table_after,
    walk,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
SETTINGS_MARKER = "<!-- settings table:"
PARAMETERS_MARKER = "<!-- deploy parameters table:"
METRICS_MARKER = "<!-- metrics table:"
ALARMS_MARKER = "<!-- alarms table:"

# Pages that other work adds; links to them are accepted while they are missing. Whoever merges
# them removes their line here (the test below fails once a listed page exists).
PENDING_PAGES: set[str] = set()
# Make targets that other work adds, likewise.
PENDING_TARGETS: set[str] = set()


def pages(*, history: bool = True) -> list[Path]:
    """Every page of the manual: the README, the top-level pages and docs/.

    The changelog is history: its links must resolve, but it may name settings and targets that
    have since gone (``history=False`` leaves it out).
    """
    top = ["README.md", "SECURITY.md", *(["CHANGELOG.md"] if history else [])]
    return [ROOT / name for name in top] + sorted(DOCS.glob("*.md"))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(ROOT / "serverless.yml", ROOT)


def cloudformation_parameters(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in walk(template.get("resources", {})):
        if key == "Parameters" and isinstance(value, dict):
            found.update(value)
    return found


@pytest.fixture(scope="module")
def settings_rows() -> dict[str, list[str]]:
    rows = table_after(CONFIGURATION.read_text(encoding="utf-8"), SETTINGS_MARKER)
    named = [only_code_span(row[0]) for row in rows]
    assert len(named) == len(set(named)), f"a variable has two rows: {sorted(n for n in named if named.count(n) > 1)}"
    return {name: row for name, row in zip(named, rows, strict=True)}


def setting_aliases() -> dict[str, str]:
    """Each environment variable Settings reads, with the field it fills (the guard's: pumping.<rule>)."""
    fields = {field.alias: name for name, field in Settings.model_fields.items() if field.alias}
    return {**fields, **{alias: f"pumping.{rule}" for alias, rule in PUMPING_ATTRIBUTES.items()}}


def effective_value(alias: str, text: str | None) -> object:
    """The value Settings ends with when ``alias`` is set to ``text`` (None: left unset)."""
    raw = {} if text is None else {alias: text}
    value: object = load_settings(raw, require_kms_key=False)
    for name in setting_aliases()[alias].split("."):
        value = getattr(value, name)
    return value


def param_of(value: object, template: dict[str, Any]) -> str | None:
    """The deploy parameter an environment value comes from: ${param:x}, or !Ref to a parameter defaulted so."""
    if isinstance(value, dict) and "!Ref" in value:
        parameter = cloudformation_parameters(template).get(value["!Ref"], {})
        value = parameter.get("Default")
    found = re.fullmatch(r"\$\{param:(\w+)\}", value) if isinstance(value, str) else None
    return found.group(1) if found else None


def shown_default(value: object) -> str:
    """A deploy parameter's default as the docs write it."""
    return str(value).replace("${sls:stage}", "<stage>")


def test_template_parts_are_read_where_serverless_yml_includes_them(tmp_path: Path) -> None:
    """The template may be split into parts; the checks below must still see every parameter."""
    (tmp_path / "part.yml").write_text("params:\n  default:\n    codeLength: 6\nalarm: !Ref Topic\n")
    (tmp_path / "main.yml").write_text("params: ${file(./part.yml):params}\nresources:\n  - ${file(part.yml)}\n")
    loaded = load_yaml(tmp_path / "main.yml", tmp_path)
    assert loaded["params"] == {"default": {"codeLength": 6}}
    assert loaded["resources"][0]["alarm"] == {"!Ref": "Topic"}


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 300, f"README.md has {len(lines)} lines; the manual belongs in docs/"


def test_every_setting_has_a_row_and_every_row_is_a_setting(settings_rows: dict[str, list[str]]) -> None:
    aliases = set(setting_aliases())
    assert sorted(aliases - set(settings_rows)) == [], "settings missing from docs/configuration.md"
    assert sorted(set(settings_rows) - aliases) == [], "rows in docs/configuration.md that are not settings"


def test_every_documented_default_is_the_settings_default(settings_rows: dict[str, list[str]]) -> None:
    wrong = {}
    for alias, row in settings_rows.items():
        if alias not in setting_aliases():
            continue  # reported by the test above
        cell, default = row[1], effective_value(alias, None)
        literal = first_code_span(cell)
        if cell.startswith("("):
            if default is not None and default not in (frozenset(), {}, ()):
                wrong[alias] = f"documented as {cell!r}, but the default is {default!r}"
        elif literal is None:
            wrong[alias] = f"the default cell {cell!r} is neither `a value` nor (a phrase)"
        elif effective_value(alias, literal) != default:
            wrong[alias] = f"documented as {literal!r}, but the default is {default!r}"
    assert wrong == {}


def test_each_setting_names_the_deploy_parameter_that_sets_it(
    settings_rows: dict[str, list[str]], template: dict[str, Any]
) -> None:
    parameters = template["params"]["default"]
    environment = template["provider"]["environment"]
    wrong = {}
    for alias, row in settings_rows.items():
        documented = first_code_span(row[2])
        wired = param_of(environment.get(alias), template)
        if wired is not None and documented != wired:
            wrong[alias] = f"serverless.yml sets it from {wired!r}, the docs say {documented!r}"
        elif documented is not None and documented not in parameters:
            wrong[alias] = f"{documented!r} is not a deploy parameter"
    assert wrong == {}


def test_deploy_defaults_agree_with_the_settings_defaults(template: dict[str, Any]) -> None:
    """One default column serves both: a parameter's default gives its setting's default."""
    parameters = template["params"]["default"]
    wrong = {}
    for alias, value in template["provider"]["environment"].items():
        parameter = param_of(value, template)
        if parameter is None or alias not in setting_aliases():
            continue
        deployed = parameters[parameter]
        got, default = effective_value(alias, None if deployed == "" else str(deployed)), effective_value(alias, None)
        if got != default:
            wrong[alias] = f"{parameter}={deployed!r} gives {got!r}, the setting's default is {default!r}"
    assert wrong == {}


def test_every_deploy_parameter_is_documented_with_its_default(
    settings_rows: dict[str, list[str]], template: dict[str, Any]
) -> None:
    parameters = template["params"]["default"]
    rows = table_after(CONFIGURATION.read_text(encoding="utf-8"), PARAMETERS_MARKER)
    stack_rows = {only_code_span(row[0]): row for row in rows}
    via_settings = {first_code_span(row[2]) for row in settings_rows.values()}
    assert sorted(set(parameters) - set(stack_rows) - via_settings) == [], "undocumented deploy parameters"
    assert sorted(set(stack_rows) - set(parameters)) == [], "documented parameters serverless.yml does not have"
    wrong = {}
    for name, row in stack_rows.items():
        expected, cell = shown_default(parameters[name]), row[1]
        documented = "" if cell.startswith("(empty") else first_code_span(cell)
        if documented != expected:
            wrong[name] = f"documented as {cell!r}, serverless.yml says {expected!r}"
    assert wrong == {}


def test_the_alarms_table_is_the_templates_alarms(template: dict[str, Any]) -> None:
    alarms = {
        key
        for key, value in walk(template.get("resources", {}))
        if isinstance(value, dict) and value.get("Type") == "AWS::CloudWatch::Alarm"
    }
    assert alarms, "serverless.yml defines no alarm: the test cannot read it any more"
    rows = table_after((DOCS / "operations.md").read_text(encoding="utf-8"), ALARMS_MARKER)
    documented = {only_code_span(row[0]) for row in rows}
    assert sorted(alarms - documented) == [], "alarms missing from docs/operations.md"
    assert sorted(documented - alarms) == [], "rows in docs/operations.md that serverless.yml has no alarm for"


def test_the_metrics_table_is_the_metric_catalog() -> None:
    rows = table_after((DOCS / "operations.md").read_text(encoding="utf-8"), METRICS_MARKER)
    documented = [only_code_span(row[0]) for row in rows]
    assert len(documented) == len(set(documented)), "a metric has two rows"
    assert sorted(METRICS - set(documented)) == [], "metrics missing from docs/operations.md"
    assert sorted(set(documented) - METRICS) == [], "rows in docs/operations.md that the code never emits"


def test_every_setting_the_docs_name_exists() -> None:
    aliases = set(setting_aliases())
    unknown = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in pages(history=False)
        for name in re.findall(r"\bOTP_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))
        if name not in aliases
    }
    assert sorted(unknown) == []


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto: and the like are not files of this repository
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        relative = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
        if relative in PENDING_PAGES and not resolved.exists():
            continue
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {relative}")
    return broken


def test_every_relative_link_resolves() -> None:
    broken = {str(path.relative_to(ROOT)): found for path in pages() if (found := broken_links(path))}
    assert broken == {}


def test_pending_pages_are_still_pending() -> None:
    arrived = sorted(page for page in PENDING_PAGES if (ROOT / page).exists())
    assert arrived == [], f"these pages exist now: remove them from PENDING_PAGES in {Path(__file__).name}"


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.MULTILINE))


def code_in(path: Path) -> str:
    """The commands a page shows: its fenced blocks and its `code spans` (prose may say "make sure")."""
    text = path.read_text(encoding="utf-8")
    return "\n".join(FENCE.findall(text) + CODE_SPAN.findall(FENCE.sub("", text)))


def test_every_make_command_the_docs_name_exists() -> None:
    targets = make_targets()
    unknown = {
        f"{path.relative_to(ROOT)}: make {name}"
        for path in pages(history=False)
        for name in re.findall(r"(?<![\w-])make ([a-z][a-z0-9-]*)", code_in(path))
        if name not in targets | PENDING_TARGETS
    }
    assert sorted(unknown) == []


def test_pending_targets_are_still_pending() -> None:
    arrived = sorted(PENDING_TARGETS & make_targets())
    assert arrived == [], f"these targets exist now: remove them from PENDING_TARGETS in {Path(__file__).name}"


def missing_tests(path: Path) -> list[str]:
    """Cited tests that do not exist: `tests/x.py::test_y`, and `::test_z` after it, as SECURITY.md writes proofs."""
    missing, current = [], None
    for span in CODE_SPAN.findall(path.read_text(encoding="utf-8")):
        named = re.fullmatch(r"(tests/[\w/]+\.py)(?:::(\w+))?", span)
        continued = re.fullmatch(r"::(\w+)", span)
        if named:
            current, function = ROOT / named.group(1), named.group(2)
            if not current.exists():
                missing.append(span)
                continue
        elif continued and current is not None:
            function = continued.group(1)
        else:
            continue
        if function and not re.search(rf"^\s*def {function}\(", current.read_text(encoding="utf-8"), re.MULTILINE):
            missing.append(f"{current.relative_to(ROOT)}::{function}")
    return missing


def test_every_test_the_docs_cite_as_proof_exists() -> None:
    missing = {str(path.relative_to(ROOT)): found for path in pages(history=False) if (found := missing_tests(path))}
    assert missing == {}
