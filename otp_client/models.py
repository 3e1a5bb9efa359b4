"""What the service answers, as typed values. Fields the service adds later are ignored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def _time(value: Any) -> datetime:
    # The service writes ISO 8601 UTC with a Z, which datetime.fromisoformat reads from Python 3.11.
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Generated:
    """A code is on its way (201 from POST /generate). The response never holds the code."""

    verification_id: str
    channel: str
    destination: str  # masked: +91******3210, a***@example.com
    purpose: str
    locale: str
    expires_at: datetime
    expires_in: int
    resend_after: int

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Generated:
        return cls(
            verification_id=str(body["verification_id"]),
            channel=str(body["channel"]),
            destination=str(body["destination"]),
            purpose=str(body["purpose"]),
            locale=str(body["locale"]),
            expires_at=_time(body["expires_at"]),
            expires_in=int(body["expires_in"]),
            resend_after=int(body["resend_after"]),
        )


@dataclass(frozen=True)
class Verified:
    """The code was right (200 from POST /verify); any other answer raises."""

    verification_id: str
    channel: str
    destination: str
    purpose: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Verified:
        if body.get("verified") is not True:
            raise ValueError("a 2xx /verify answer without verified: true")
        return cls(
            verification_id=str(body["verification_id"]),
            channel=str(body["channel"]),
            destination=str(body["destination"]),
            purpose=str(body["purpose"]),
        )


@dataclass(frozen=True)
class Verification:
    """The state of one verification (GET /verifications/{id}, and the answer of its cancel)."""

    verification_id: str
    status: str  # pending, approved, expired, max_attempts_reached, superseded, canceled
    channel: str
    destination: str
    purpose: str
    attempts_remaining: int
    created_at: datetime
    expires_at: datetime
    resend_available_at: datetime

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Verification:
        return cls(
            verification_id=str(body["verification_id"]),
            status=str(body["status"]),
            channel=str(body["channel"]),
            destination=str(body["destination"]),
            purpose=str(body["purpose"]),
            attempts_remaining=int(body["attempts_remaining"]),
            created_at=_time(body["created_at"]),
            expires_at=_time(body["expires_at"]),
            resend_available_at=_time(body["resend_available_at"]),
        )
