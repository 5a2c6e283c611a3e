"""How a warning reads: its label and one line of plain text (身份证号 masked). Shared by the 预警 replies
and the scan's pushes."""

from __future__ import annotations

import json

from models.warnings.rules import EST_LABELS


def label(rule: str, level: int) -> str:
    return EST_LABELS[level] if rule == "编制" else rule


def mask(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:] if len(id_number) > 8 else id_number


def describe(rule: str, subject: str, level: int, evidence: str) -> str:
    """One line of plain text for a warning; 身份证号 masked."""
    ev = json.loads(evidence or "{}")
    if rule == "编制":
        return f"{subject}{label(rule, level)}：核定 {ev.get('核定')}，实有 {ev.get('实有')}"
    if rule == "超职数":
        return f"{subject}超职数：核定 {ev.get('核定')}，实配 {ev.get('实配')}"
    if rule == "数据陈旧":
        return f"实名制数据陈旧：最近更新 {ev.get('最近更新')}"
    if rule == "数据不全" and not subject:
        return f"数据不全：单位文件未填{'、'.join(ev.get('缺少', []))}，相关的超编、超职数预警暂不检查"
    if rule == "口径不一致":
        return (f"编制口径不一致：参公单位的编制填在“行政编制”栏（核定 {ev.get('行政编制核定')}），人员登记为事业编制"
                f"（实有 {ev.get('事业编制实有')}）；请核对编制类型的填写，不按“事业编制核定 0”报超编")
    who = f"{ev.get('姓名', '')}（{mask(ev.get('身份证号', subject))}）"
    if rule == "数据不全":
        return f"数据不全：{who}，缺少{ev.get('缺少', '')}"
    if rule == "混岗":
        text = f"混岗：{who}，{ev.get('情形', '')}"
        text += f"，{ev['起始']}" if ev.get("起始") else ""
        return text + (f"（{ev['另']}）" if ev.get("另") else "")
    if rule in ("超龄未退", "临退"):
        extra = f"，弹性延迟至 {ev['弹性延迟至']}" if ev.get("弹性延迟至") else ""
        return f"{rule}：{who}，法定退休 {ev.get('退休年月')}{extra}"
    return f"{rule}：{who}"
