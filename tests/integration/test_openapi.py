"""openapi.json is generated from the handlers' routes and models, and is a valid OpenAPI 3.1 document."""

import json
from pathlib import Path

from openapi_spec_validator import validate

from local import openapi

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_document_is_what_the_models_produce(aws, make_api):
    make_api()  # the handlers, as a cold start imports them
    committed = (ROOT / "openapi.json").read_text()
    assert committed == openapi.render(), (
        "openapi.json is stale: run `.venv/bin/python -m local.openapi > openapi.json`"
    )


def test_the_document_is_valid_openapi_3_1():
    document = json.loads((ROOT / "openapi.json").read_text())
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_contract_status_is_described():
    document = json.loads((ROOT / "openapi.json").read_text())
    generate = document["paths"]["/generate"]["post"]["responses"]
    verify = document["paths"]["/verify"]["post"]["responses"]
    assert set(generate) == {"201", "400", "403", "409", "413", "415", "429", "500", "502", "503"}
    assert set(verify) == {"200", "400", "403", "404", "410", "413", "415", "429", "500", "503"}
    for responses in (generate, verify):
        for status in ("429", "503"):
            if status == "429" and responses is verify:
                continue
            assert "Retry-After" in responses[status]["headers"]
    schemas = document["components"]["schemas"]
    assert schemas["GenerateRequest"]["additionalProperties"] is False
    assert "verified" in schemas["VerifyErrorResponse"]["required"]
    header = document["paths"]["/generate"]["post"]["parameters"][0]
    assert header["name"] == "idempotency-key"
    assert header["in"] == "header"
