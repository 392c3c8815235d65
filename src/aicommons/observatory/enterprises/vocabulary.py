"""The registry's two fixed vocabularies: enterprise tiers (梯队) and AI fields.

Tiers follow the policies' ladder of 001 二(三) (科技领军企业 leading, 专精特新"小巨人" as the
backbone, 创新型中小企业 as the base) and the other recognitions the plans count (高新技术企业,
上市企业, 004's 单项冠军 and 瞪羚 …). AI fields are the ones the plans name (智能芯片, 多模态大模型,
视觉智能, 智能网联汽车 …). Values are stored as the English slugs; input may give the Chinese label.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Tier(StrEnum):
    tech_leader = "tech-leader"
    chain_leader = "chain-leader"
    little_giant = "little-giant"
    single_champion = "single-champion"
    specialised_sme = "specialised-sme"
    innovative_sme = "innovative-sme"
    tech_sme = "tech-sme"
    high_tech = "high-tech"
    unicorn = "unicorn"
    gazelle = "gazelle"
    listed = "listed"


TIER_LABELS: dict[Tier, str] = {
    Tier.tech_leader: "科技领军企业",
    Tier.chain_leader: "链主型企业",
    Tier.little_giant: "专精特新“小巨人”企业",
    Tier.single_champion: "制造业单项冠军企业",
    Tier.specialised_sme: "专精特新中小企业",
    Tier.innovative_sme: "创新型中小企业",
    Tier.tech_sme: "科技型中小企业",
    Tier.high_tech: "高新技术企业",
    Tier.unicorn: "独角兽企业",
    Tier.gazelle: "瞪羚企业",
    Tier.listed: "上市企业",
}


class AIField(StrEnum):
    chips = "chips"
    foundation_models = "foundation-models"
    computer_vision = "computer-vision"
    speech = "speech"
    language = "language"
    knowledge_graphs = "knowledge-graphs"
    brain_inspired = "brain-inspired"
    robotics = "robotics"
    connected_vehicles = "connected-vehicles"
    smart_home = "smart-home"
    wearables_xr = "wearables-xr"
    manufacturing = "manufacturing"
    healthcare = "healthcare"
    drug_discovery = "drug-discovery"
    finance = "finance"
    security = "security"
    transport = "transport"
    education = "education"
    data_services = "data-services"
    computing_platforms = "computing-platforms"


FIELD_LABELS: dict[AIField, str] = {
    AIField.chips: "智能芯片",
    AIField.foundation_models: "多模态大模型",
    AIField.computer_vision: "视觉智能",
    AIField.speech: "智能语音",
    AIField.language: "自然语言处理",
    AIField.knowledge_graphs: "知识图谱",
    AIField.brain_inspired: "类脑智能",
    AIField.robotics: "智能机器人",
    AIField.connected_vehicles: "智能网联汽车",
    AIField.smart_home: "智能家居",
    AIField.wearables_xr: "可穿戴设备与虚拟现实",
    AIField.manufacturing: "智能制造",
    AIField.healthcare: "智慧医疗",
    AIField.drug_discovery: "智能新药研发",
    AIField.finance: "智慧金融",
    AIField.security: "智慧安防",
    AIField.transport: "智慧交通",
    AIField.education: "智慧教育",
    AIField.data_services: "数据采集与标注服务",
    AIField.computing_platforms: "算力与开放平台",
}

_QUOTES = str.maketrans("", "", "\"'“”‘’「」")


def _key(text: str) -> str:
    # Spreadsheets spell 专精特新“小巨人” with curly, straight or no quotes, and drop the trailing 企业.
    key = unicodedata.normalize("NFKC", text).strip().translate(_QUOTES).lower().replace("_", "-")
    return key.removesuffix("企业") if len(key) >= 4 else key


def _index(labels: dict) -> dict[str, str]:
    return {**{_key(label): value.value for value, label in labels.items()}, **{_key(value.value): value.value for value in labels}}


_TIERS = _index(TIER_LABELS)
_FIELDS = _index(FIELD_LABELS)


def tier_from_text(value: object) -> object:
    """A tier slug from its slug or Chinese label; anything else is left for the enum to refuse."""
    return _TIERS.get(_key(value), value) if isinstance(value, str) else value


def field_from_text(value: object) -> object:
    """An AI field slug from its slug or Chinese label; anything else is left for the enum to refuse."""
    return _FIELDS.get(_key(value), value) if isinstance(value, str) else value
