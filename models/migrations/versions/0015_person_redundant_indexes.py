"""person: drop the two indexes that others with the same leading column already serve

ix_person_id_number is a prefix of ix_person_id_number_books (id_number, status, unit_id) and
ix_person_unit_id of the unique (unit_id, id_number) and of ix_person_unit_counts: every lookup by
身份证号 or by unit still has an index, and an import of a million persons maintains two fewer.

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_person_id_number', table_name='person')
    op.drop_index('ix_person_unit_id', table_name='person')


def downgrade() -> None:
    op.create_index('ix_person_unit_id', 'person', ['unit_id'], unique=False)
    op.create_index('ix_person_id_number', 'person', ['id_number'], unique=False)
