"""BENCHMARKS.md from sections: each section is written by the code that measures it.

`make bench` rewrites the sections it produces and the header above them. Every other `## `
section (`## Soak` from `make soak`, say) is kept exactly as found, after the section it followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Section:
    key: str  # a short name for the facts: cold_start
    title: str  # its `## ` heading in BENCHMARKS.md
    markdown: str  # the body under the heading
    facts: dict[str, Any] = field(default_factory=dict)  # the figures, for other sections and for tests

    def block(self) -> str:
        return f"## {self.title}\n\n{self.markdown.strip()}\n"


def prose(template: str, **values: object) -> str:
    """bench/templates/<template>.md with the measured ``values`` filled in (str.format fields)."""
    return (TEMPLATES / f"{template}.md").read_text().strip().format(**values)


def split(document: str) -> tuple[str, list[tuple[str, str]]]:
    """The text before the first `## ` heading, and each section as (title, its whole block).

    A `## ` line inside a fenced code block is text, not a heading.
    """
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in document.splitlines(keepends=True):
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line.removeprefix("## ").strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return "".join(preamble), [(title, "".join(lines)) for title, lines in sections]


def merge(existing: str, header: str, sections: Sequence[Section]) -> str:
    """The new document: ``header``, then ``sections``; the foreign sections of ``existing`` where they stood.

    A foreign section goes after the produced section it followed in ``existing`` (before them
    all if it came first). Sections with a produced title are replaced, wherever they were.
    """
    produced = {section.title for section in sections}
    following: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for title, block in split(existing)[1]:
        if title in produced:
            anchor = title
        else:
            following.setdefault(anchor, []).append(block.rstrip() + "\n")
    blocks = [header.rstrip() + "\n", *following.get(None, [])]
    for section in sections:
        blocks += [section.block(), *following.get(section.title, [])]
    return "\n".join(blocks)


def write(path: Path, header: str, sections: Sequence[Section]) -> None:
    existing = path.read_text() if path.exists() else ""
    path.write_text(merge(existing, header, sections))
