"""unit visit_exempt flag (不纳入走访抽查); problem numbers up to 40 characters (an office's own numbers)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_exempt', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('problem', schema=None) as batch_op:
        batch_op.alter_column('number', type_=sa.String(length=40), existing_type=sa.String(length=20),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('problem', schema=None) as batch_op:
        batch_op.alter_column('number', type_=sa.String(length=20), existing_type=sa.String(length=40),
                              existing_nullable=False)
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_column('visit_exempt')
