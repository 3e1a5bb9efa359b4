"""The deployment description's own shape: its size, its included files and the generated dashboard.

Fast, no node: these read the files, not a packaged template.
"""

from __future__ import annotations

import json
import re

import pytest

from deploy import dashboard
from local import stack

MAX_SERVERLESS_YML_LINES = 700


def test_serverless_yml_stays_under_700_lines():
    lines = stack.SERVERLESS_YML.read_text().count("\n")
    assert lines < MAX_SERVERLESS_YML_LINES, f"serverless.yml has {lines} lines: move resources to deploy/resources/"


def test_every_included_file_exists_and_is_read_by_the_local_runner():
    text = stack.SERVERLESS_YML.read_text()
    included = re.findall(r"\$\{file\(([^)]+)\)", text)
    assert "deploy/resources/dashboard.yml" in included and len(included) >= 5
    for path in included:
        assert (stack.ROOT / path).is_file(), path
    config = stack.load()
    assert isinstance(config["resources"], dict)  # the list of blocks, merged as the framework merges it
    resources = config["resources"]["Resources"]
    for name in ("OtpTable", "OtpKey", "GenerateRole", "GeneratePolicy", "OtpDashboard", "SmsDeliveryFailuresAlarm"):
        assert name in resources, name
    assert {"Parameters", "Conditions", "Outputs", "extensions"} <= set(config["resources"])
    assert stack.table_shape(config).ttl_attribute == "expiry"


def test_a_copy_of_serverless_yml_elsewhere_still_reads_the_included_files(tmp_path):
    copy = tmp_path / "serverless.yml"
    copy.write_text(stack.SERVERLESS_YML.read_text())
    assert stack.table_shape(stack.load(copy)) == stack.table_shape(stack.load())


def test_the_committed_dashboard_is_what_the_generator_makes_from_the_catalog():
    assert dashboard.OUTPUT.read_text() == dashboard.render(), "run: python -m deploy.dashboard"
    assert dashboard.main(["--check"]) == 0


def test_the_dashboard_resource_carries_the_generated_body():
    resource = stack.load()["resources"]["Resources"]["OtpDashboard"]
    assert resource["Type"] == "AWS::CloudWatch::Dashboard"
    assert json.loads(resource["Properties"]["DashboardBody"]["!Sub"]) == dashboard.body()


def test_a_new_metric_cannot_be_left_off_the_dashboard_unnoticed():
    from otp.observability import METRICS

    with pytest.raises(ValueError, match="CodeResentSomehow"):
        dashboard.body(METRICS | {"CodeResentSomehow"})


def test_a_new_send_limit_appears_among_the_refusals():
    from otp.observability import METRICS

    widgets = dashboard.body(METRICS | {"RateLimitedByDevice"})["widgets"]
    [refusals] = [w for w in widgets if w["properties"]["title"] == "Refusals by reason"]
    expressions = [line[0]["expression"] for line in refusals["properties"]["metrics"]]
    assert any('MetricName="RateLimitedByDevice"' in expression for expression in expressions)


def test_the_dashboard_names_no_metric_the_code_does_not_emit():
    from otp.observability import METRICS

    with pytest.raises(ValueError, match="never emitted"):
        dashboard.body(METRICS - {"CodeVerified"})
    text = json.dumps(dashboard.body())
    named = set(re.findall(r'MetricName=\\"(\w+)\\"', text)) | set(re.findall(r'"OtpService", "(\w+)"', text))
    assert named and named <= METRICS
    assert named | set(dashboard.NOT_ON_THE_DASHBOARD) == METRICS


def test_the_pumping_guards_metrics_are_in_the_catalog_and_on_the_dashboard():
    from otp.observability import METRICS
    from otp.use_cases.pumping import PUMPING_METRICS

    assert {m for m in METRICS if m.startswith("Pumping")} == PUMPING_METRICS
    text = json.dumps(dashboard.body())
    assert all(f'MetricName=\\"{name}\\"' in text for name in PUMPING_METRICS)


def test_the_dashboard_sums_the_guards_prefix_counts_from_its_own_log_group():
    widgets = {w["properties"]["title"]: w for w in dashboard.body()["widgets"] if w["type"] == "log"}
    [by_prefix] = [w for title, w in widgets.items() if "by prefix" in title]
    [by_country] = [w for title, w in widgets.items() if "Pumping guard" in title and "by country" in title]
    for widget, grouped in ((by_prefix, "by prefix, country"), (by_country, "by country")):
        query = widget["properties"]["query"]
        assert query.startswith("SOURCE '${PumpingGuardLogGroup}' | filter message = \"prefix counted\"")
        assert "sum(delivered) as delivered, sum(verified) as verified" in query and grouped in query
