"""The packaged template's IAM: one role per function, each as narrow as the contract needs."""

from __future__ import annotations

import json

import pytest

from tests.infrastructure.policies import actions, every_statement, listed_actions, statements

pytestmark = pytest.mark.deploy


def test_key_rotates_and_its_policy_is_least_privilege(resources):
    key = resources["OtpKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert resources["OtpKey"]["Condition"] == "CreateKmsKey"
    by_sid = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    assert by_sid["GenerateEncryptsCodesOnly"]["Action"] == "kms:Encrypt"
    assert by_sid["VerifyDecryptsCodesOnly"]["Action"] == "kms:Decrypt"
    admin = by_sid["AccountAdministersButCannotUseTheKey"]["Action"]
    assert not {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey"} & set(admin)
    assert resources["OtpKeyAlias"]["Properties"]["AliasName"] == "alias/otp-ci"


def test_the_digest_key_is_an_hmac_key_only_the_functions_can_use(resources):
    key = resources["OtpDigestKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    by_sid = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    assert "kms:GenerateMac" not in by_sid["AccountAdministersButCannotUseTheKey"]["Action"]
    use = by_sid["FunctionsDeriveTheDigestSecret"]
    assert use["Action"] == "kms:GenerateMac"
    roles = [{"Fn::GetAtt": [f"{name}Role", "Arn"]} for name in ("Generate", "Verify", "Verifications", "PumpingGuard")]
    assert use["Principal"]["AWS"] == roles
    assert use["Condition"] == {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}
    # The secret is derived at run time: no template value holds it.
    assert resources["OtpDigestKeyAlias"]["Properties"]["AliasName"] == "alias/otp-ci-digests"


def test_each_function_has_its_own_role(resources):
    assert resources["GenerateLambdaFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["GenerateRole", "Arn"]}
    assert resources["VerifyLambdaFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["VerifyRole", "Arn"]}
    assert resources["GeneratePolicy"]["Properties"]["Roles"] == [{"Ref": "GenerateRole"}]
    assert resources["VerifyPolicy"]["Properties"]["Roles"] == [{"Ref": "VerifyRole"}]
    assert resources["VerificationsLambdaFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["VerificationsRole", "Arn"]
    }
    assert resources["VerificationsPolicy"]["Properties"]["Roles"] == [{"Ref": "VerificationsRole"}]
    assert resources["PumpingGuardLambdaFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["PumpingGuardRole", "Arn"]}
    assert resources["PumpingGuardPolicy"]["Properties"]["Roles"] == [{"Ref": "PumpingGuardRole"}]


CODE_CONTEXT_ONLY = {
    "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["otp:record", "otp:verification_id", "otp:purpose"]},
    "Null": {"kms:EncryptionContextKeys": "false"},  # a request without any context is refused too
}
HMAC_SHA_256_ONLY = {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}
CODE_KEY = {"Fn::If": ["CreateKmsKey", {"Fn::GetAtt": ["OtpKey", "Arn"]}, {"Ref": "KmsKeyArn"}]}
DIGEST_KEY = {"Fn::If": ["CreateDigestKey", {"Fn::GetAtt": ["OtpDigestKey", "Arn"]}, {"Ref": "DigestKeyArn"}]}
TABLE = {"Fn::GetAtt": ["OtpTable", "Arn"]}


def only_items(prefix: str) -> dict:
    return {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{prefix}#*"]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }


def policy_by_sid(resources: dict, policy: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in statements(resources, policy)}


def test_every_table_grant_is_scoped_to_its_item_kinds(resources):
    for policy in ("GeneratePolicy", "VerifyPolicy", "VerificationsPolicy", "PumpingGuardPolicy"):
        for statement in statements(resources, policy):
            listed = listed_actions(statement)
            if statement["Sid"] in ("ReadTheBlockList", "ReadTheTableStream"):
                continue  # one item, and the stream: checked on their own below
            if any(action.startswith("dynamodb:") for action in listed):
                assert statement["Resource"] == TABLE, (policy, statement["Sid"])
                leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                assert statement["Condition"] == only_items(leading[0].removesuffix("#*")), (policy, statement["Sid"])


def test_every_kms_grant_carries_its_condition_in_the_role_policy_itself(resources):
    expected = {
        "kms:Encrypt": CODE_CONTEXT_ONLY,
        "kms:Decrypt": CODE_CONTEXT_ONLY,
        "kms:GenerateMac": HMAC_SHA_256_ONLY,
    }
    seen = set()
    for policy in ("GeneratePolicy", "VerifyPolicy", "VerificationsPolicy", "PumpingGuardPolicy"):
        for statement in statements(resources, policy):
            if str(statement["Action"]).startswith("kms:"):
                assert statement["Action"] in expected, (policy, statement["Action"])
                assert statement["Condition"] == expected[statement["Action"]], (policy, statement["Sid"])
                key = DIGEST_KEY if statement["Action"] == "kms:GenerateMac" else CODE_KEY
                assert statement["Resource"] == key, (policy, statement["Sid"])
                seen.add((policy, statement["Action"]))
    assert seen == {
        ("GeneratePolicy", "kms:Encrypt"),
        ("GeneratePolicy", "kms:GenerateMac"),
        ("VerifyPolicy", "kms:Decrypt"),
        ("VerifyPolicy", "kms:GenerateMac"),
        ("VerificationsPolicy", "kms:GenerateMac"),
        ("PumpingGuardPolicy", "kms:GenerateMac"),
    }


def test_the_status_and_cancel_role_holds_only_the_digest_secret_of_kms(resources):
    assert actions(resources, "VerificationsPolicy") == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "kms:GenerateMac",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    sids = policy_by_sid(resources, "VerificationsPolicy")
    assert sids["ReadAndCancelVerifications"]["Condition"] == only_items("dest")
    assert sids["DeriveTheDigestSecret"]["Condition"] == HMAC_SHA_256_ONLY
    assert "VerificationsRole" not in json.dumps(resources["OtpKey"]["Properties"]["KeyPolicy"])
    digest_users = {s["Sid"]: s for s in resources["OtpDigestKey"]["Properties"]["KeyPolicy"]["Statement"]}
    principals = digest_users["FunctionsDeriveTheDigestSecret"]["Principal"]["AWS"]
    assert {"Fn::GetAtt": ["VerificationsRole", "Arn"]} in principals


# Each provider's send statement exists only under its condition (tests/infrastructure/test_channels_deploy.py
# resolves them per provider); SNS, the default, is on in the template these tests read.
PROVIDER_STATEMENTS = {
    "SendSms": "SmsBySns",
    "NeverPublishToTopics": "SmsBySns",
    "SendSmsFromTheOriginationIdentity": "SmsByEum",
    "SendSmsWithTheNotifyConfiguration": "SmsByNotify",
    "CallFromTheVoiceIdentity": "VoiceByEum",
    "CallWithTheNotifyConfiguration": "VoiceByNotify",
    "SendWhatsAppFromThePhoneNumber": "WhatsappOn",
}


def test_each_providers_send_statement_is_conditional_on_it(resources):
    conditional = {
        s["Fn::If"][1]["Sid"]: s["Fn::If"][0]
        for s in resources["GeneratePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if "Fn::If" in s and s["Fn::If"][1]["Sid"] in PROVIDER_STATEMENTS
    }
    assert conditional == PROVIDER_STATEMENTS


def test_generate_role_holds_exactly_what_generate_uses(resources):
    off_by_default = {
        action
        for s in statements(resources, "GeneratePolicy")
        if PROVIDER_STATEMENTS.get(s["Sid"], "SmsBySns") != "SmsBySns"
        for action in listed_actions(s)
    }
    assert actions(resources, "GeneratePolicy") - off_by_default == {
        "kms:Encrypt",
        "kms:GenerateMac",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",  # idempotency records, and the one pumping#blocks item
        "sns:Publish",
        "ses:SendEmail",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    sids = policy_by_sid(resources, "GeneratePolicy")
    # Reading, replacing and deleting items is for Idempotency-Key records only; destination
    # records and per-IP counters are only ever updated.
    assert sids["KeepIdempotencyRecords"]["Condition"] == only_items("idem")
    assert set(sids["KeepIdempotencyRecords"]["Action"]) == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
    }
    assert sids["ChargeAndStoreCodesOfDestinations"]["Action"] == "dynamodb:UpdateItem"
    assert sids["ChargeAndStoreCodesOfDestinations"]["Condition"] == only_items("dest")
    assert sids["CountSendsPerNetwork"]["Action"] == "dynamodb:UpdateItem"
    assert sids["CountSendsPerNetwork"]["Condition"] == only_items("ip")
    assert sids["EncryptCodes"]["Condition"] == CODE_CONTEXT_ONLY
    assert sids["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": ["GenerateLogGroup", "Arn"]}
    ses = json.dumps(sids["SendEmailFromTheSenderIdentity"]["Resource"])
    assert ":identity/" in ses and "*" not in ses
    # SMS to a number has no ARN; every topic is denied, so the role cannot publish to any of them.
    deny = sids["NeverPublishToTopics"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "sns:Publish"
    assert deny["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}
    assert sids["DeriveTheDigestSecret"]["Resource"] == DIGEST_KEY


def test_verify_role_holds_exactly_what_verify_uses(resources):
    assert actions(resources, "VerifyPolicy") == {
        "kms:Decrypt",
        "kms:GenerateMac",
        "dynamodb:UpdateItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    sids = policy_by_sid(resources, "VerifyPolicy")
    assert sids["CountAttemptsAndConsumeCodes"]["Condition"] == only_items("dest")
    assert sids["DecryptCodes"]["Condition"] == CODE_CONTEXT_ONLY
    assert sids["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": ["VerifyLogGroup", "Arn"]}


def test_no_wildcard_actions_are_granted(template):
    granted, denied = [], []
    for _, statement in every_statement(template["Resources"]):
        (granted if statement["Effect"] == "Allow" else denied).extend(listed_actions(statement))
    assert granted and all("*" not in action for action in granted), granted
    # The framework's deployment bucket denies every S3 action over plain HTTP; a wildcard that denies.
    assert sorted(denied) == ["s3:*", "sns:Publish"]


def test_email_may_name_the_configuration_set_the_deploy_sets_and_no_other(resources, template):
    [ses] = [s for s in statements(resources, "GeneratePolicy") if s["Sid"] == "SendEmailFromTheSenderIdentity"]
    configuration_set = {
        "Fn::If": [
            "HasSesConfigurationSet",
            {
                "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
                ":configuration-set/${SesConfigurationSet}"
            },
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert configuration_set in ses["Resource"]
    assert template["Parameters"]["SesConfigurationSet"]["Default"] == ""


def test_generate_may_read_the_block_list_and_no_other_pumping_item(resources):
    sids = policy_by_sid(resources, "GeneratePolicy")
    read = sids["ReadTheBlockList"]
    assert (read["Effect"], read["Action"], read["Resource"]) == ("Allow", "dynamodb:GetItem", TABLE)
    assert read["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["pumping#blocks"]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }
    others = [s for sid, s in sids.items() if sid != "ReadTheBlockList"]
    assert "pumping#" not in json.dumps(others)


def test_the_pumping_guard_role_holds_exactly_what_the_consumer_uses(resources):
    assert actions(resources, "PumpingGuardPolicy") - {"sms-voice:PutMessageFeedback"} == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "kms:GenerateMac",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",  # the Lambda service's, for a failed batch's record
    }
    sids = policy_by_sid(resources, "PumpingGuardPolicy")
    assert sids["ReadTheTableStream"]["Resource"] == {"Fn::GetAtt": ["OtpTable", "StreamArn"]}
    # Its own items only: never a destination record, an IP counter or an idempotency record.
    assert sids["CountCodesAndWriteBlocks"]["Condition"] == only_items("pumping")
    assert sids["DeriveTheDigestSecret"]["Resource"] == DIGEST_KEY
    assert sids["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": ["PumpingGuardLogGroup", "Arn"]}
    assert "PumpingGuardRole" not in json.dumps(resources["OtpKey"]["Properties"]["KeyPolicy"])


def test_delivery_feedback_is_granted_only_with_a_provider_that_gives_message_ids(resources, template):
    [feedback] = [
        s["Fn::If"]
        for s in resources["PumpingGuardPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if "Fn::If" in s and s["Fn::If"][0] == "ReportsMessageFeedback"
    ]
    statement = feedback[1]
    assert statement["Action"] == "sms-voice:PutMessageFeedback" and "Condition" not in statement
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:message/*"
    }
    assert feedback[2] == {"Ref": "AWS::NoValue"}
    assert template["Conditions"]["ReportsMessageFeedback"] == {
        "Fn::And": [
            {"Fn::Or": [{"Condition": "SmsByEum"}, {"Condition": "SmsByNotify"}]},
            {"Fn::Equals": [{"Ref": "SmsFeedback"}, "true"]},
        ]
    }
    assert template["Parameters"]["SmsFeedback"]["AllowedValues"] == ["true", "false"]


def test_only_the_guard_may_send_to_the_failures_queue_and_to_no_other_queue(template):
    granted = [
        (resource, statement.get("Sid"), statement["Effect"], listed_actions(statement), statement["Resource"])
        for resource, statement in every_statement(template["Resources"])
        if any(str(action).lower().startswith("sqs:") for action in listed_actions(statement))
    ]
    queue = {"Fn::GetAtt": ["PumpingGuardFailuresQueue", "Arn"]}
    assert granted == [("PumpingGuardPolicy", "RecordFailedBatches", "Allow", ["sqs:SendMessage"], queue)]
    statement = policy_by_sid(template["Resources"], "PumpingGuardPolicy")["RecordFailedBatches"]
    assert "Condition" not in statement and statement["Action"] == "sqs:SendMessage"
    assert "IamRoleLambdaExecution" not in template["Resources"]  # the framework's own grant would be there
