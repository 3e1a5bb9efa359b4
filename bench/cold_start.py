"""Cold start: a fresh `python` per sample, from before the first import to the end of the first response."""

from __future__ import annotations

from bench.children import first_request, request_body
from bench.context import LIMITS_OFF, Bench
from bench.figures import median, percentile, table
from bench.report import Section, prose
from bench.service import load_handlers

FUNCTIONS = ("generate", "verify")


def measure(bench: Bench) -> Section:
    runs = bench.samples(full=12, quick=2)
    handlers = load_handlers(bench.settings(LIMITS_OFF))  # makes the codes the verify samples check
    rows, ratios = [], {}
    for which in FUNCTIONS:
        handler_ms, floor_ms, created = [], [], set()
        # One discarded sample of each writes the bytecode every measured sample then reads.
        first_request(bench, "handler", which, request_body(bench, handlers, which, f"cold-{which}-compile"))
        first_request(bench, "floor", which, {})
        for run in range(runs):
            sample = first_request(bench, "handler", which, request_body(bench, handlers, which, f"cold-{which}-{run}"))
            if sample.status not in (200, 201):
                raise RuntimeError(f"a cold {which} answered {sample.status}")
            handler_ms.append(sample.ms)
            created.add(", ".join(sample.clients))
            floor_ms.append(first_request(bench, "floor", which, {}).ms)
        [clients] = created  # every cold start of one function creates the same clients
        if which == "verify" and ("sns" in clients or "sesv2" in clients):
            raise RuntimeError(f"the verify function created a delivery client: {clients}")
        ratios[which] = median(handler_ms) / median(floor_ms)
        rows.append(
            [
                which,
                f"{median(handler_ms):.0f}",
                f"{percentile(handler_ms, 0.9):.0f}",
                f"{median(floor_ms):.0f}",
                f"{percentile(floor_ms, 0.9):.0f}",
                f"{ratios[which]:.2f}",
                clients,
            ]
        )
    headers = ["handler", "median ms", "p90 ms", "floor median ms", "floor p90 ms", "ratio", "clients created"]
    return Section(
        "cold_start",
        "Cold start",
        prose("cold_start", runs=runs, table=table(headers, rows)),
        {"ratio": ratios, "clients": {row[0]: row[-1] for row in rows}},
    )
