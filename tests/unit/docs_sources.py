"""Reading the manual's sources: Markdown tables, code spans, headings, and serverless.yml with its parts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

CODE_SPAN = re.compile(r"`([^`]+)`")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(path: Path) -> str:
    """A page without its fenced code blocks: links and names inside examples are not claims."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def table_after(text: str, marker: str) -> list[list[str]]:
    """The body rows of the first Markdown table after ``marker``, each as a list of stripped cells."""
    assert marker in text, f"no {marker!r} in the page"
    lines = text[text.index(marker) :].splitlines()[1:]
    rows: list[list[str]] = []
    for line in lines:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    _header, separator, *body = rows
    assert set(separator[0]) <= set("-: "), f"the table after {marker!r} has no header separator"
    return body


def only_code_span(cell: str) -> str:
    found = CODE_SPAN.fullmatch(cell)
    assert found, f"expected exactly one `name` in the cell, found {cell!r}"
    return found.group(1)


def first_code_span(cell: str) -> str | None:
    found = CODE_SPAN.search(cell)
    return found.group(1) if found else None


class _TemplateLoader(yaml.SafeLoader):
    """serverless.yml with CloudFormation short tags (!Ref, !If, ...) read as {"!Tag": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {f"!{suffix}": loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {f"!{suffix}": loader.construct_sequence(node, deep=True)}
    assert isinstance(node, yaml.MappingNode)
    return {f"!{suffix}": loader.construct_mapping(node, deep=True)}


_TemplateLoader.add_multi_constructor("!", _tag)


FILE_REFERENCE = re.compile(r"\$\{file\((?:\./)?([^)]+)\)(?::([\w.]+))?\}")


def load_yaml(path: Path, service: Path) -> Any:
    """serverless.yml as the framework reads it, with its ${file(...)} parts inlined."""
    tree = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    return resolve_files(tree, service)


def resolve_files(node: Any, service: Path) -> Any:
    """A whole value ${file(part.yml)} or ${file(part.yml):a.b} replaced by that file (or its key)."""
    if isinstance(node, dict):
        return {key: resolve_files(value, service) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_files(value, service) for value in node]
    found = FILE_REFERENCE.fullmatch(node) if isinstance(node, str) else None
    if found is None:
        return node
    part = load_yaml(service / found.group(1), service)
    for key in filter(None, (found.group(2) or "").split(".")):
        part = part[key]
    return part


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of every mapping in the tree, wherever the template's parts put it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(path), re.MULTILINE):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found
