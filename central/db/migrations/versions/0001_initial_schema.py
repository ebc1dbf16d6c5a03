"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "areas",
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=15), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("centroid_lat", sa.Float(), nullable=True),
        sa.Column("centroid_lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["areas.code"], name=op.f("fk_areas_parent_code_areas")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_areas")),
    )
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_areas_level"), ["level"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_areas_parent_code"), ["parent_code"], unique=False
        )

    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("clip", sa.String(length=300), nullable=True),
        sa.Column("health", sa.String(length=16), nullable=True),
        sa.Column("fps_in", sa.Float(), nullable=True),
        sa.Column("fps_analysed", sa.Float(), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_error", sa.Text(), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("node_id", "camera_id", name=op.f("uq_cameras_node_id")),
    )
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cameras_grid_code"), ["grid_code"], unique=False
        )

    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_departments_kind"), ["kind"], unique=False)

    op.create_table(
        "event_messages",
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("dedupe_key", name=op.f("pk_event_messages")),
    )
    with op.batch_alter_table("event_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_messages_event_id"), ["event_id"], unique=False
        )

    op.create_table(
        "media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_media_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("duty", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_workers_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workers_department_code"), ["department_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_workers_role"), ["role"], unique=False)

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=True),
        sa.Column("matter_key", sa.String(length=64), nullable=False),
        sa.Column("matter_version", sa.String(length=32), nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("category_name", sa.String(length=200), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("review_reason", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("camera_id", sa.String(length=64), nullable=True),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=True),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("time_limit_min", sa.Integer(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("resolution_photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("reporter", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["workers.id"], name=op.f("fk_tickets_assignee_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_assignee_state", ["assignee_id", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tickets_category_code"), ["category_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tickets_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tickets_department_code"), ["department_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tickets_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tickets_grid_code"), ["grid_code"], unique=False
        )
        batch_op.create_index(
            "ix_tickets_open_type_grid",
            ["state", "event_type", "grid_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_tickets_overdue"), ["overdue"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tickets_state"), ["state"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_users_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_worker_id"), ["worker_id"], unique=False
        )

    op.create_table(
        "worker_areas",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("area_code", sa.String(length=15), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name=op.f("fk_worker_areas_area_code_areas")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
            name=op.f("fk_worker_areas_worker_id_workers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("worker_id", "area_code", name=op.f("pk_worker_areas")),
    )
    with op.batch_alter_table("worker_areas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worker_areas_area_code"), ["area_code"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_api_tokens")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("location_source", sa.String(length=8), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("image_box", sa.JSON(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=True),
        sa.Column("clip_sha256", sa.String(length=64), nullable=True),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_events_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_grid_code"), ["grid_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_events_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_events_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_events_type"), ["type"], unique=False)

    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_history_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_history")),
    )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_history_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_history_ticket_id"))

    op.drop_table("ticket_history")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_type"))
        batch_op.drop_index(batch_op.f("ix_events_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_events_received_at"))
        batch_op.drop_index(batch_op.f("ix_events_grid_code"))

    op.drop_table("events")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("worker_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_areas_area_code"))

    op.drop_table("worker_areas")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_worker_id"))

    op.drop_table("users")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_state"))
        batch_op.drop_index(batch_op.f("ix_tickets_overdue"))
        batch_op.drop_index("ix_tickets_open_type_grid")
        batch_op.drop_index(batch_op.f("ix_tickets_grid_code"))
        batch_op.drop_index(batch_op.f("ix_tickets_due_at"))
        batch_op.drop_index(batch_op.f("ix_tickets_department_code"))
        batch_op.drop_index(batch_op.f("ix_tickets_created_at"))
        batch_op.drop_index(batch_op.f("ix_tickets_category_code"))
        batch_op.drop_index("ix_tickets_assignee_state")

    op.drop_table("tickets")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workers_role"))
        batch_op.drop_index(batch_op.f("ix_workers_department_code"))

    op.drop_table("workers")
    op.drop_table("meta")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_media_event_id"))

    op.drop_table("media")
    with op.batch_alter_table("event_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_messages_event_id"))

    op.drop_table("event_messages")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departments_kind"))

    op.drop_table("departments")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameras_grid_code"))

    op.drop_table("cameras")
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_areas_parent_code"))
        batch_op.drop_index(batch_op.f("ix_areas_level"))

    op.drop_table("areas")
