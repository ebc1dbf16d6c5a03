"""CSV-injection neutralisation: text cells a spreadsheet would run as a formula."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel

# A cell starting with one of these is a formula (or becomes one) in Excel,
# LibreOffice and Google Sheets (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = TypeVar("Row", bound=BaseModel)


def neutralise_cell(text: str) -> str:
    """`text` with a leading `'` when a spreadsheet would take it as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def neutralise_rows(rows: Sequence[Row]) -> list[Row]:
    """Copies of `rows` whose text fields are neutralised; numbers (negative
    ones included) and other values are left as they are."""
    safe: list[Row] = []
    for row in rows:
        changes = {
            name: neutralise_cell(value)
            for name, value in row
            if isinstance(value, str) and value.startswith(FORMULA_STARTS)
        }
        safe.append(row.model_copy(update=changes) if changes else row)
    return safe
