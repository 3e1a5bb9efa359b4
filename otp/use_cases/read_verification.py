"""Read one verification by its id: what a backend needs for a resend timer or an audit."""

from __future__ import annotations

from otp.domain.errors import NotFound
from otp.use_cases import answering_503
from otp.use_cases.dependencies import VerificationDependencies
from otp.use_cases.verification_view import VerificationView, describe, locate


def read_verification(deps: VerificationDependencies, verification_id: str) -> VerificationView:
    ref = locate(deps, verification_id)
    now = deps.now()
    with answering_503("a status read"):
        record = deps.store.read(ref.record_key)
    view = describe(deps, record, ref, verification_id, now)
    if view is None:
        raise NotFound("No verification has this id (or it has been purged).")
    return view
