"""approval statistics indexes: 办结率 scans a covering index in group order; the slowest items walk one

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_approvalitem_stats', 'approvalitem', ['type', 'status', 'working_days', 'submitted_on'])
    op.create_index('ix_approvalitem_slowest', 'approvalitem', ['status', 'working_days', 'number', 'submitted_on'])


def downgrade() -> None:
    op.drop_index('ix_approvalitem_slowest', table_name='approvalitem')
    op.drop_index('ix_approvalitem_stats', table_name='approvalitem')
