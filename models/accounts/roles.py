"""Roles and rights (the role names are listed in docs/import-formats.md).

A command names the right it needs; an account's roles grant rights. The administrator manages
accounts and settings and has no business rights (seed 002: no single person decides alone).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    UNIT_CONTACT = "unit_contact"
    UNIT_LEADER = "unit_leader"
    OFFICE_STAFF = "office_staff"
    OFFICE_LEADER = "office_leader"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.UNIT_CONTACT: "单位联络员",
    Role.UNIT_LEADER: "单位负责人",
    Role.OFFICE_STAFF: "编办业务员",
    Role.OFFICE_LEADER: "编办领导",
    Role.SUPERVISOR: "监督员",
    Role.ADMIN: "管理员",
}
ROLE_BY_LABEL: dict[str, Role] = {label: role for role, label in ROLE_LABELS.items()}


class Right(StrEnum):
    ANYONE = "anyone"  # also users without an account
    MEMBER = "member"  # any account
    UNIT_OWN = "unit_own"  # see and act on one's own unit
    OFFICE_VIEW = "office_view"  # see all units
    OFFICE_HANDLE = "office_handle"  # handle approvals, problems, feedback; record visits
    OFFICE_LEAD = "office_lead"  # digests, escalations, lead visit groups
    FEEDBACK_FILE = "feedback_file"  # supervisors: file feedback, see their own
    PROBLEM_VIEW = "problem_view"  # see problems: a unit its own, the office all
    ACCOUNTS_MANAGE = "accounts_manage"  # administrators


RIGHTS: dict[Role, frozenset[Right]] = {
    Role.UNIT_CONTACT: frozenset({Right.UNIT_OWN, Right.PROBLEM_VIEW}),
    Role.UNIT_LEADER: frozenset({Right.UNIT_OWN, Right.PROBLEM_VIEW}),
    Role.OFFICE_STAFF: frozenset({Right.OFFICE_VIEW, Right.OFFICE_HANDLE, Right.PROBLEM_VIEW}),
    Role.OFFICE_LEADER: frozenset({Right.OFFICE_VIEW, Right.OFFICE_LEAD, Right.PROBLEM_VIEW}),
    Role.SUPERVISOR: frozenset({Right.FEEDBACK_FILE}),
    Role.ADMIN: frozenset({Right.ACCOUNTS_MANAGE}),
}
UNIT_ROLES = frozenset({Role.UNIT_CONTACT, Role.UNIT_LEADER})


def parse_roles(text: str) -> list[Role]:
    """Role labels or codes separated by 、,，;； → roles; ValueError names the bad one."""
    roles: list[Role] = []
    for part in split_list(text):
        role = ROLE_BY_LABEL.get(part) or (Role(part) if part in Role._value2member_map_ else None)
        if role is None:
            raise ValueError(f"未知角色“{part}”（可选：{'、'.join(ROLE_LABELS.values())}）")
        if role not in roles:
            roles.append(role)
    return roles


def split_list(text: str) -> list[str]:
    """Split a cell or argument list on 、 , ， ; ；."""
    for sep in "，;；、":
        text = text.replace(sep, ",")
    return [p.strip() for p in text.split(",") if p.strip()]


def rights_of(roles: list[Role]) -> frozenset[Right]:
    granted: set[Right] = {Right.ANYONE}
    if roles:
        granted.add(Right.MEMBER)
    for role in roles:
        granted |= RIGHTS[role]
    return frozenset(granted)


def holders(right: Right) -> list[Role]:
    """The roles that grant `right` (who may use a command), in the usual order."""
    return [r for r in Role if right in rights_of([r])]


def role_labels(roles: list[Role]) -> str:
    return "、".join(ROLE_LABELS[r] for r in roles) or "无"
