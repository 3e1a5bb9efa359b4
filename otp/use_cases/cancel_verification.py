"""Cancel one verification: its code stops verifying at once ("wrong number, let me change it")."""

from __future__ import annotations

import dataclasses
import logging

from otp.domain import limits
from otp.domain.errors import NotFound, NotPending
from otp.use_cases import answering_503
from otp.use_cases.dependencies import VerificationDependencies
from otp.use_cases.verification_view import VerificationView, describe, keep_ending, locate

log = logging.getLogger(__name__)


def cancel_verification(deps: VerificationDependencies, verification_id: str) -> VerificationView:
    ref = locate(deps, verification_id)
    now = deps.now()
    with answering_503("a cancel"):
        # One conditional write: it cancels only a pending code, so a cancel racing a right code
        # has exactly one winner.
        canceled, record = deps.store.cancel(
            ref.record_key, ref.purpose, verification_id, now, deps.settings.max_attempts
        )
    view = describe(deps, record, ref, verification_id, now)
    if view is None:
        raise NotFound("No verification has this id (or it has been purged).")
    if view.status != "canceled":
        raise NotPending(view.status)
    if canceled and record is not None:
        # It left pending just now: the value it shows from here on is the one it had at this moment.
        resend_at = limits.resend_available_at(deps.settings, record, view.created_at, now)
        keep_ending(deps, ref.record_key, record.codes[ref.purpose], resend_at)
        view = dataclasses.replace(view, resend_available_at=resend_at)
        log.info(
            "verification canceled",
            extra={"verification_id": verification_id, "destination": view.masked_destination},
        )
    return view
