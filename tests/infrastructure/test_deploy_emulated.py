"""`make deploy-emulated`: the real `serverless deploy` against moto, and the IAM proof it ends with.

One run of the command (as the Makefile runs it) serves the module; the mutation tests re-check
its recorded requests against edited copies of the packaged template, which takes a second.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import iam_proof
from deploy.recorder import IamRequest
from deploy.scenario import DeployedFunction
from deploy.template_values import StackValues

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"iam: (\d+) requests by (\d+) functions allowed, 0 denied; negative controls denied: (\d+) of \3")

pytestmark = pytest.mark.deploy


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    evidence = tmp_path_factory.mktemp("deploy-emulated") / "evidence.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    finished = subprocess.run(
        [sys.executable, "-m", "deploy.emulated", "--evidence", str(evidence)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-6000:] + finished.stderr[-6000:]
    return {"stdout": finished.stdout, **json.loads(evidence.read_text())}


def recheck(run: dict, template: dict, reasons: dict[str, str] | None = None) -> iam_proof.Proof:
    functions = {name: DeployedFunction(**f) for name, f in run["functions"].items()}
    requests = [IamRequest.from_json(r) for r in run["requests"]]
    return iam_proof.prove(requests, functions, template, StackValues(**run["values"]), reasons)


def drop_statement(template: dict, policy: str, sid: str) -> dict:
    edited = copy.deepcopy(template)
    document = edited["Resources"][policy]["Properties"]["PolicyDocument"]
    before = len(document["Statement"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    assert len(document["Statement"]) == before - 1, sid
    return edited


def test_it_ends_with_the_proof_line_and_every_request_allowed(run):
    last = run["stdout"].strip().splitlines()[-1]
    found = SUMMARY.fullmatch(last)
    assert found, last
    requests, functions, controls = (int(n) for n in found.groups())
    assert requests == len(run["requests"]) >= 20
    assert functions == 4
    assert controls >= 20


def test_the_handlers_ran_every_kind_of_request_the_roles_grant(run):
    made = {
        (r["function"], r["action"], str(r["context"].get("dynamodb:LeadingKeys", [""])[0]).split("#")[0])
        for r in run["requests"]
    }
    for expected in [
        ("generate", "dynamodb:UpdateItem", "dest"),
        ("generate", "dynamodb:UpdateItem", "ip"),
        ("generate", "dynamodb:PutItem", "idem"),
        ("generate", "dynamodb:UpdateItem", "idem"),
        ("generate", "dynamodb:DeleteItem", "idem"),
        ("generate", "kms:Encrypt", ""),
        ("generate", "kms:GenerateMac", ""),
        ("generate", "sns:Publish", ""),
        ("generate", "ses:SendEmail", ""),
        ("verify", "kms:Decrypt", ""),
        ("verify", "dynamodb:UpdateItem", "dest"),
        ("verifications", "dynamodb:GetItem", "dest"),
        ("verifications", "dynamodb:UpdateItem", "dest"),
        # The guard, from the stream records of those changes, and from a schedule's tick.
        ("pumpingGuard", "dynamodb:GetItem", "pumping"),
        ("pumpingGuard", "dynamodb:UpdateItem", "pumping"),
        ("pumpingGuard", "dynamodb:BatchGetItem", "pumping"),
        ("pumpingGuard", "kms:GenerateMac", ""),
    ]:
        assert expected in made, expected
    encrypt = next(r for r in run["requests"] if r["action"] == "kms:Encrypt")
    assert encrypt["context"]["kms:EncryptionContextKeys"] == ["otp:purpose", "otp:record", "otp:verification_id"]


def test_generate_reads_the_block_list_and_no_other_pumping_item(run):
    generate = [r for r in run["requests"] if r["function"] == "generate"]
    keys = [str(k) for r in generate for k in r["context"].get("dynamodb:LeadingKeys", [])]
    pumping = [k for k in keys if k.startswith("pumping#")]
    # Once per container per OTP_FRAUD_REACTION_SECONDS (tests/unit/test_pumping_generate.py counts
    # that on a clock); here the scenario's few requests may span more than one interval.
    assert pumping and set(pumping) == {"pumping#blocks"}
    reads = [r for r in generate if "pumping#blocks" in r["context"].get("dynamodb:LeadingKeys", [])]
    assert {r["action"] for r in reads} == {"dynamodb:GetItem"}
    assert len(reads) < len([r for r in generate if r["action"] == "kms:Encrypt"]), "not one read per request"


def test_the_guard_touches_only_its_own_items_and_counted_what_generate_and_verify_wrote(run):
    guard = [r for r in run["requests"] if r["function"] == "pumpingGuard"]
    keys = [str(k) for r in guard for k in r["context"].get("dynamodb:LeadingKeys", [])]
    assert keys and all(k.startswith("pumping#") for k in keys)
    assert not [r for r in guard if r["action"].startswith("kms:") and r["action"] != "kms:GenerateMac"]
    # Two numbers, two prefixes: a count written for each (the stream brought their codes).
    counted = {r["context"]["dynamodb:LeadingKeys"][0] for r in guard if r["action"] == "dynamodb:UpdateItem"}
    assert len(counted) == 2
    blocks = [r for r in guard if r["action"] == "dynamodb:GetItem"]
    assert [r["context"]["dynamodb:LeadingKeys"] for r in blocks] == [["pumping#blocks"]] * 2  # batch, then tick


def test_the_functions_run_with_the_configuration_the_emulated_stack_gave_them(run):
    outputs = run["outputs"]
    arns = run["values"]["arns"]
    for name, function in run["functions"].items():
        environment = function["environment"]
        assert environment["OTP_TABLE_NAME"] == outputs["TableName"] == "otp-emulated"
        assert environment["OTP_KMS_KEY_ID"] == outputs["KmsKeyArn"] == arns["OtpKey"]
        assert environment["OTP_DIGEST_KEY_ID"] == outputs["DigestKeyArn"] == arns["OtpDigestKey"]
        assert function["role_arn"] == arns[function["role_logical_id"]]
        assert function["role_logical_id"] == f"{name[0].upper()}{name[1:]}Role"


def test_the_resource_types_moto_skipped_are_listed(run):
    assert set(run["skipped_types"]) == {
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Stage",
        "AWS::CloudWatch::Alarm",
        "AWS::S3::BucketPolicy",
    }
    assert "resource types moto skipped: AWS::ApiGatewayV2::Api" in run["stdout"]


def test_the_recorded_evidence_proves_against_the_template_as_packaged(run):
    proof = recheck(run, run["template"])
    assert proof.holds, iam_proof.report(proof)
    assert "GeneratePolicy/WriteOwnLogs" in proof.unused
    # The verifications function unmasks ids under the digest secret: its GenerateMac is used.
    assert "VerificationsPolicy/DeriveTheDigestSecret" not in proof.unused
    assert "PumpingGuardPolicy/DeriveTheDigestSecret" not in proof.unused
    assert "PumpingGuardPolicy/ReadTheTableStream" in proof.unused  # the Lambda service's poller uses it
    # The Lambda service sends a failed batch's record with it; the emulated deploy never fails one.
    assert "PumpingGuardPolicy/RecordFailedBatches" in proof.unused


@pytest.mark.parametrize(
    ("policy", "sid", "denied"),
    [
        ("GeneratePolicy", "CountSendsPerNetwork", "dynamodb:UpdateItem"),
        ("GeneratePolicy", "KeepIdempotencyRecords", "dynamodb:PutItem"),
        ("VerifyPolicy", "DecryptCodes", "kms:Decrypt"),
        ("VerificationsPolicy", "ReadAndCancelVerifications", "dynamodb:GetItem"),
        ("PumpingGuardPolicy", "CountCodesAndWriteBlocks", "dynamodb:BatchGetItem"),
        ("PumpingGuardPolicy", "DeriveTheDigestSecret", "kms:GenerateMac"),
    ],
)
def test_a_template_without_a_needed_statement_is_denied(run, policy, sid, denied):
    proof = recheck(run, drop_statement(run["template"], policy, sid))
    assert not proof.holds
    assert any(f" {denied} " in line for line in proof.denied), proof.denied
    allowed = proof.requests - len(proof.denied)
    assert proof.summary().startswith(f"iam: {allowed} requests by 4 functions allowed, {len(proof.denied)} denied;")


def test_a_role_policy_without_its_context_condition_lets_a_control_through(run):
    """With an operator's own key (whose policy defers to IAM) the role policy's condition is the guard."""
    template = copy.deepcopy(run["template"])
    for statement in template["Resources"]["VerifyPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if statement.get("Sid") == "DecryptCodes":
            del statement["Condition"]
    proof = recheck(run, template)
    assert "verify decrypts with other context keys than a code's" in proof.controls_allowed
    assert not proof.holds


def test_a_guard_policy_open_to_every_item_lets_its_controls_through(run):
    template = copy.deepcopy(run["template"])
    for statement in template["Resources"]["PumpingGuardPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if statement.get("Sid") == "CountCodesAndWriteBlocks":
            del statement["Condition"]
    proof = recheck(run, template)
    assert {"the guard reads a destination record", "the guard updates a destination record"} <= set(
        proof.controls_allowed
    )
    assert not proof.holds


def test_generate_reading_any_pumping_item_lets_its_control_through(run):
    template = copy.deepcopy(run["template"])
    for statement in template["Resources"]["GeneratePolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if statement.get("Sid") == "ReadTheBlockList":
            statement["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["pumping#*"]}}
    proof = recheck(run, template)
    assert proof.controls_allowed == ["generate reads a prefix's counts"]


def test_feedback_granted_with_the_sns_provider_lets_its_control_through(run):
    template = copy.deepcopy(run["template"])
    template["Conditions"]["ReportsMessageFeedback"] = {"Fn::Equals": ["true", "true"]}
    proof = recheck(run, template)
    assert proof.controls_allowed == ["the guard reports delivery feedback with this provider"]


def test_an_unused_statement_needs_its_reason_beside_it(run):
    proof = recheck(run, run["template"], reasons={})
    assert "GeneratePolicy/WriteOwnLogs" in proof.unexplained
    assert "PumpingGuardPolicy/RecordFailedBatches" in proof.unexplained
    assert not proof.holds
    stale = recheck(run, run["template"], reasons={"VerifyPolicy/DecryptCodes": "said to be unused"})
    assert stale.stale == ["VerifyPolicy/DecryptCodes"] and not stale.holds


def test_the_emulator_stops_and_undoes_its_patches_when_a_step_fails():
    import socket

    from moto.awslambda import models as lambda_models
    from moto.cloudformation import models, parsing
    from moto.kms import models as kms_models

    from deploy.emulator import running

    originals = (
        parsing.clean_json,
        models.CloudFormationBackend.validate_template,
        models.CloudFormationBackend.execute_change_set,
        kms_models.Key.__dict__["create_from_cloudformation_json"],
        lambda_models.LambdaBackend.send_dynamodb_items,
    )
    seen: dict[str, object] = {}

    def a_failing_step() -> None:
        with running("ap-south-1") as emulator:
            seen["port"] = int(emulator.endpoint.rsplit(":", 1)[1])
            seen["patched"] = parsing.clean_json is not originals[0]
            socket.create_connection(("127.0.0.1", seen["port"]), timeout=2).close()
            raise RuntimeError("a step failed")

    with pytest.raises(RuntimeError, match="a step failed"):
        a_failing_step()
    assert seen["patched"] is True
    port = seen["port"]
    assert (
        parsing.clean_json,
        models.CloudFormationBackend.validate_template,
        models.CloudFormationBackend.execute_change_set,
        kms_models.Key.__dict__["create_from_cloudformation_json"],
        lambda_models.LambdaBackend.send_dynamodb_items,
    ) == originals
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_send_naming_a_configuration_set_needs_that_set_in_the_role(run):
    """SES authorizes SendEmail against the configuration set too; the deploy sets one (sesConfigurationSet)."""
    template = copy.deepcopy(run["template"])
    for statement in template["Resources"]["GeneratePolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement and statement["Fn::If"][1]["Sid"] == "SendEmailFromTheSenderIdentity":
            resources = statement["Fn::If"][1]["Resource"]
            resources[:] = [r for r in resources if "HasSesConfigurationSet" not in json.dumps(r)]
    proof = recheck(run, template)
    assert [line for line in proof.denied if "ses:SendEmail" in line and "configuration-set/" in line], proof.denied
