"""Resolves the packaged template's intrinsics with the values a deployed stack gave them.

Enough of CloudFormation for policy documents: Ref, Fn::GetAtt (Arn, and the other attributes the
stack values give, such as a table's StreamArn), Fn::If with the template's
Conditions, Fn::Sub, Fn::Select, Fn::Split, Fn::Join and AWS::NoValue (which drops the element).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_NO_VALUE = object()


@dataclass
class StackValues:
    region: str
    account: str
    parameters: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> what Ref gives
    arns: dict[str, str]  # logical id -> what Fn::GetAtt [id, Arn] gives
    attributes: dict[str, str] = field(default_factory=dict)  # "Id.Attribute" -> any other Fn::GetAtt

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]


class Resolver:
    def __init__(self, template: dict[str, Any], values: StackValues) -> None:
        self.template = template
        self.values = values
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self._evaluate(self.template["Conditions"][name]))
        return self._conditions[name]

    def _evaluate(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Fn::Equals":
                left, right = (self.resolve(part) for part in argument)
                return left == right
            if function == "Fn::Not":
                return not self._evaluate(argument[0])
            if function == "Fn::And":
                return all(self._evaluate(part) for part in argument)
            if function == "Fn::Or":
                return any(self._evaluate(part) for part in argument)
            if function == "Condition":
                return self.condition(argument)
        return self.resolve(node)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name.startswith("AWS::"):
            return self.values.pseudo(name)
        if name in self.values.parameters:
            return self.values.parameters[name]
        return self.values.physical_ids[name]

    def resolve(self, node: Any) -> Any:
        """The value CloudFormation would give ``node``; AWS::NoValue elements are dropped."""
        if isinstance(node, list):
            resolved = [self.resolve(item) for item in node]
            return [item for item in resolved if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                if attribute == "Arn":
                    return self.values.arns[name]
                if f"{name}.{attribute}" not in self.values.attributes:
                    raise ValueError(f"Fn::GetAtt {name}.{attribute}: the stack values do not give it")
                return self.values.attributes[f"{name}.{attribute}"]
            if function == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if function.startswith("Fn::"):
                return self._function(function, argument)
        members = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in members.items() if value is not _NO_VALUE}

    def _function(self, function: str, argument: Any) -> Any:
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            bound = {name: self.resolve(value) for name, value in variables.items()}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._substitute(m.group(1), bound)), text)
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        raise ValueError(f"{function} is not resolved here")

    def _substitute(self, name: str, bound: dict[str, Any]) -> Any:
        if name in bound:
            return bound[name]
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.resolve({"Fn::GetAtt": [logical, attribute]})
        return self.ref(name)
