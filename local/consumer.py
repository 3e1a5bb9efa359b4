"""The runner's pumping guard consumer, and the emulator it runs against, provisioned as the stack is."""

from __future__ import annotations

import os
from typing import Any

from local import stack
from local.terminal import say
from local.workers import WorkerPool


def provisioned_emulator(config: dict[str, Any], region: str, settings: Any) -> tuple[Any, stack.TableShape, str]:
    """The emulator with the stack's table and keys, and this process's AWS clients pointed at it."""
    from local.emulator import Emulator, EmulatorCredentials, isolate_from_real_aws

    # A secret of this run: no web page and no other local process can sign calls to the emulator.
    emulator = Emulator(region, EmulatorCredentials.fresh())
    emulator.start()
    isolate_from_real_aws(emulator.url, region)
    shape = stack.table_shape(config)
    key_arn, digest_key_arn = emulator.provision(shape, settings.table_name, settings.email_sender or "")
    os.environ["OTP_KMS_KEY_ID"] = key_arn
    os.environ["OTP_DIGEST_KEY_ID"] = digest_key_arn
    os.environ["OTP_TABLE_NAME"] = settings.table_name
    return emulator, shape, digest_key_arn


class ConsumerRun:
    """The table stream's consumer as a deployment runs it: its own worker, fed by a poller thread.

    Without a stream or a consumer in serverless.yml every step does nothing.
    """

    def __init__(self, pool: WorkerPool | None = None, poller: Any = None) -> None:
        self.pool, self.poller = pool, poller

    def boot(self) -> None:
        if self.pool:
            self.pool.boot()

    def start(self) -> None:
        if self.poller:
            # Its worker imports after the API's workers, so the API answers as soon as it did
            # before; records written meanwhile wait in the stream, as for a cold consumer.
            self.poller.start()

    def stop(self) -> None:
        if self.poller:
            self.poller.stop()
        if self.pool:
            self.pool.stop()

    def banner(self, url: str) -> None:
        if self.poller:
            consumer = self.poller.consumer
            say(
                f"  Pumping guard: the table's stream feeds {consumer.function} as in a deployment; "
                f"its blocks: {url}/_local/blocks (lift one: DELETE {url}/_local/blocks/<prefix>)\n"
            )
            if consumer.unapplied:
                say(f"  Warning: the local runner does not apply {', '.join(consumer.unapplied)} of its stream.\n")


def stream_consumer(
    config: dict[str, Any], shape: stack.TableShape, emulator: Any, schedule: float | None
) -> ConsumerRun:
    consumers = stack.stream_consumers(config)
    if not shape.stream_view_type or not consumers or not emulator.stream_arn:
        return ConsumerRun()
    from local.streams import StreamPoller

    (consumer,) = consumers  # one table, one consumer: the pumping guard
    pool = WorkerPool([consumer], size=1, environment=emulator.credentials.environment())
    poller = StreamPoller(
        consumer,
        lambda: emulator.client("dynamodbstreams"),
        emulator.stream_arn,
        emulator.region,
        pool.invoke,
        prepare=pool.start,
        forget_iterators=emulator.forget_shard_iterators,
        schedule_seconds=schedule,
    )
    return ConsumerRun(pool, poller)
