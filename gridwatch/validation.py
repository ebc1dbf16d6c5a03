"""One strict pydantic base and one wording for validation errors, for every config,
file and message that people write or read."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Unknown fields are errors (a typo must not pass silently); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validation_problems(
    exc: ValidationError,
    *,
    prefix: str = "",
    top: str = "(top level)",
    limit: int | None = None,
) -> list[str]:
    """`field.path: message` for each problem (the first `limit` of them, then a
    line saying how many more), the path under `prefix` when given."""
    errors = exc.errors()
    shown = errors if limit is None else errors[:limit]
    problems = []
    for item in shown:
        parts = [prefix] if prefix else []
        parts += [str(p) for p in item["loc"]]
        problems.append(f"{'.'.join(parts) or top}: {_message(item)}")
    if len(shown) < len(errors):
        problems.append(f"... and {len(errors) - len(shown)} more")
    return problems


def describe_validation_error(
    exc: ValidationError, *, limit: int = 10, top: str = "(top level)"
) -> str:
    """`field.path: message; ...` for the first `limit` problems, on one line."""
    return "; ".join(validation_problems(exc, top=top, limit=limit))


def _message(item: Any) -> str:
    # An unknown tag of a discriminated union (a rule type no plug-in handles)
    # would read "Input tag 'x' found using 'type' does not match any of ...".
    if item["type"] == "union_tag_invalid":
        context = item.get("ctx", {})
        known = re.findall(r"'([^']+)'", str(context.get("expected_tags", "")))
        return f"unknown rule type {context.get('tag')!r} (known: {', '.join(known)})"
    message: str = item["msg"]
    return message
