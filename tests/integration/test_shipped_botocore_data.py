"""The botocore data the functions read: only what otp/aws/models ships, and the same answers as botocore's own.

otp/aws/clients.py gives every session a loader that searches the shipped folder alone (see its
docstring for why). These tests hold the three things that makes safe: the folder is what the pinned
botocore has, every service the code makes a client for is in it, and the cut endpoint table
resolves those services exactly as the whole one does.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import botocore.exceptions
import botocore.loaders
import botocore.regions
import botocore.session
import pytest

from local.artifact import service_model_files
from otp.aws.clients import SERVICE_MODELS, SHIPPED_SERVICES, new_session

OTP = Path(__file__).resolve().parents[2] / "otp"
CLIENT_FACTORIES = {"client", "_client"}  # otp.aws.clients.client and the factories' alias of it


def test_the_shipped_folder_is_exactly_what_the_pinned_botocore_has():
    expected = service_model_files()
    on_disk = {
        path.relative_to(SERVICE_MODELS).as_posix(): path.read_bytes()
        for path in SERVICE_MODELS.rglob("*")
        if path.is_file()
    }
    assert sorted(on_disk) == sorted(expected)  # `python -m local.artifact models` rewrites it
    for relative, content in expected.items():
        assert on_disk[relative] == content, relative


def test_a_session_searches_the_shipped_folder_alone(monkeypatch):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    loader = new_session().get_component("data_loader")
    assert loader.search_paths == [str(SERVICE_MODELS)]
    assert sorted(loader.list_available_services("service-2")) == sorted(SHIPPED_SERVICES)


def test_aws_data_path_is_still_searched_after_the_shipped_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    assert new_session().get_component("data_loader").search_paths == [str(SERVICE_MODELS), str(tmp_path)]


def test_a_client_for_a_service_that_is_not_shipped_fails_loudly(monkeypatch):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        new_session().create_client("s3", region_name="us-east-1")


def _named_service(call: ast.Call) -> str | None:
    """``x`` of ``client("x")``, ``_client("x")`` or ``functools.partial(client, "x")``."""
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
    arguments = call.args
    if name == "partial" and arguments and isinstance(arguments[0], ast.Name):
        name, arguments = arguments[0].id, arguments[1:]
    if name in CLIENT_FACTORIES and arguments and isinstance(arguments[0], ast.Constant):
        return str(arguments[0].value)
    return None


def _services_the_code_makes_clients_for() -> set[str]:
    named = set()
    for source in OTP.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call) and (service := _named_service(node)) is not None:
                named.add(service)
    return named


def test_every_service_the_code_makes_a_client_for_is_shipped():
    named = _services_the_code_makes_clients_for()
    # The scan must see the calls it guards: the functions' stores, keys and every channel's provider.
    assert {"dynamodb", "kms", "sns", "sesv2", "pinpoint-sms-voice-v2", "socialmessaging"} <= named
    assert named <= set(SHIPPED_SERVICES)


def _resolver(loader: botocore.loaders.Loader) -> botocore.regions.EndpointResolver:
    return botocore.regions.EndpointResolver(loader.load_data("endpoints"))


def test_the_cut_endpoint_table_resolves_every_shipped_service_as_the_whole_one(monkeypatch):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    whole_loader = botocore.loaders.create_loader()
    shipped, whole = _resolver(new_session().get_component("data_loader")), _resolver(whole_loader)
    models = [whole_loader.load_service_model(service, "service-2") for service in SHIPPED_SERVICES]
    prefixes = {model["metadata"]["endpointPrefix"] for model in models}
    regions = sorted(
        {region for partition in whole_loader.load_data("endpoints")["partitions"] for region in partition["regions"]}
    )
    assert len(regions) > 30  # every partition's regions, not one
    for prefix, region, fips, dualstack in itertools.product(sorted(prefixes), regions, (False, True), (False, True)):
        options = {"use_fips_endpoint": fips, "use_dualstack_endpoint": dualstack}
        assert _resolved(shipped, prefix, region, options) == _resolved(whole, prefix, region, options), (
            prefix,
            region,
            options,
        )


def _resolved(resolver: botocore.regions.EndpointResolver, prefix: str, region: str, options: dict) -> object:
    """The endpoint, or the refusal: a variant that does not exist must not exist in both tables."""
    try:
        return resolver.construct_endpoint(prefix, region, **options)
    except botocore.exceptions.BotoCoreError as refused:
        return type(refused).__name__, str(refused)


@pytest.mark.parametrize("service", SHIPPED_SERVICES)
def test_a_client_from_the_shipped_data_is_the_client_botocore_would_make(service, monkeypatch):
    for name in ("AWS_DATA_PATH", "AWS_ENDPOINT_URL", f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"):
        monkeypatch.delenv(name, raising=False)
    ours, botocores = new_session(), botocore.session.get_session()
    for region in ("us-east-1", "ap-south-1", "eu-west-2", "cn-north-1", "us-gov-west-1"):
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        shipped = ours.create_client(service, region_name=region, **credentials)
        builtin = botocores.create_client(service, region_name=region, **credentials)
        assert shipped.meta.endpoint_url == builtin.meta.endpoint_url, region
        assert shipped.meta.region_name == builtin.meta.region_name
        assert shipped.meta.service_model.signing_name == builtin.meta.service_model.signing_name
        assert shipped.meta.service_model.operation_names == builtin.meta.service_model.operation_names
        assert shipped.meta.config.retries == builtin.meta.config.retries
