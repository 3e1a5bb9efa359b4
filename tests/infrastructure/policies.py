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
        listed = statement["Action"]
        result.update([listed] if isinstance(listed, str) else listed)
    return result
