"""Reading the IAM policies of the packaged template, for the template tests."""

from __future__ import annotations


def statements(resources: dict, policy: str) -> list[dict]:
    found = []
    for statement in resources[policy]["Properties"]["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement:  # a statement present only under a condition
            found.append(statement["Fn::If"][1])
        else:
            found.append(statement)
    return found


def actions(resources: dict, policy: str) -> set[str]:
    """What the role may always do; the X-Ray actions that tracing adds are checked on their own."""
    result = set()
    for statement in statements(resources, policy):
        if statement.get("Sid") == "WriteTraces":
            continue
        result.update(listed_actions(statement))
    return result


def every_statement(resources: dict) -> list[tuple[str, dict]]:
    """Each IAM statement anywhere in the template (roles, policies, the framework's bucket policy),
    with the logical id of the resource it sits in."""
    found: list[tuple[str, dict]] = []

    def walk(node: object, resource: str) -> None:
        if isinstance(node, dict):
            if "Action" in node and "Effect" in node:
                found.append((resource, node))
            for value in node.values():
                walk(value, resource)
        elif isinstance(node, list):
            for item in node:
                walk(item, resource)

    for name, resource in resources.items():
        walk(resource, name)
    return found


def listed_actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
