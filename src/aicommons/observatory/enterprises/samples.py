"""Sample enterprises for the demo and the reports: seeded, spread over Zhejiang, and marked as samples.

Each has `sample=True` and a name ending in （示例）, so no table, export or report can pass one off as
a real enterprise. Credit codes are well formed (authority 9, type 1, the district's division code,
an organisation code of the "MA" series issued since 2015, a correct check character) but drawn at
random. Cities are weighted roughly by the size of their AI industry (Hangzhou first, then Ningbo),
tiers follow the policy's pyramid (few leaders, more 小巨人, most innovative SMEs), and revenue grows
year on year from a log-normal base. The same seed gives the same enterprises.
"""

from __future__ import annotations

import random

from sqlalchemy.orm import Session

from aicommons.core.errors import invalid_parameter
from aicommons.core.permissions import Actor
from aicommons.observatory.enterprises.credit_codes import ALPHABET, check_character
from aicommons.observatory.enterprises.regions import cities
from aicommons.observatory.enterprises.registry import upsert
from aicommons.observatory.enterprises.schemas import EnterpriseCreate, SampleReport
from aicommons.observatory.enterprises.vocabulary import FIELD_LABELS, AIField, Tier
from aicommons.core.officials import require_official

DEFAULT_COUNT = 200
MAX_COUNT = 5000
YEARS = (2022, 2023, 2024)
SAMPLE_MARK = "（示例）"

_CITY_WEIGHTS = {"杭州市": 40, "宁波市": 14, "温州市": 7, "嘉兴市": 7, "湖州市": 5, "绍兴市": 6, "金华市": 6, "衢州市": 2, "舟山市": 2, "台州市": 6, "丽水市": 2}
_TIER_ODDS = {  # the chance a sample enterprise holds each recognition
    Tier.tech_leader: 0.04, Tier.chain_leader: 0.02, Tier.little_giant: 0.15, Tier.single_champion: 0.02,
    Tier.specialised_sme: 0.25, Tier.innovative_sme: 0.55, Tier.tech_sme: 0.5, Tier.high_tech: 0.6,
    Tier.unicorn: 0.01, Tier.gazelle: 0.06, Tier.listed: 0.07,
}  # fmt: skip
_NAME_STEMS = ("智", "云", "数", "芯", "视", "图", "灵", "慧", "联", "睿", "析", "达", "启", "辰", "星", "海", "峰", "衡", "瞳", "语")
_SUFFIXES = {
    AIField.chips: "芯片科技", AIField.foundation_models: "智能科技", AIField.computer_vision: "视觉技术", AIField.speech: "语音科技",
    AIField.language: "语言智能", AIField.knowledge_graphs: "数据科技", AIField.brain_inspired: "类脑科技", AIField.robotics: "机器人",
    AIField.connected_vehicles: "智能驾驶", AIField.smart_home: "智能家居", AIField.wearables_xr: "交互科技", AIField.manufacturing: "智能装备",
    AIField.healthcare: "医疗科技", AIField.drug_discovery: "生物智能", AIField.finance: "金融科技", AIField.security: "安防科技",
    AIField.transport: "交通科技", AIField.education: "教育科技", AIField.data_services: "数据服务", AIField.computing_platforms: "计算技术",
}  # fmt: skip
_SCENARIOS = {
    AIField.computer_vision: "工业质检", AIField.healthcare: "医学影像辅助诊断", AIField.finance: "智能风控", AIField.transport: "城市大脑信号优化",
    AIField.security: "视频结构化分析", AIField.education: "个性化学习", AIField.manufacturing: "预测性维护", AIField.robotics: "仓储物流",
    AIField.speech: "智能客服", AIField.connected_vehicles: "自动驾驶测试", AIField.foundation_models: "行业知识问答", AIField.smart_home: "全屋智能",
}  # fmt: skip


def _credit_code(rng: random.Random, division: str) -> str:
    first17 = "91" + division + "MA" + "".join(rng.choice(ALPHABET) for _ in range(7))
    return first17 + check_character(first17)


def sample_enterprises(count: int = DEFAULT_COUNT, seed: int = 0) -> list[EnterpriseCreate]:
    """`count` sample enterprises with distinct credit codes; the same seed gives the same list."""
    rng = random.Random(seed)
    regions = list(cities())
    weights = [_CITY_WEIGHTS[c.name] for c in regions]
    fields = list(AIField)
    made: dict[str, EnterpriseCreate] = {}
    while len(made) < count:
        city = rng.choices(regions, weights)[0]
        district = rng.choice(city.districts)
        code = _credit_code(rng, district.code)
        if code in made:
            continue
        own_fields = rng.sample(fields, rng.choice((1, 1, 2, 2, 3)))
        tiers = [tier for tier, odds in _TIER_ODDS.items() if rng.random() < odds]
        scale = 4 if Tier.tech_leader in tiers or Tier.listed in tiers else 1
        base = rng.lognormvariate(17.0, 1.0) * scale  # e ** 17 ≈ 24 million yuan
        growth = rng.uniform(0.95, 1.35)
        name = f"{city.name.removesuffix('市')}{''.join(rng.sample(_NAME_STEMS, 2))}{_SUFFIXES[own_fields[0]]}有限公司{SAMPLE_MARK}"
        made[code] = EnterpriseCreate(
            credit_code=code, name=name, city=city.name, district=district.name, tiers=tiers, ai_fields=own_fields,
            revenue={year: int(base * growth**i) for i, year in enumerate(YEARS)},
            invention_patents=int(rng.expovariate(1 / (40 * scale))), standards=int(rng.expovariate(1 / (2 * scale))),
            products=[f"{FIELD_LABELS[f]}平台" for f in own_fields],
            scenarios=[_SCENARIOS[f] for f in own_fields if f in _SCENARIOS], sample=True,
        )  # fmt: skip
    return list(made.values())


def add_sample_enterprises(session: Session, actor: Actor, count: int = DEFAULT_COUNT, seed: int = 0) -> SampleReport:
    """Store the sample enterprises (officials only); running it again with the same seed changes nothing."""
    require_official(session, actor, "add sample enterprises")
    if not 1 <= count <= MAX_COUNT:
        raise invalid_parameter("count", "add_sample_enterprises", f"an integer in [1, {MAX_COUNT}]", count)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for spec in sample_enterprises(count, seed):
        counts[upsert(session, actor, spec, detail={"via": "sample", "seed": seed})] += 1
    return SampleReport(**counts)
