"""What the routes' presenters share. Each route turns its use case's result into its response
body, and counts its metric, in its own module, so a function builds only its own models."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch: int) -> str:
    """A moment as the contract's bodies write it: ISO 8601, UTC, with a Z."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
