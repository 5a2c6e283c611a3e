"""The 监管评价 import kinds: all rows or nothing, one line per problem; and the [evaluation] settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import import_file
from bot.config import ConfigError, load_config
from bot.importing import ImportRejected


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def test_indicator_file_is_checked_line_by_line(demo_db, tmp_path):
    bad = write(tmp_path, "ind.csv", [
        "指标名称*,类别*,监管方式*,满分*,计分规则,适用单位,说明",
        "三定落实,共性,日常监管,10,人工,全部,",
        "整改情况,共性,每日监管,10,整改,,",
        "反馈情况,其他,随机监管,0,自动：投诉,不存在局,",
        "三定落实,共性,日常监管,10,,,",
    ])
    with pytest.raises(ImportRejected) as e:
        await import_file(demo_db, "indicators", bad)
    assert e.value.lines == [
        "第3行 监管方式: 未知监管方式“每日监管”（可选：日常监管、重点工作监管、履职考评系统监管、随机监管）",
        "第4行 类别: 未知类别“其他”（可选：共性、关联、个性）",
        "第4行 满分: 应在 0 到 100 之间",
        "第4行 计分规则: 未知计分规则“投诉”（可选：整改、预警、实名制、监督员反馈、走访、审批、人工）",
        "第4行 适用单位: 找不到单位“不存在局”",
        "第5行 指标名称: 与第2行重复",
    ]
    good = write(tmp_path, "ind2.csv", ["指标名称,类别,监管方式,满分,计分规则,适用单位",
                                        "属地管理,关联,重点工作监管,5,自动：整改,城关镇、青山镇"])
    assert (await import_file(demo_db, "indicators", good)).added == 1
    assert (await import_file(demo_db, "indicators", good)).unchanged == 1
    scores = write(tmp_path, "s.csv", ["单位,指标,得分,依据", "教育局,属地管理,6,抽查", "教育局,没有的指标,6,抽查",
                                       "不存在局,属地管理,3,抽查"])
    with pytest.raises(ImportRejected) as e:
        await import_file(demo_db, "scores", scores)
    assert e.value.lines == ["第2行 得分: 超过该指标满分 5", "第3行 指标: 没有指标“没有的指标”，请先导入考评指标",
                             "第4行 单位: 找不到单位“不存在局”"]


def test_evaluation_settings_are_validated(tmp_path):
    def cfg(text: str):
        path = tmp_path / "c.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    rules = cfg('[evaluation]\nweights = [25, 25, 30, 20]\nweights_by_year = { "2028" = "40,20,20,20" }\n'
                'tier_shares = [10, 60, 20, 10]\n').evaluation.rules()
    assert rules.weights_for(2027)["日常监管"] == 25 and rules.weights_for(2028)["日常监管"] == 40
    assert rules.tier_shares == (10, 60, 20, 10)
    for bad, words in (("weights = [20, 30, 30]", "weights 应为四个非负数，合计 100"),
                       ("tier_shares = [20, 50, 20, 20]", "tier_shares 应为四个非负整数，合计 100"),
                       ('weights_by_year = { "2028" = "40,20,20" }', "2028 年的权重"),
                       ('weights_by_year = { "2028" = "四十" }', "weights_by_year 应写成")):
        with pytest.raises(ConfigError) as e:
            cfg(f"[evaluation]\n{bad}\n")
        assert words in str(e.value)
