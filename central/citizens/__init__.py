"""Reports from outside: the public citizen page and Open311 clients.

Each report becomes a ticket (`NewTicket.from_citizen`) held for an operator
first, or joins the open ticket of the same problem nearby
(`central.tickets.merging`), plus one `citizen_reports` row: the hashed tracking
token, the optional contact (staff only), the rating and reopenings, and for
Open311 the client and its own id.
"""

from central.citizens.limits import RateLimiter
from central.citizens.reports import (
    CitizenError,
    NotAllowedNow,
    Rating,
    ReportDesk,
    TrackingNotFound,
)
from central.citizens.words import progress_steps, state_words

__all__ = [
    "CitizenError",
    "NotAllowedNow",
    "RateLimiter",
    "Rating",
    "ReportDesk",
    "TrackingNotFound",
    "progress_steps",
    "state_words",
]
