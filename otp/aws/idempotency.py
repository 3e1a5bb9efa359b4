"""Idempotency-Key records: Powertools idempotency, persisted in the service's own table.

Records live beside the codes under the key prefix ``idem#`` and expire (TTL attribute ``expiry``)
after 10 minutes. Only successful results are recorded; a refused or failed request can be retried
with the same key. What a record keeps of the request is the caller's keyed fingerprint of it, so
a table reader learns nothing it could test a number against.

The Powertools utility costs about 100 ms to import, so it loads on the first request that
carries a key, never at a cold start.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from otp.domain.errors import IdempotencyConflict, RequestInProgress, ServiceUnavailable

KEY_PREFIX = "idem"
REPLAY_WINDOW_SECONDS = 600
Result = TypeVar("Result")


def _mark_replayed(response: Any, idempotent_data: Any) -> Any:
    return dataclasses.replace(response, replayed=True)


class PowertoolsIdempotency:
    """Runs an action once per (key, fingerprint); ``result_type`` is the dataclass its result is stored as."""

    def __init__(self, table_name: str, dynamodb_client: Callable[[], Any], result_type: type) -> None:
        self._table = table_name
        self._client = dynamodb_client
        self._result_type = result_type
        self._wrapped: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _build(self) -> tuple[Any, Any]:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import DataclassSerializer

        persistence = DynamoDBPersistenceLayer(
            table_name=self._table, key_attr="id", expiry_attr="expiry", boto3_client=self._client()
        )
        config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="fingerprint",
            expires_after_seconds=REPLAY_WINDOW_SECONDS,
            raise_on_no_idempotency_key=True,
            response_hook=_mark_replayed,
        )

        @idempotent_function(
            data_keyword_argument="attempt",
            persistence_store=persistence,
            config=config,
            output_serializer=DataclassSerializer(self._result_type),
            key_prefix=KEY_PREFIX,
        )
        def run(*, attempt: dict[str, str], action: Callable[[], Any]) -> Any:
            return action()

        return run, config

    def once(self, key: str, fingerprint: str, action: Callable[[], Result], lambda_context: Any) -> Result:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        with self._lock:
            if self._wrapped is None:
                self._wrapped = self._build()
        run, config = self._wrapped
        # Lets an in-progress record expire with this invocation if it dies mid-way.
        config.register_lambda_context(lambda_context)
        try:
            result: Result = run(attempt={"key": key, "fingerprint": fingerprint}, action=action)
        except IdempotencyValidationError:
            raise IdempotencyConflict() from None
        except IdempotencyAlreadyInProgressError:
            raise RequestInProgress() from None
        except IdempotencyPersistenceLayerError:
            raise ServiceUnavailable() from None
        return result
