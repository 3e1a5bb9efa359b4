"""A deterministic SMS pumping simulation: seeded traffic, simulated time, the guard's own code.

    python -m bench.pumping          # prints the markdown section

The traffic generator (``traffic``) knows nothing of the guard; the driver (``GuardDriver``)
feeds its requests to what a deployment runs: generate's cached ``BlockList`` (one per
simulated container, each reading at most once per reaction interval) and the stream consumer's
``consume`` over an in-memory copy of the counts, fed after a stream lag. The lead will switch
the driver to the full use cases once they are wired.

Traffic, exactly as specified: 200 legitimate prefixes in 5 countries, 1 to 30 codes per prefix
per hour (uniform per prefix, Poisson arrivals), each converting 60-90 % (uniform), verify delay
log-normal with median 25 s and 95th percentile 120 s clipped to 3-600 s (a code verifies only
within its 300 s validity); one country spikes 20x for 10 minutes. Two attacks at 10 requests per
second each, converting 0-2 %: "concentrated" on 3 prefixes, "spread" over 50 prefixes of the
spiking country, both starting during the spike.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from otp.aws.pumping import SLOT_SECONDS
from otp.domain.prefix_keys import PrefixKeys
from otp.domain.pumping import CodeFact
from otp.domain.pumping_events import Block, BlockTable, CodeEvent, PrefixChanges
from otp.domain.pumping_rules import PumpingRules
from otp.use_cases.pumping import StreamDependencies, consume
from otp.use_cases.send_guard import BlockList

COUNTRIES = {"GB": "44", "IN": "91", "DE": "49", "BR": "55", "ID": "62"}
SPIKE_COUNTRY = "IN"
WARM_UP = 3600  # an hour of history before anything happens
SPIKE = (WARM_UP, WARM_UP + 600)
ATTACK_START = WARM_UP + 120
DURATION = WARM_UP + 3600
CODE_TTL = 300
VERIFY_MEDIAN, VERIFY_P95, VERIFY_CLIP = 25.0, 120.0, (3.0, 600.0)
ATTACK_RPS = 10.0


# ---- the traffic generator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    at: float
    prefix: str
    country: str
    kind: str  # "legit", "concentrated" or "spread"
    verify_after: float | None  # seconds after delivery, if the code would be verified


def _prefixes(rng: random.Random, country: str, count: int, taken: set[str]) -> list[str]:
    code = COUNTRIES[country]
    found: list[str] = []
    while len(found) < count:
        prefix = code + "".join(rng.choice("0123456789") for _ in range(6 - len(code)))
        if prefix not in taken:
            taken.add(prefix)
            found.append(prefix)
    return found


def _verify_delay(rng: random.Random, conversion: float) -> float | None:
    if rng.random() >= conversion:
        return None
    sigma = math.log(VERIFY_P95 / VERIFY_MEDIAN) / 1.6449
    delay = min(max(rng.lognormvariate(math.log(VERIFY_MEDIAN), sigma), VERIFY_CLIP[0]), VERIFY_CLIP[1])
    return delay if delay < CODE_TTL else None  # the code expired before the user typed it


def _poisson(rng: random.Random, rate: float, start: float, end: float) -> Iterator[float]:
    t = start
    while True:
        t += rng.expovariate(rate)
        if t >= end:
            return
        yield t


def traffic(seed: int = 7) -> list[Request]:
    rng = random.Random(seed)
    taken: set[str] = set()
    requests: list[Request] = []
    for country in COUNTRIES:
        for prefix in _prefixes(rng, country, 40, taken):
            hourly, conversion = rng.uniform(1, 30), rng.uniform(0.6, 0.9)
            spans = [(0.0, float(DURATION), hourly)]
            if country == SPIKE_COUNTRY:  # the 20x push, on top of the usual traffic
                spans.append((float(SPIKE[0]), float(SPIKE[1]), hourly * 19))
            for start, end, rate in spans:
                requests += [
                    Request(t, prefix, country, "legit", _verify_delay(rng, conversion))
                    for t in _poisson(rng, rate / 3600, start, end)
                ]
    attacks = {
        "concentrated": _prefixes(rng, "GB", 3, taken),
        "spread": _prefixes(rng, SPIKE_COUNTRY, 50, taken),
    }
    for kind, prefixes in attacks.items():
        conversions = {p: rng.uniform(0.0, 0.02) for p in prefixes}
        country = "GB" if kind == "concentrated" else SPIKE_COUNTRY
        for t in _poisson(rng, ATTACK_RPS, float(ATTACK_START), float(DURATION)):
            prefix = rng.choice(prefixes)
            requests.append(Request(t, prefix, country, kind, _verify_delay(rng, conversions[prefix])))
    return sorted(requests, key=lambda r: r.at)


# ---- what the traffic drives ------------------------------------------------------------------------


class MemoryCounts:
    """The counts and block list in memory, counted in slots exactly as the DynamoDB adapter counts them."""

    def __init__(self) -> None:
        self.delivered: dict[str, dict[str, int]] = {}
        self.verified: dict[str, set[str]] = {}
        self.table = BlockTable({}, {})

    def record(self, digest: str, changes: PrefixChanges) -> None:
        delivered = self.delivered.setdefault(digest, {})
        for token, at in changes.delivered.items():
            delivered.setdefault(token, at // SLOT_SECONDS * SLOT_SECONDS)
        self.verified.setdefault(digest, set()).update(changes.verified)
        for token in changes.withdrawn:
            delivered.pop(token, None)

    def codes(self, digest: str, since: int, now: int) -> list[CodeFact]:
        verified = self.verified.get(digest, set())
        return [
            CodeFact(token, at, token in verified)
            for token, at in self.delivered.get(digest, {}).items()
            if since - SLOT_SECONDS <= at <= now
        ]

    def block_table(self) -> BlockTable:
        return BlockTable(dict(self.table.blocks), dict(self.table.lifts))

    def put_block(self, digest: str, block: Block, now: int) -> bool:
        existing = self.table.blocks.get(digest)
        if existing is not None and existing.starts_at <= now < existing.until:
            return False
        self.table.blocks[digest] = block
        return True

    def remove_block(self, digest: str, starts_at: int) -> bool:
        existing = self.table.blocks.get(digest)
        if existing is None or existing.starts_at != starts_at:
            return False
        del self.table.blocks[digest]
        return True

    def forget_lift(self, digest: str, lifted_at: int) -> None:
        if self.table.lifts.get(digest) == lifted_at:
            del self.table.lifts[digest]

    def spans(self) -> dict[str, tuple[int, int]]:
        return {d: (b.starts_at, b.until) for d, b in self.table.blocks.items()}


@dataclass
class Result:
    rules: PumpingRules
    lag: float
    containers: int
    delivered: Counter[str] = field(default_factory=Counter)  # by kind, before their prefix's block
    refused: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    blocks: list[tuple[str, str, int, str]] = field(default_factory=list)  # kind, prefix, starts_at, reason
    block_list_reads: int = 0

    def first_block(self, kind: str) -> int | None:
        return min((s for k, _, s, _ in self.blocks if k == kind), default=None)


class GuardDriver:
    """A deployment in miniature: containers with their caches, a lagging stream, the consumer each second."""

    def __init__(self, rules: PumpingRules, lag: float, containers: int, seed: int) -> None:
        self.rules, self.lag = rules, lag
        self.counts = MemoryCounts()
        self.keys = PrefixKeys(lambda: b"bench-secret".ljust(32, b"."))
        self.deps = StreamDependencies(rules, self.keys, self.counts, emit=lambda _name, _value: None)
        self.reads = 0
        self.caches = [BlockList(self._read, rules.reaction_seconds, lambda: None) for _ in range(containers)]
        self.rng = random.Random(seed)
        self.stream: list[tuple[float, int, CodeEvent]] = []
        self.sequence = itertools.count(1)

    def _read(self) -> dict[str, tuple[int, int]]:
        self.reads += 1
        return self.counts.spans()

    def send(self, request: Request) -> bool:
        """Generate: refused if this container's cached list blocks the prefix, else delivered."""
        now = int(request.at)
        digest = self.keys.digest(request.prefix)
        if self.rng.choice(self.caches).refuses(digest, now):
            return False
        vid = f"vrf_{next(self.sequence)}"
        sealed = self.keys.seal(request.prefix)
        self._publish(request.at + self.lag, "delivered", vid, now, sealed, request.country)
        if request.verify_after is not None:
            self._publish(request.at + request.verify_after + self.lag, "verified", vid, now, sealed, request.country)
        return True

    def _publish(self, arrives: float, kind: str, vid: str, at: int, sealed: bytes, country: str) -> None:
        number = next(self.sequence)
        event = CodeEvent(kind, vid, at, sealed, country, str(number))  # type: ignore[arg-type]
        heapq.heappush(self.stream, (arrives, number, event))

    def run_consumer(self, now: int) -> None:
        batch = []
        while self.stream and self.stream[0][0] <= now:
            batch.append(heapq.heappop(self.stream)[2])
        if batch:
            assert consume(self.deps, batch, [], now) is None


def simulate(seed: int = 7, rules: PumpingRules | None = None, lag: float = 2.0, containers: int = 20) -> Result:
    """Stream lag: DynamoDB Streams to Lambda, about a second, plus the consumer's 1 s batching window."""
    import logging

    # The consumer logs a line per prefix per batch, and generate one per send: tens of thousands here.
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        return _simulate(seed, rules, lag, containers)
    finally:
        logging.disable(before)


def _simulate(seed: int, rules: PumpingRules | None, lag: float, containers: int) -> Result:
    rules = rules or PumpingRules()
    result = Result(rules, lag, containers)
    driver = GuardDriver(rules, lag, containers, seed)
    kinds = {}
    next_tick = 1
    for request in traffic(seed):
        while next_tick <= request.at:
            driver.run_consumer(next_tick)
            next_tick += 1
        kinds[request.prefix] = request.kind
        result.requests[request.kind] += 1
        if driver.send(request):
            result.delivered[request.kind] += 1
        else:
            result.refused[request.kind] += 1
    for block in driver.counts.table.blocks.values():
        prefix = driver.keys.open(block.sealed_prefix)
        result.blocks.append((kinds.get(prefix, "?"), prefix, block.starts_at, block.reason))
    result.block_list_reads = driver.reads
    return result


def markdown(result: Result) -> str:
    rules = result.rules
    by_kind = Counter(kind for kind, *_ in result.blocks)
    reasons = Counter((kind, reason) for kind, _, _, reason in result.blocks)
    rows = []
    for kind in ("concentrated", "spread", "legit"):
        first = result.first_block(kind)
        rows.append(
            f"| {kind} | {result.requests[kind]} | {result.delivered[kind]} | {result.refused[kind]} | "
            f"{by_kind[kind]} | {reasons[(kind, 'burst')]} / {reasons[(kind, 'conversion')]} | "
            f"{'-' if first is None else first - ATTACK_START} |"
        )
    return "\n".join(
        [
            "## Pumping guard simulation",
            "",
            f"Seeded traffic over {DURATION // 60} simulated minutes (the first {WARM_UP // 60} are history); "
            f"the {SPIKE_COUNTRY} push runs 20x from minute {SPIKE[0] // 60} to {SPIKE[1] // 60}; both attacks "
            f"({ATTACK_RPS:g} requests/s each) start at minute {ATTACK_START / 60:g}. Stream lag {result.lag:g} s, "
            f"consumer every 1 s, {result.containers} containers each reading the block list at most once per "
            f"{rules.reaction_seconds} s ({result.block_list_reads} reads in all). Rules: prefix "
            f"{rules.prefix_digits} digits, window {rules.window_seconds} s, maturity {rules.maturity_seconds} s, "
            f"min codes {rules.min_codes}, min conversion {float(rules.min_conversion):g}.",
            "",
            "| traffic | requests | delivered | refused | prefixes blocked | by burst / conversion | "
            "first block, s after the attack began |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "pumping: attack messages delivered before the block: "
            f"{result.delivered['concentrated']} (concentrated), {result.delivered['spread']} (spread); "
            f"legitimate sends refused: {result.refused['legit']} of {result.requests['legit']}",
        ]
    )


if __name__ == "__main__":
    print(markdown(simulate()))
