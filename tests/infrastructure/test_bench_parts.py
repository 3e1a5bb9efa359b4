"""The parts of `make bench` that its figures rest on: the report keeps what it does not write, and the
warm-request floor makes exactly the service's calls or stops."""

import re
import uuid

import pytest

from bench.replay import AwsCall, BareClients, ReplayMismatch
from bench.report import Section, merge, write
from local.emulator import Emulator

HEADER = "# Benchmarks\n\nMeasured today.\n"
SOAK = "## Soak\n\nFrom `make soak`.\n\n```text\n## not a heading: inside a fence\n```\n"
PUMPING = "## Pumping\n\n| step | blocked |\n|---|---|\n| 1 | 0 |\n"


def sections(cold: str = "new cold", warm: str = "new warm") -> list[Section]:
    return [Section("cold", "Cold start", cold), Section("warm", "Warm requests", warm)]


def test_a_report_write_keeps_foreign_sections_as_found_and_where_they_stood(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    old = "# Benchmarks\n\nMeasured long ago.\n\n## Cold start\n\nold cold\n\n"
    path.write_text(f"{old}{SOAK}\n## Warm requests\n\nold\n\n{PUMPING}")
    write(path, HEADER, sections())
    report = path.read_text()
    assert report == f"{HEADER}\n## Cold start\n\nnew cold\n\n{SOAK}\n## Warm requests\n\nnew warm\n\n{PUMPING}"


def test_a_second_write_changes_only_the_produced_sections(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"{SOAK}\n{PUMPING}")  # foreign sections only, before anything was produced
    write(path, HEADER, sections())
    first = path.read_text()
    write(path, HEADER, sections(warm="warmer"))
    assert path.read_text() == first.replace("new warm", "warmer")
    assert first.startswith(f"{HEADER}\n{SOAK}\n{PUMPING}\n## Cold start")


def test_a_new_file_holds_the_header_and_the_sections():
    assert merge("", HEADER, sections()) == f"{HEADER}\n## Cold start\n\nnew cold\n\n## Warm requests\n\nnew warm\n"


@pytest.fixture
def emulator(monkeypatch):
    running = Emulator("ap-south-1")
    running.start()
    for name, value in {
        "AWS_ENDPOINT_URL": running.url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield running
    running.stop()


@pytest.fixture
def bare(emulator):
    """Clients of a bare-botocore floor whose twin table is new: moto's state outlives one emulator."""
    clients = BareClients("main", f"twin-{uuid.uuid4().hex[:12]}")
    key = [{"AttributeName": "pk", "KeyType": "HASH"}]
    clients.create_twin_table(key, [{"AttributeName": "pk", "AttributeType": "S"}])
    return clients


def put_new(table: str, key: str) -> AwsCall:
    params = {
        "TableName": table,
        "Item": {"pk": {"S": key}},
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    return AwsCall("dynamodb", "PutItem", params)


def test_the_floor_replays_on_the_twin_table_and_ends_as_the_service_did(bare):
    first, again = put_new("main", "a"), put_new("main", "a")
    again.error = "ConditionalCheckFailedException"  # the service's second write met the first one's item
    assert bare.replay(bare.prepare([first, again])) > 0
    [prepared] = bare.prepare([first])
    stored = bare.client("dynamodb").get_item(TableName=prepared.params["TableName"], Key={"pk": {"S": "a"}})
    assert stored["Item"] == {"pk": {"S": "a"}}
    assert first.params["TableName"] == "main"  # the recorded call itself is left as it was


def test_a_replay_that_ends_differently_stops_the_benchmark(bare):
    refused = put_new("main", "b")
    refused.error = "ConditionalCheckFailedException"  # but the twin has no item b: the replay succeeds
    with pytest.raises(ReplayMismatch, match="ConditionalCheckFailedException"):
        bare.replay(bare.prepare([refused]))


def test_transactions_name_the_twin_table_in_every_item(bare):
    call = AwsCall(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "main", "Item": {"pk": {"S": "c"}}}},
                {"Put": {"TableName": "other", "Item": {}}},
            ]
        },
    )
    [prepared] = bare.prepare([call])
    [twin] = bare.prepare([put_new("main", "d")])
    names = [item["Put"]["TableName"] for item in prepared.params["TransactItems"]]
    assert names == [twin.params["TableName"], "other"]
    assert twin.params["TableName"] != "main"


def test_cold_start_children_write_and_reuse_bytecode_whatever_the_shell_says(monkeypatch):
    # A cold start in Lambda reads compiled bytecode; a child that compiles every module measures the compiler.
    from bench.context import Bench

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("OTP_BRAND_NAME", "from the shell")
    bench = Bench(quick=True, emulator=None, provisioned={"OTP_TABLE_NAME": "t"})  # type: ignore[arg-type]
    env = bench.child_env(bench.settings({"OTP_MAX_ATTEMPTS": "3"}))
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert "OTP_BRAND_NAME" not in env  # only the bench's own settings reach the child
    assert env["OTP_TABLE_NAME"] == "t"
    assert env["OTP_MAX_ATTEMPTS"] == "3"


SOAK_LINE = re.compile(  # issue #24 spells it: soak: N requests in S s, 0 5xx, 0 violations, rss +X MiB, fds +Y
    r"soak: (\d+) requests in (\d+) s, (\d+) 5xx, (\d+) violations, rss ([+-]\d+\.\d) MiB, fds ([+-]\d+)"
)


def test_the_soak_section_ends_with_the_machine_readable_line():
    from bench.history import Operation
    from bench.soak import Usage, section

    history = [
        Operation("generate", "+15550100", "login", invoked=0.0, completed=0.01, status=201),
        Operation("verify", "+15550100", "login", invoked=1.0, completed=1.02, status=503),
    ]
    before, after = Usage(100 * 2**20, 50, 60 * 2**20), Usage(112 * 2**20 + 2**19, 49, 70 * 2**20)
    last = section(history, 600.4, 20, before, after, ["a read saw a spent code as pending"], [after]).splitlines()[-1]
    found = SOAK_LINE.fullmatch(last)
    assert found, last
    assert found.groups() == ("2", "600", "1", "1", "+12.5", "-1")
