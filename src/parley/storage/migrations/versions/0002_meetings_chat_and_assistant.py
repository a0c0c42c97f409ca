"""Meetings, their chat messages and their assistant exchanges.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley.storage.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("pin_hash", sa.String(length=160), nullable=True),
        sa.Column("max_publishers", sa.Integer(), nullable=False),
        sa.Column("video_codec", sa.String(length=8), nullable=False),
        sa.Column("bitrate", sa.Integer(), nullable=False),
        sa.Column("host_name", sa.String(length=64), nullable=True),
        sa.Column("janus_room", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("janus_room", name=op.f("uq_meetings_janus_room")),
    )
    op.create_index("ix_meetings_deleted_at_created_at", "meetings", ["deleted_at", "created_at"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("sender_name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_chat_messages_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index("ix_chat_messages_meeting_id_id", "chat_messages", ["meeting_id", "id"])
    op.create_table(
        "assistant_exchanges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("asker_id", sa.String(length=64), nullable=False),
        sa.Column("asker_name", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("first_chunk_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_assistant_exchanges_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_exchanges")),
    )
    op.create_index(
        "ix_assistant_exchanges_meeting_id_asked_at",
        "assistant_exchanges",
        ["meeting_id", "asked_at"],
    )


def downgrade() -> None:
    # Indexes go with their tables (MySQL refuses to drop one a foreign key relies on).
    op.drop_table("assistant_exchanges")
    op.drop_table("chat_messages")
    op.drop_table("meetings")
