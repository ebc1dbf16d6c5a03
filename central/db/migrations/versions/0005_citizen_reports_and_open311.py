"""citizen reports and open311

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Reports from the public citizen page and from Open311 clients (a 12345 hotline,
civic apps): one `citizen_reports` row per reported ticket (the hashed tracking
token, the optional contact, the rating, reopenings, the Open311 client and its
own id) and `open311_clients` (a name and the SHA-256 of its API key).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("review_first", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_clients")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_open311_clients_key_digest")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_clients_name")),
    )
    op.create_table(
        "citizen_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("open311_client_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.String(length=24), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["open311_client_id"],
            ["open311_clients.id"],
            name=op.f("fk_citizen_reports_open311_client_id_open311_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_citizen_reports_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_reports")),
        sa.UniqueConstraint(
            "token_digest", name=op.f("uq_citizen_reports_token_digest")
        ),
    )
    with op.batch_alter_table("citizen_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_citizen_reports_open311_client_id"),
            ["open311_client_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_citizen_reports_ticket_id"), ["ticket_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("citizen_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_reports_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_citizen_reports_open311_client_id"))
    op.drop_table("citizen_reports")
    op.drop_table("open311_clients")
