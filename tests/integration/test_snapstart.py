"""SnapStart: models are loaded before the snapshot; clients, credentials and the digest secret are renewed after."""

import sys
import types

import pytest

from otp.aws import clients
from otp.bootstrap import verify_dependencies
from otp.config import load_settings
from tests.helpers import GOOD_US


@pytest.fixture
def snapshot_runtime(monkeypatch):
    """What Lambda's Python runtime provides while it initializes a version for a snapshot."""
    hooks = []
    module = types.ModuleType("snapshot_restore_py")
    module.register_after_restore = hooks.append
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    return hooks


def test_without_snapstart_nothing_is_created_at_init(aws):
    deps = verify_dependencies(load_settings({"OTP_KMS_KEY_ID": aws.key_id, "OTP_DIGEST_KEY_ID": aws.digest_key_id}))
    assert deps.cipher is not None
    assert clients.created_clients() == []


def test_clients_are_made_before_the_snapshot_and_renewed_after_the_restore(aws, make_api, snapshot_runtime):
    api = make_api()  # imports the handlers as a SnapStart initialization does
    assert {"dynamodb", "kms", "sns"} <= set(clients.created_clients())
    assert len(snapshot_runtime) == 3  # one hook per function
    _, code = api.issue(GOOD_US)
    assert api.verify({"destination": GOOD_US, "code": "000000" if code != "000000" else "111111"}).status == 403
    before = clients.client("dynamodb")
    assert api.verify_deps.digests._secret is not None
    for hook in snapshot_runtime:
        hook()
    assert api.verify_deps.digests._secret is None  # derived again on the next request
    assert clients.created_clients() == []
    reply = api.verify({"destination": GOOD_US, "code": code})
    assert reply.status == 200
    assert clients.client("dynamodb") is not before


def test_the_verifications_function_loads_kms_too_and_forgets_its_secret_after_a_restore(aws, snapshot_runtime):
    from otp.bootstrap import verification_dependencies

    settings = load_settings({"OTP_KMS_KEY_ID": aws.key_id, "OTP_DIGEST_KEY_ID": aws.digest_key_id})
    deps = verification_dependencies(settings)
    # It unmasks ids with the digest secret: the KMS model is in the snapshot, the secret is not.
    assert sorted(clients.created_clients()) == ["dynamodb", "kms"]
    assert deps.digests._secret is None
    deps.digests.locate(deps.digests.new_verification_id("dest#" + "ab" * 16, "default"))
    assert deps.digests._secret is not None
    [hook] = snapshot_runtime
    hook()
    assert deps.digests._secret is None
