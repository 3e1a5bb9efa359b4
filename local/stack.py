"""What the local runner needs from serverless.yml: routes, handlers, the table's shape and its stream consumer.

serverless.yml and the files it includes (``${file(deploy/resources/...)}``) are the one
description of the deployment; reading them here keeps the local API and the local table the same
as the deployed ones.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !GetAtt, ...) as plain values instead of failing."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {f"!{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as API Gateway writes it: /verifications/{verification_id}
    function: str
    module: str
    attribute: str

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` is this route's, as API Gateway decodes them; else None."""
        pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        if found is None:
            return None
        return {name: urllib.parse.unquote(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class TableShape:
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    ttl_attribute: str | None
    stream_view_type: str | None = None  # the table's StreamSpecification, when it has one


@dataclass(frozen=True)
class StreamConsumer:
    """A function with a DynamoDB ``stream`` event on the table, and its schedule if it has one."""

    function: str
    module: str
    attribute: str
    batch_size: int
    batching_window_seconds: float
    filter_patterns: list[dict[str, Any]]
    maximum_retry_attempts: int | None  # None: retried until it succeeds, as Lambda's -1
    reports_item_failures: bool
    schedule_seconds: int | None
    unapplied: tuple[str, ...] = ()  # options of the stream event that the local runner does not apply
    # destinations.onFailure (a resource's logical id, or an ARN): the runner has no queue, and logs
    # the record that Lambda would send there when a batch runs out of retries.
    on_failure_destination: str | None = None


# A whole value that is a file reference, as the framework writes it: ${file(path)} or ${file(path):key}.
_FILE_REFERENCE = re.compile(r"\$\{file\(([^)]+)\)(?::([\w.]+))?\}")


def _read(path: Path) -> Any:
    with path.open() as stream:
        if path.suffix == ".json":
            return json.load(stream)
        return yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 (a SafeLoader subclass)


def _include(node: Any, service_dir: Path) -> Any:
    """Replaces each ${file(...)} value with that file's content, as the framework does."""
    if isinstance(node, dict):
        return {key: _include(value, service_dir) for key, value in node.items()}
    if isinstance(node, list):
        return [_include(value, service_dir) for value in node]
    if isinstance(node, str):
        reference = _FILE_REFERENCE.fullmatch(node.strip())
        if reference:
            content = _include(_read(service_dir / reference.group(1)), service_dir)
            address = reference.group(2)
            for key in address.split(".") if address else ():
                content = content[key]
            return content
    return node


def _merged(parts: list[Any]) -> dict[str, Any]:
    """A list of resource blocks merged into one, key by key, as the framework merges them."""
    merged: dict[str, Any] = {}
    for part in parts:
        _merge_into(merged, part or {})
    return merged


def _merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = value


def load(path: Path = SERVERLESS_YML, service_dir: Path = ROOT) -> dict[str, Any]:
    """The configuration with its included files in place.

    Included paths are relative to the service directory, the project root, also for a copy of
    serverless.yml kept elsewhere (the benchmarks add a route to one in a temporary folder).
    """
    config = _include(_read(path), service_dir)
    if isinstance(config.get("resources"), list):
        config["resources"] = _merged(config["resources"])
    return config


def routes(config: dict[str, Any]) -> list[Route]:
    found = []
    for name, function in config["functions"].items():
        module_path, _, attribute = function["handler"].rpartition(".")
        for event in function.get("events", []):
            http = event.get("httpApi")
            if http:
                found.append(
                    Route(http["method"].upper(), http["path"], name, module_path.replace("/", "."), attribute)
                )
    return found


def table_shape(config: dict[str, Any]) -> TableShape:
    tables = [
        resource["Properties"]
        for resource in config["resources"]["Resources"].values()
        if resource.get("Type") == "AWS::DynamoDB::Table"
    ]
    if len(tables) != 1:
        raise ValueError(f"serverless.yml should define exactly one DynamoDB table, found {len(tables)}")
    table = tables[0]
    ttl = table.get("TimeToLiveSpecification") or {}
    stream = table.get("StreamSpecification") or {}
    return TableShape(
        key_schema=table["KeySchema"],
        attribute_definitions=table["AttributeDefinitions"],
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
        stream_view_type=stream.get("StreamViewType"),
    )


# EventBridge's rate expressions; a cron schedule has no fixed period and is not run locally.
_RATE = re.compile(r"rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _schedule_seconds(event: Any) -> int | None:
    rate = event.get("rate") if isinstance(event, dict) else event
    for expression in rate if isinstance(rate, list) else [rate]:
        found = _RATE.fullmatch(str(expression).strip())
        if found:
            return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]
    return None


# The framework's stream options (for type dynamodb) that local.streams applies as Lambda does;
# startingPosition among them, since the runner's stream is as young as a new stack's (local.streams).
_APPLIED_STREAM_OPTIONS = frozenset(
    {
        "type",
        "arn",
        "enabled",
        "batchSize",
        "batchWindow",
        "startingPosition",
        "maximumRetryAttempts",
        "functionResponseType",
        "filterPatterns",
        "destinations",
    }
)


def _on_failure_destination(stream: dict[str, Any]) -> str | None:
    target = (stream.get("destinations") or {}).get("onFailure")
    arn = target.get("arn") if isinstance(target, dict) else target
    if isinstance(arn, dict) and "!GetAtt" in arn:  # !GetAtt Queue.Arn, as local.stack reads the tag
        return str(arn["!GetAtt"]).split(".")[0]
    return None if arn is None else str(arn)


def stream_consumers(config: dict[str, Any]) -> list[StreamConsumer]:
    """Functions fed by a DynamoDB stream, with the settings Lambda's event source mapping applies."""
    found = []
    for name, function in config["functions"].items():
        streams = [e["stream"] for e in function.get("events", []) if isinstance(e.get("stream"), dict)]
        dynamodb = [s for s in streams if s.get("type", "dynamodb") == "dynamodb" and s.get("enabled", True)]
        if not dynamodb:
            continue
        (stream,) = dynamodb  # the service has one table, so one stream per function
        schedules = [_schedule_seconds(e["schedule"]) for e in function.get("events", []) if "schedule" in e]
        module_path, _, attribute = function["handler"].rpartition(".")
        retries = stream.get("maximumRetryAttempts", -1)
        found.append(
            StreamConsumer(
                function=name,
                module=module_path.replace("/", "."),
                attribute=attribute,
                batch_size=int(stream.get("batchSize", 100)),
                batching_window_seconds=float(stream.get("batchWindow", 0)),
                filter_patterns=list(stream.get("filterPatterns") or []),
                maximum_retry_attempts=None if int(retries) < 0 else int(retries),
                reports_item_failures=stream.get("functionResponseType") == "ReportBatchItemFailures",
                schedule_seconds=next((s for s in schedules if s), None),
                unapplied=tuple(sorted(set(stream) - _APPLIED_STREAM_OPTIONS)),
                on_failure_destination=_on_failure_destination(stream),
            )
        )
    return found


def default_region(config: dict[str, Any]) -> str:
    return str(config.get("provider", {}).get("region", "ap-south-1"))
