"""Offline install (docs/operations.md): `make wheelhouse`, then an install with no index at all.

Slow-ish (about a minute: pip's cache makes the second run quicker); it runs in `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheelhouse_installs_with_no_index(tmp_path: Path):
    house = tmp_path / "wheelhouse"
    subprocess.run(["make", "-s", "wheelhouse", f"WHEELHOUSE={house}", f"PY={sys.executable}"], cwd=ROOT,
                   check=True, capture_output=True, timeout=600)
    wheels = {p.name.split("-")[0].lower() for p in house.glob("*.whl")}
    assert {"bianban_bot", "aiohttp", "sqlmodel", "ortools", "prometheus_client", "dingtalk_stream"} <= wheels

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # No pip configuration of this machine (its extra indexes and find-links): only the wheelhouse.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
                    "--find-links", str(house), "bianban-bot"], check=True, env=env, timeout=600)
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "bot", "--version"], cwd=tmp_path,
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "编办监督助手 0.1.0"
