"""blank 编制/职数 figures are NULL; 借调/挂职开始日期 flag; official calendar years

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = ('est_admin', 'est_legal', 'est_public', 'est_worker',
           'posts_unit_chief', 'posts_unit_deputy', 'posts_dept_chief', 'posts_dept_deputy')


def upgrade() -> None:
    # Existing figures stay as they are: a 0 imported before this revision cannot be told from a blank.
    with op.batch_alter_table('unit', schema=None) as batch_op:
        for name in FIGURES:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('work_since_stated', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table('holidayyear',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('official', sa.Boolean(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )


def downgrade() -> None:
    op.drop_table('holidayyear')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('work_since_stated')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        for name in FIGURES:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)
