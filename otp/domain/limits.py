"""The send limits and the failure bound: how they are planned, and what refused a send.

The store takes a plan atomically and reports the state it found; this module alone decides which
limit refused and when the next send passes. Generate, the verification resource and the fake
store all go through it, so a new limit is written here once.
"""

from __future__ import annotations

import ipaddress

from otp.config import Settings
from otp.domain.entities import (
    AttemptLimits,
    DestinationRecord,
    FailureBlocks,
    IpQuota,
    SendOutcome,
    SendPlan,
    SendRefusal,
    Window,
)

# Expired and used codes stay this long before DynamoDB TTL may purge them, so that a late
# /verify still hears 410 or 404 for the right reason, and a status read still finds them.
RECORD_GRACE_SECONDS = 3600
IP_WINDOW_SECONDS = 3600
FAILURE_BUCKETS = 24

# The contract's 429 `reason` values, in the order a refusal lists them.
COOLDOWN = "cooldown"
SEND_WINDOW = "window"
END_USER_IP = "ip"
FAILURES_NETWORK = "failures_network"
FAILURES_DESTINATION = "failures_destination"
REASONS = (COOLDOWN, SEND_WINDOW, END_USER_IP, FAILURES_NETWORK, FAILURES_DESTINATION)


def window(now: int, length: int, limit: int) -> Window:
    bucket = now // length
    return Window(bucket=bucket, limit=limit, resets_at=(bucket + 1) * length)


def failure_bucket_seconds(settings: Settings) -> int:
    """Failures are counted in buckets of a 24th of the window, so the window slides in steps that
    small and a refusal never lasts longer than the window itself."""
    return max(1, settings.failure_window_seconds // FAILURE_BUCKETS)


def _buckets_in_window(settings: Settings) -> int:
    return settings.failure_window_seconds // failure_bucket_seconds(settings)


def in_window(settings: Settings, counts: dict[int, int], now: int) -> int:
    """The sum of the buckets still inside the window that ends now."""
    current = now // failure_bucket_seconds(settings)
    oldest = current - _buckets_in_window(settings) + 1
    return sum(count for bucket, count in counts.items() if oldest <= bucket <= current)


def refused_until(settings: Settings, counts: dict[int, int], now: int, limit: int) -> int | None:
    """When the window's sum drops below ``limit`` again, as its oldest buckets leave it; None if it is below."""
    length, kept = failure_bucket_seconds(settings), _buckets_in_window(settings)
    current = now // length
    live = sorted((bucket, count) for bucket, count in counts.items() if current - kept < bucket <= current)
    total = sum(count for _, count in live)
    if total < limit:
        return None
    for bucket, count in live:
        total -= count
        if total < limit:
            return (bucket + kept) * length
    return (current + kept) * length


def failure_blocks(settings: Settings, record: DestinationRecord, network: str | None, now: int) -> FailureBlocks:
    """The blocks a wrong code leaves: per end-user network, and for the destination from every network."""
    destination_until = refused_until(settings, record.failures, now, settings.max_failures_per_destination)
    network_until = None
    if network is not None:
        counts = record.network_failures.get(network, {})
        network_until = refused_until(settings, counts, now, settings.max_failures_per_network)
    return FailureBlocks(destination_until, network if network_until else None, network_until)


def send_window(settings: Settings, now: int) -> Window | None:
    if settings.max_sends_per_window <= 0:
        return None
    return window(now, settings.send_window_seconds, settings.max_sends_per_window)


def record_lifetime(settings: Settings) -> int:
    """How long a destination record must outlive its last write: every window and grace period in it."""
    return (
        max(settings.failure_window_seconds, settings.send_window_seconds, settings.resend_cooldown_seconds)
        + settings.ttl_seconds
        + RECORD_GRACE_SECONDS
    )


def send_plan(
    settings: Settings, record_key: str, ip_key: str | None, now: int, network: str | None = None
) -> SendPlan:
    cooldown_until = now + settings.resend_cooldown_seconds if settings.resend_cooldown_seconds > 0 else None
    ip = None
    if ip_key is not None and settings.max_sends_per_ip > 0:
        ip = IpQuota(ip_key, window(now, IP_WINDOW_SECONDS, settings.max_sends_per_ip))
    return SendPlan(
        record_key=record_key,
        keep_until=now + record_lifetime(settings),
        cooldown_until=cooldown_until,
        sends=send_window(settings, now),
        ip=ip,
        network=network,
    )


def _destination_blocks(plan: SendPlan, record: DestinationRecord, now: int) -> list[tuple[str, int]]:
    """Each of the destination's own limits that holds a send back, with the moment it lets one through."""
    blocks = []
    if plan.cooldown_until is not None and record.next_send_at > now:
        blocks.append((COOLDOWN, record.next_send_at))
    if plan.sends is not None and record.sends.get(plan.sends.bucket, 0) >= plan.sends.limit:
        blocks.append((SEND_WINDOW, plan.sends.resets_at))
    if record.blocked_until > now:
        blocks.append((FAILURES_DESTINATION, record.blocked_until))
    if plan.network is not None and record.network_blocks.get(plan.network, 0) > now:
        blocks.append((FAILURES_NETWORK, record.network_blocks[plan.network]))
    return blocks


def send_refusal(plan: SendPlan, outcome: SendOutcome, now: int) -> SendRefusal | None:
    """Which limits refused the send, read from what the store found; None when it was taken."""
    if outcome.taken:
        return None
    blocks = _destination_blocks(plan, outcome.record, now) if outcome.record is not None else []
    if plan.ip is not None and outcome.ip_sends is not None and outcome.ip_sends >= plan.ip.window.limit:
        blocks.append((END_USER_IP, plan.ip.window.resets_at))
    if outcome.conflict:
        # Another send for the same destination is being written right now: a retry a second
        # later sees the winner's cooldown, so this one is held back as if by it.
        blocks.append((COOLDOWN, now + 1))
    # The reason that holds the send back longest comes first: it is the one the caller waits for.
    latest = {reason: max(until for named, until in blocks if named == reason) for reason, _ in blocks}
    reasons = tuple(sorted(latest, key=lambda reason: (-latest[reason], REASONS.index(reason))))
    return SendRefusal(free_at=max([now + 1, *latest.values()]), reasons=reasons)


def resend_available_at(settings: Settings, record: DestinationRecord, created_at: int, now: int) -> int:
    """When a new /generate for the destination passes its cooldown, send window and failure bound."""
    plan = send_plan(settings, "", None, now)
    return max([created_at, record.next_send_at, *(until for _, until in _destination_blocks(plan, record, now))])


def attempt_cap(settings: Settings) -> int:
    """A code keeps its own attempts, and the destination as a whole may see no more than
    OTP_MAX_FAILURES_PER_DESTINATION + OTP_MAX_ATTEMPTS unproven attempts per failure window:
    /generate stops at the first number, so only the code pending then can reach the second."""
    return settings.max_failures_per_destination + settings.max_attempts


def attempt_limits(settings: Settings, now: int, network: str | None = None) -> AttemptLimits:
    length = failure_bucket_seconds(settings)
    bucket = now // length
    kept = _buckets_in_window(settings)
    return AttemptLimits(
        max_attempts=settings.max_attempts,
        failures=Window(bucket, attempt_cap(settings), (bucket + 1) * length),
        # Buckets just behind the window: each write drops a stretch of them, so none lingers.
        stale_buckets=tuple(range(bucket - 2 * kept, bucket - kept + 1)),
        network=network,
    )


def budget_spent(settings: Settings, record: DestinationRecord | None, now: int) -> bool:
    """The destination's unproven attempts in the window have reached the cap: no more are compared."""
    return record is not None and in_window(settings, record.failures, now) >= attempt_cap(settings)


def over_cap(settings: Settings, record: DestinationRecord | None, now: int) -> bool:
    """True when a reserved attempt would take the window past the cap: it is refused, not compared.
    Concurrent reservations each see their own count, so no interleaving compares more than the cap."""
    return record is not None and in_window(settings, record.failures, now) > attempt_cap(settings)


def failure_network(ip: str) -> str:
    """Whose wrong codes count together (semantics 11): an IPv4 /24, or an IPv6 /64."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    ipv4 = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address
    return str(ipaddress.IPv4Network((ipv4, 24), strict=False))


def end_user_network(ip: str) -> str:
    """What the per-IP limit counts: one IPv4 address, or one IPv6 /64 (what one subscriber gets)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
