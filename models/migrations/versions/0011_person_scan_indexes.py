"""person: covering indexes for the 预警 scan (per-unit counts, 一人多岗)

Revision ID: 0011
Revises: 0014
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_person_unit_counts', 'person', ['unit_id', 'staffing_type', 'is_leader', 'leader_level',
                                                        'leader_rank', 'status', 'imported_at'], unique=False)
    op.create_index('ix_person_id_number_books', 'person', ['id_number', 'status', 'unit_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_person_id_number_books', table_name='person')
    op.drop_index('ix_person_unit_counts', table_name='person')
