"""`serverless package` builds the stack offline; these tests read the CloudFormation it generates."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_FUNCTIONS = (
    "GenerateLambdaFunction",
    "VerifyLambdaFunction",
    "VerificationsLambdaFunction",
    "PumpingGuardLambdaFunction",
)


pytestmark = pytest.mark.deploy


def test_the_stack_has_every_resource(resources):
    for name, kind in {
        "OtpTable": "AWS::DynamoDB::Table",
        "OtpKey": "AWS::KMS::Key",
        "OtpKeyAlias": "AWS::KMS::Alias",
        "OtpDigestKey": "AWS::KMS::Key",
        "OtpDigestKeyAlias": "AWS::KMS::Alias",
        "GenerateRole": "AWS::IAM::Role",
        "VerifyRole": "AWS::IAM::Role",
        "VerificationsRole": "AWS::IAM::Role",
        "VerificationsPolicy": "AWS::IAM::Policy",
        "VerificationsLambdaFunction": "AWS::Lambda::Function",
        "VerificationsLogGroup": "AWS::Logs::LogGroup",
        "GeneratePolicy": "AWS::IAM::Policy",
        "VerifyPolicy": "AWS::IAM::Policy",
        "GenerateLambdaFunction": "AWS::Lambda::Function",
        "VerifyLambdaFunction": "AWS::Lambda::Function",
        "GenerateLogGroup": "AWS::Logs::LogGroup",
        "VerifyLogGroup": "AWS::Logs::LogGroup",
        "HttpApi": "AWS::ApiGatewayV2::Api",
        "HttpApiStage": "AWS::ApiGatewayV2::Stage",
        "GenerateErrorsAlarm": "AWS::CloudWatch::Alarm",
        "SmsDeliveryFailuresAlarm": "AWS::CloudWatch::Alarm",
        "PumpingGuardRole": "AWS::IAM::Role",
        "PumpingGuardPolicy": "AWS::IAM::Policy",
        "PumpingGuardLambdaFunction": "AWS::Lambda::Function",
        "PumpingGuardLogGroup": "AWS::Logs::LogGroup",
        "PumpingGuardEventSourceMappingDynamodbOtpTable": "AWS::Lambda::EventSourceMapping",
        "PumpingGuardEventsRuleSchedule1": "AWS::Events::Rule",
        "PumpingPrefixBlockedAlarm": "AWS::CloudWatch::Alarm",
        "PumpingGuardFailuresQueue": "AWS::SQS::Queue",
        "PumpingGuardFailedBatchesAlarm": "AWS::CloudWatch::Alarm",
    }.items():
        assert resources[name]["Type"] == kind, name
    assert "IamRoleLambdaExecution" not in resources  # no shared role


def test_table_schema_ttl_recovery_and_encryption(resources):
    table = resources["OtpTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiry", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TableName"] == "otp-ci"  # stages never share a table by default
    # The pumping guard reads each destination record's change, before and after.
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_runtime_architecture_and_powertools_layer(template, resources):
    pinned = version("aws-lambda-powertools")
    layer = template["Parameters"]["PowertoolsLayerArn"]
    assert layer["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert layer["Default"] == f"/aws/service/powertools/python/arm64/python3.13/{pinned}"
    for name in LAMBDA_FUNCTIONS:
        function = resources[name]["Properties"]
        assert function["Runtime"] == "python3.13"
        assert function["Architectures"] == ["arm64"]
        assert function["Layers"] == [{"Ref": "PowertoolsLayerArn"}]


def test_routes_require_iam_unless_opened(resources):
    for route, key in (
        ("HttpApiRoutePostGenerate", "POST /generate"),
        ("HttpApiRoutePostVerify", "POST /verify"),
        ("HttpApiRouteGetVerificationsVerificationidVar", "GET /verifications/{verification_id}"),
        ("HttpApiRoutePostVerificationsVerificationidVarCancel", "POST /verifications/{verification_id}/cancel"),
    ):
        properties = resources[route]["Properties"]
        assert properties["RouteKey"] == key
        assert properties["AuthorizationType"] == {"Fn::If": ["OpenEndpoints", "NONE", "AWS_IAM"]}


def test_stage_throttling_and_cors_off_by_default(template, resources):
    settings = resources["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert settings == {"ThrottlingBurstLimit": 20, "ThrottlingRateLimit": 10}
    assert template["Parameters"]["CorsOrigins"]["Default"] == ""
    assert template["Parameters"]["OpenEndpoints"]["Default"] == "false"
    assert resources["HttpApi"]["Properties"]["CorsConfiguration"]["Fn::If"][0] == "HasCors"


def test_logs_are_retained_for_30_days(resources):
    for name in ("GenerateLogGroup", "VerifyLogGroup", "VerificationsLogGroup", "PumpingGuardLogGroup"):
        assert resources[name]["Properties"]["RetentionInDays"] == 30
    assert resources["PumpingGuardLogGroup"]["Properties"]["LogGroupName"] == "/aws/lambda/otp-ci-pumpingGuard"


def test_environment_carries_every_setting_wired_from_the_resources(resources):
    for name in LAMBDA_FUNCTIONS:
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert env["OTP_TABLE_NAME"] == {"Ref": "OtpTable"}
        assert env["OTP_KMS_KEY_ID"] == {
            "Fn::If": ["CreateKmsKey", {"Fn::GetAtt": ["OtpKey", "Arn"]}, {"Ref": "KmsKeyArn"}]
        }
        assert env["OTP_EMAIL_SENDER"] == {"Ref": "EmailSender"}
        assert env["OTP_DIGEST_KEY_ID"] == {
            "Fn::If": ["CreateDigestKey", {"Fn::GetAtt": ["OtpDigestKey", "Arn"]}, {"Ref": "DigestKeyArn"}]
        }
        assert {k: v for k, v in env.items() if isinstance(v, str) and k.startswith("OTP_")} == {
            "OTP_CODE_LENGTH": "6",
            "OTP_TTL_SECONDS": "300",
            "OTP_MAX_ATTEMPTS": "5",
            "OTP_RESEND_COOLDOWN_SECONDS": "30",
            "OTP_MAX_SENDS_PER_WINDOW": "5",
            "OTP_SEND_WINDOW_SECONDS": "900",
            "OTP_MAX_SENDS_PER_IP": "50",
            "OTP_MAX_FAILURES_PER_DESTINATION": "30",
            "OTP_FAILURE_WINDOW_SECONDS": "86400",
            "OTP_REQUIRE_VERIFICATION_ID": "false",
            "OTP_DEFAULT_LOCALE": "en",
            "OTP_SMS_TEMPLATE": "",
            "OTP_WEBOTP_DOMAIN": "",
            "OTP_ANDROID_APP_HASH": "",
            "OTP_SMS_MAX_PRICE": "",
            "OTP_SMS_ENTITY_ID": "",
            "OTP_SMS_TEMPLATE_ID": "",
            "OTP_SES_CONFIGURATION_SET": "",
            "OTP_SMS_ALLOWED_COUNTRIES": "*",
            "OTP_BRAND_NAME": "OTP Service",
            "OTP_SMS_SENDER_ID": "",
            "OTP_MAX_FAILURES_PER_NETWORK": "",
            "OTP_CORS_ORIGINS": "",
            "OTP_TEST_DESTINATIONS": "",
            "OTP_TEST_DESTINATIONS_VALID_UNTIL": "",
            "OTP_NOTIFY_TEMPLATE_ID": "",
            "OTP_WHATSAPP_TEMPLATE": "otp_code",
            "OTP_WHATSAPP_LANGUAGES": "en_US",
            "OTP_WHATSAPP_META_API_VERSION": "v20.0",
            "OTP_FRAUD_GUARD": "true",
            "OTP_FRAUD_PREFIX_DIGITS": "6",
            "OTP_FRAUD_WINDOW_SECONDS": "3600",
            "OTP_FRAUD_MATURITY_SECONDS": "60",
            "OTP_FRAUD_MIN_CODES": "20",
            "OTP_FRAUD_MIN_CONVERSION": "0.2",
            "OTP_FRAUD_BLOCK_SECONDS": "43200",
            "OTP_FRAUD_REACTION_SECONDS": "10",
            "OTP_FRAUD_SAFE_LIST": "",
        }
        # The providers and identities come from template parameters, which the IAM conditions read too.
        for variable, parameter in {
            "OTP_SMS_PROVIDER": "SmsProvider",
            "OTP_SMS_ORIGINATION_IDENTITY": "SmsOriginationIdentity",
            "OTP_SMS_CONFIGURATION_SET": "SmsConfigurationSet",
            "OTP_NOTIFY_CONFIGURATION_ID": "NotifyConfigurationId",
            "OTP_VOICE_PROVIDER": "VoiceProvider",
            "OTP_VOICE_ORIGINATION_IDENTITY": "VoiceOriginationIdentity",
            "OTP_WHATSAPP_PHONE_NUMBER_ID": "WhatsappPhoneNumberId",
            # A parameter, because the guard's PutMessageFeedback statement exists only with it.
            "OTP_SMS_FEEDBACK": "SmsFeedback",
        }.items():
            assert env[variable] == {"Ref": parameter}, variable
        assert env["OTP_SMS_PROTECT_CONFIGURATION_ID"] == {
            "Fn::If": [
                "CreateProtectConfiguration",
                {"Ref": "OtpProtectConfiguration"},
                {"Ref": "SmsProtectConfigurationId"},
            ]
        }


def test_the_zip_holds_only_our_code_and_pure_python_dependencies(packaged):
    [archive] = packaged.glob("*.zip")
    names = zipfile.ZipFile(archive).namelist()
    top = {name.split("/")[0] for name in names}
    assert {"handlers", "otp", "phonenumbers", "email_validator", "langcodes", "gsm0338"} <= top
    assert "otp/messages/locales/hi.json" in names  # the message files travel with the code
    for unwanted in (
        "boto3",
        "botocore",
        "aws_lambda_powertools",
        "pydantic",
        "tests",
        "local",
        ".venv",
        "node_modules",
        "package.json",
        "package-lock.json",
        "serverless.yml",
    ):
        assert unwanted not in top, unwanted
    assert "dns" not in top and "bin" not in top  # dnspython is never used: no deliverability checks
    assert not [name for name in names if name.endswith((".so", ".pyi"))]
    assert archive.stat().st_size < 2 * 1024 * 1024


def test_the_zip_ships_checked_hash_based_bytecode_for_python_3_13(packaged):
    import importlib.util

    [archive] = packaged.glob("*.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        sources = [n for n in names if n.endswith(".py") and not re.search(r"/(short)?data/region_", n)]
        assert sources
        for source in sources:
            pyc = importlib.util.cache_from_source(source)
            assert pyc.endswith(".cpython-313.pyc")
            assert pyc in names, source
            header = zipped.read(pyc)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER  # compiled by 3.13, the runtime
            # Flags 0b11: hash-based and checked against the source, so the 1980 zip dates do not matter.
            assert int.from_bytes(header[4:8], "little") == 0b11
            assert header[8:16] == importlib.util.source_hash(zipped.read(source))


def test_cfn_lint_passes(packaged):
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            str(packaged / "cloudformation-template-update-stack.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_local_runner_builds_the_same_table_as_the_deployed_template(resources):
    from local import stack
    from local.emulator import Emulator

    emulator = Emulator("ap-south-1")
    emulator.start()
    try:
        emulator.provision(stack.table_shape(stack.load()), "otp-shape-check", "otp@example.com")
        local_table = emulator.describe_table("otp-shape-check")
    finally:
        emulator.stop()
    deployed = resources["OtpTable"]["Properties"]
    assert local_table["KeySchema"] == deployed["KeySchema"]
    assert local_table["AttributeDefinitions"] == deployed["AttributeDefinitions"]
    assert local_table["TimeToLive"]["AttributeName"] == deployed["TimeToLiveSpecification"]["AttributeName"]
    assert local_table["TimeToLive"]["TimeToLiveStatus"] == "ENABLED"


def test_the_local_runner_serves_exactly_the_deployed_routes(resources):
    from local import stack

    local_routes = {f"{route.method} {route.path}" for route in stack.routes(stack.load())}
    deployed_routes = {
        r["Properties"]["RouteKey"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert (
        local_routes
        == deployed_routes
        == {
            "POST /generate",
            "POST /verify",
            "GET /verifications/{verification_id}",
            "POST /verifications/{verification_id}/cancel",
        }
    )


def test_every_api_request_is_access_logged_without_a_body(resources, template):
    stage = resources["HttpApiStage"]["Properties"]["AccessLogSettings"]
    assert stage["DestinationArn"] == {"Fn::GetAtt": ["HttpApiLogGroup", "Arn"]}
    fields = json.loads(stage["Format"])
    for name, variable in {
        "requestId": "$context.requestId",
        "time": "$context.requestTime",
        "sourceIp": "$context.identity.sourceIp",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLatency": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    }.items():
        assert fields[name] == variable
    # /verify's body holds the code: no field may reach for a body, a header or a query value.
    assert not [v for v in fields.values() if any(part in v.lower() for part in ("body", "header", "querystring"))]
    log_group = resources["HttpApiLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == 30 and log_group["LogGroupName"] == "/aws/http-api/otp-ci"


def dashboard_metrics(resources: dict) -> tuple[dict, set[str]]:
    body = json.loads(resources["OtpDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    named = set()
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            assert isinstance(line, list), line  # CloudWatch takes every metric line as an array
            if isinstance(line[0], str) and line[0] == "OtpService":
                named.add(line[1])
            elif isinstance(line[0], dict) and "SEARCH" in line[0]["expression"]:
                named.update(re.findall(r'MetricName="(\w+)"', line[0]["expression"]))
    return body, named


def test_the_dashboard_shows_only_metrics_the_code_emits(resources):
    from otp.observability import METRICS

    body, named = dashboard_metrics(resources)
    assert named and named <= METRICS, named - METRICS
    assert {"CodeGenerated", "CodeDelivered", "CodeVerified", "DeliveryFailed", "ServiceUnavailable"} <= named
    assert {m for m in METRICS if m.startswith("RateLimitedBy")} <= named
    titles = " / ".join(w["properties"]["title"] for w in body["widgets"])
    for part in ("conversion", "Refusals", "Lambda duration", "errors and throttles", "Cold starts", "API", "country"):
        assert part.lower() in titles.lower(), part
    expressions = json.dumps(body)
    assert "100 * (FILL(vs, 0) + FILL(ve, 0)) / (FILL(gs, 0) + FILL(ge, 0))" in expressions  # verify conversion
    assert "@initDuration" in expressions and "by country" in expressions
    # The alarms name emitted metrics too.
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert {a["MetricName"] for a in alarms if a["Namespace"] == "OtpService"} <= METRICS


def test_tracing_is_off_by_default_and_one_parameter_turns_it_on(template, resources):
    assert template["Parameters"]["Tracing"]["Default"] == "false"
    for function in LAMBDA_FUNCTIONS:
        assert resources[function]["Properties"]["TracingConfig"] == {
            "Mode": {"Fn::If": ["Tracing", "Active", "PassThrough"]}
        }
    for policy in ("GeneratePolicy", "VerifyPolicy", "VerificationsPolicy", "PumpingGuardPolicy"):
        conditional = [
            s["Fn::If"] for s in resources[policy]["Properties"]["PolicyDocument"]["Statement"] if "Fn::If" in s
        ]
        [traces] = [branch for branch in conditional if branch[0] == "Tracing"]
        assert traces[1]["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        assert traces[2] == {"Ref": "AWS::NoValue"}


FUNCTIONS = ("Generate", "Verify", "Verifications")


def test_snapstart_is_off_by_default_and_the_api_calls_the_functions_directly(resources):
    for name in FUNCTIONS:
        assert "SnapStart" not in resources[f"{name}LambdaFunction"]["Properties"]
        integration = resources[f"HttpApiIntegration{name}"]["Properties"]["IntegrationUri"]
        assert integration == {"Fn::GetAtt": [f"{name}LambdaFunction", "Arn"]}
    assert not [r for r in resources.values() if r["Type"] == "AWS::Lambda::Alias"]


def test_snapstart_publishes_versions_and_routes_the_api_to_them(packaged_with_snapstart):
    template = json.loads((packaged_with_snapstart / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    for name in FUNCTIONS:
        assert resources[f"{name}LambdaFunction"]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        alias = resources[f"{name}SnapStartLambdaAlias"]["Properties"]
        [version] = [
            k
            for k, r in resources.items()
            if r["Type"] == "AWS::Lambda::Version" and k.startswith(name + "LambdaVersion")
        ]
        assert alias["FunctionVersion"] == {"Fn::GetAtt": [version, "Version"]}
        target = {"Fn::Join": [":", [{"Fn::GetAtt": [f"{name}LambdaFunction", "Arn"]}, "snapstart"]]}
        assert resources[f"HttpApiIntegration{name}"]["Properties"]["IntegrationUri"] == target
        assert resources[f"{name}LambdaPermissionHttpApi"]["Properties"]["FunctionName"] == target


def test_the_packaged_dashboard_is_the_one_generated_from_the_metric_catalog(resources):
    from deploy import dashboard

    body = resources["OtpDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert json.loads(body) == dashboard.body()
    assert resources["OtpDashboard"]["Properties"]["DashboardName"] == "otp-ci"


def test_the_pumping_guard_consumes_destination_changes_from_the_tables_stream(resources):
    function = resources["PumpingGuardLambdaFunction"]
    assert function["Properties"]["Handler"] == "handlers/stream.lambda_handler"
    assert function["Properties"]["Role"] == {"Fn::GetAtt": ["PumpingGuardRole", "Arn"]}
    assert "SnapStart" not in function["Properties"]  # off the request path: cold starts cost nobody
    mapping = resources["PumpingGuardEventSourceMappingDynamodbOtpTable"]
    properties = mapping["Properties"]
    assert properties["EventSourceArn"] == {"Fn::GetAtt": ["OtpTable", "StreamArn"]}
    assert properties["FunctionName"] == {"Fn::GetAtt": ["PumpingGuardLambdaFunction", "Arn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (properties["StartingPosition"], properties["BatchSize"]) == ("LATEST", 100)
    assert properties["MaximumBatchingWindowInSeconds"] == 1  # inside the reaction bound's 10 s
    assert properties["MaximumRetryAttempts"] == 20
    [pattern] = [json.loads(f["Pattern"]) for f in properties["FilterCriteria"]["Filters"]]
    # Only destination records carry codes: the guard's own writes, TTL removals and idempotency
    # records never invoke it (nor loop back into it).
    assert pattern == {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"id": {"S": [{"prefix": "dest#"}]}}}}
    # Lambda checks the role can read the stream when it creates the mapping: the policy comes first.
    assert "PumpingGuardPolicy" in mapping["DependsOn"]


def test_the_pumping_guard_applies_expiries_every_minute_without_traffic(resources):
    rule = resources["PumpingGuardEventsRuleSchedule1"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)" and rule["State"] == "ENABLED"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["PumpingGuardLambdaFunction", "Arn"]}
    permission = resources["PumpingGuardLambdaPermissionEventsRuleSchedule1"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["PumpingGuardEventsRuleSchedule1", "Arn"]}


def test_a_block_starting_raises_the_alarm_at_once(resources):
    from otp.observability import METRICS, NAMESPACE

    alarm = resources["PumpingPrefixBlockedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, "PumpingPrefixBlocked")
    assert alarm["MetricName"] in METRICS and "Dimensions" not in alarm  # the consumer emits it without any
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 1)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == resources["GenerateErrorsAlarm"]["Properties"]["AlarmActions"]


def test_the_mappings_filter_passes_destination_changes_only_so_the_guard_never_feeds_itself(template):
    from deploy import stream_records

    def record(name: str, key: str) -> dict:
        return {"eventName": name, "dynamodb": {"Keys": {"id": {"S": key}}, "SequenceNumber": "1"}}

    records = [
        record("INSERT", "dest#a"),
        record("MODIFY", "pumping#blocks"),  # the guard's own writes
        record("MODIFY", "pumping#d1#600#3"),
        record("REMOVE", "dest#b"),  # TTL cleanups
        record("MODIFY", "idem#c"),
        record("MODIFY", "ip#e"),
        record("MODIFY", "dest#d"),
    ]
    patterns = stream_records.filter_patterns(template, "PumpingGuardLambdaFunction")
    event = stream_records.lambda_event(records, patterns, "arn:aws:dynamodb:r:1:table/t/stream/s", "r")
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]] == ["dest#a", "dest#d"]


FAILURES_QUEUE_ARN = {"Fn::GetAtt": ["PumpingGuardFailuresQueue", "Arn"]}


def test_a_batch_failing_through_its_retries_is_recorded_in_an_encrypted_queue_kept_14_days(resources):
    queue = resources["PumpingGuardFailuresQueue"]["Properties"]
    assert queue["QueueName"] == "otp-ci-pumping-guard-failures"  # the stage's, like its table
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 1209600  # 14 days, SQS's longest
    properties = resources["PumpingGuardEventSourceMappingDynamodbOtpTable"]["Properties"]
    assert properties["DestinationConfig"] == {"OnFailure": {"Destination": FAILURES_QUEUE_ARN}}
    # Lambda sends to the destination only once the retries run out: they must be finite
    # (-1, the default, retries until the records expire from the stream after 24 hours).
    assert properties["MaximumRetryAttempts"] == 20
    assert properties.get("MaximumRecordAgeInSeconds", -1) == -1  # no age limit: the retries bound it
    assert "BisectBatchOnFunctionError" not in properties  # ReportBatchItemFailures retries from the failed record


def test_a_failed_batch_raises_the_alarm_and_the_outputs_name_its_queue(resources, template):
    alarm = resources["PumpingGuardFailedBatchesAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["PumpingGuardFailuresQueue", "QueueName"]}}
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (alarm["Statistic"], alarm["EvaluationPeriods"]) == ("Maximum", 1)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == resources["GenerateErrorsAlarm"]["Properties"]["AlarmActions"]
    assert template["Outputs"]["PumpingGuardFailuresQueueUrl"]["Value"] == {"Ref": "PumpingGuardFailuresQueue"}
