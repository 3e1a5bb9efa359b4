"""Idempotency-Key for /generate: Powertools idempotency, persisted in the service's own table.

Records live beside the codes under the key prefix ``idem#`` and expire (TTL attribute ``expiry``)
after 10 minutes. Only successful issues are recorded; a refused or failed request can be retried
with the same key.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import DataclassSerializer

from otp.aws.clients import client
from otp.errors import IdempotencyConflict, RequestInProgress, ServiceUnavailable
from otp.use_cases import Dependencies
from otp.use_cases.issue_code import IssuedCode, IssueRequest, issue_code

KEY_PREFIX = "idem"
REPLAY_WINDOW_SECONDS = 600


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return dataclasses.replace(response, replayed=True)


@functools.cache
def _generate_once(table_name: str) -> Any:
    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="id", expiry_attr="expiry", boto3_client=client("dynamodb")
    )
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        expires_after_seconds=REPLAY_WINDOW_SECONDS,
        raise_on_no_idempotency_key=True,
        response_hook=_mark_replayed,
    )

    @idempotent_function(
        data_keyword_argument="attempt",
        persistence_store=persistence,
        config=config,
        output_serializer=DataclassSerializer(IssuedCode),
        key_prefix=KEY_PREFIX,
    )
    def generate(*, deps: Dependencies, attempt: dict[str, Any], issue: IssueRequest) -> IssuedCode:
        return issue_code(deps, issue)

    return generate, config


def generate_idempotently(
    deps: Dependencies, key: str, body: dict[str, Any], issue: IssueRequest, lambda_context: Any
) -> IssuedCode:
    """Issue a code once per (key, body); a retry within 10 minutes gets the first answer again."""
    generate, config = _generate_once(deps.settings.table_name)
    # Lets an in-progress record expire with this invocation if it dies mid-way.
    config.register_lambda_context(lambda_context)
    try:
        return generate(deps=deps, attempt={"key": key, "request": body}, issue=issue)
    except IdempotencyValidationError:
        raise IdempotencyConflict() from None
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress() from None
    except IdempotencyPersistenceLayerError:
        raise ServiceUnavailable() from None
