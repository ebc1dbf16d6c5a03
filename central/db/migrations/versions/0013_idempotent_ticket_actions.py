"""idempotent ticket actions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

A worker's phone queues ticket actions made without a connection and sends
them when it returns, each with an `Idempotency-Key` (`central/api/idempotency.py`).
`ticket_action_keys` keeps each key of each user with the request's fingerprint
and the outcome (status and body), so a request sent again gets that outcome
back instead of acting twice. Rows go after `retention.action_key_days`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_action_keys",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", "key", name=op.f("pk_ticket_action_keys")),
    )
    op.create_index(
        op.f("ix_ticket_action_keys_created_at"),
        "ticket_action_keys",
        ["created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_ticket_action_keys_created_at"), table_name="ticket_action_keys"
    )
    op.drop_table("ticket_action_keys")
