"""login throttle

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Failed-login counts and lockouts per username and per client address, in the
database so that every API replica sees the same ones (before: in memory, per
process, so two replicas gave an attacker twice the tries).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures_s", sa.JSON(), nullable=False),
        sa.Column("locked_until_s", sa.Float(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("updated_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        op.f("ix_login_throttle_updated_s"), "login_throttle", ["updated_s"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttle_updated_s"), table_name="login_throttle")
    op.drop_table("login_throttle")
