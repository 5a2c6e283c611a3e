"""Service files in docs/deploy/: no docker engine runs here, so the files are checked, not run."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def test_systemd_unit_restarts_as_its_own_user_with_secrets_from_a_file():
    unit = _unit("bianban-bot.service")
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["User"] == "bianban" and service["Group"] == "bianban"
    assert service["EnvironmentFile"] == "/etc/bianban/bianban.env"
    assert service["StandardOutput"] == "journal" and service["StandardError"] == "journal"
    assert service["ExecStart"].endswith("-m bot -c /etc/bianban/config.toml run")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    backup = _unit("bianban-backup.service")["Service"]
    assert " db backup " in backup["ExecStart"] and backup["User"] == "bianban"
    assert _unit("bianban-backup.timer")["Timer"]["OnCalendar"]


def test_dockerfile_runs_as_non_root_with_a_health_check():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD .*/healthz", text, flags=re.M)
    assert re.search(r"^FROM python:3\.11", text, flags=re.M)


def test_compose_file_has_the_bot_and_postgresql():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    bot = services["bot"]
    assert bot["build"]["dockerfile"] == "docs/deploy/Dockerfile"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["environment"]["BOT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "pgdata" in compose["volumes"]
