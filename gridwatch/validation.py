"""One wording for pydantic validation errors in every message users read."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(
    exc: ValidationError, *, limit: int = 10, top: str = "(top)"
) -> str:
    """`field.path: message; ...` for the first `limit` problems."""
    errors = exc.errors()
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or top}: {err['msg']}"
        for err in errors[:limit]
    ]
    if len(errors) > limit:
        parts.append(f"... and {len(errors) - limit} more")
    return "; ".join(parts)
