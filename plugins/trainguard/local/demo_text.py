"""Seeded benign sentences in Chinese and English, generated without downloads: the text
of the demo's records and the benign half of the demo's labelled classifier examples.

They are the demo's, never a product default: trainguard ships no classifier trained on
them (a classifier that learnt "benign" from one generator calls ordinary text harmful).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

_ZH_SUBJECTS = [
    "研究人员",
    "这座城市",
    "当地学校",
    "志愿者团队",
    "图书馆",
    "农业合作社",
    "博物馆",
    "工程师们",
    "医院",
    "社区中心",
    "气象部门",
    "铁路公司",
    "出版社",
    "科技园区",
    "文化馆",
    "林业站",
    "港口",
    "大学实验室",
    "邮政系统",
    "乡村诊所",
]
_ZH_VERBS = [
    "介绍了",
    "改进了",
    "记录了",
    "讨论了",
    "发布了",
    "整理了",
    "分析了",
    "推广了",
    "展示了",
    "评估了",
    "完善了",
    "开放了",
    "总结了",
    "规划了",
    "支持了",
    "研究了",
]
ZH_OBJECTS = [
    "新的灌溉方法",
    "古籍修复工作",
    "城市绿化方案",
    "儿童阅读计划",
    "节能建筑设计",
    "传统手工艺",
    "公共交通线路",
    "河流治理经验",
    "天文观测结果",
    "社区养老服务",
    "植物多样性调查",
    "数字化档案",
    "地方戏曲历史",
    "营养健康指南",
    "防灾减灾知识",
    "茶叶种植技术",
    "海洋生态保护",
    "桥梁维护记录",
    "开源软件项目",
    "气候变化数据",
    "非遗保护成果",
    "乡村旅游路线",
    "高校招生政策",
    "新能源汽车充电网络",
    "垃圾分类经验",
    "历史建筑测绘",
    "山区教育支援",
    "渔业资源监测",
    "科普讲座内容",
    "公共卫生常识",
]
_ZH_TAILS = [
    "受到广泛关注。",
    "取得了明显效果。",
    "为后续工作提供了参考。",
    "引起了热烈讨论。",
    "得到了居民的好评。",
    "计划在明年继续推进。",
    "相关资料已对外公开。",
    "进展顺利。",
]
_EN_SUBJECTS = [
    "The research team",
    "A local library",
    "The city council",
    "Volunteers",
    "The museum",
    "Engineers",
    "The weather service",
    "A small startup",
    "The university press",
    "Farmers in the valley",
    "The railway operator",
    "A community clinic",
    "Open-source maintainers",
    "The port authority",
    "Teachers",
    "The botanical garden",
]
_EN_VERBS = [
    "described",
    "improved",
    "published",
    "reviewed",
    "documented",
    "tested",
    "presented",
    "discussed",
    "measured",
    "updated",
    "shared",
    "planned",
]
EN_OBJECTS = [
    "a new irrigation method",
    "the restoration of old maps",
    "a reading programme",
    "an energy-efficient design",
    "traditional crafts",
    "a bus network redesign",
    "river clean-up results",
    "telescope observations",
    "elder-care services",
    "a plant survey",
    "digitised archives",
    "nutrition guidelines",
    "flood preparedness",
    "tea cultivation",
    "marine conservation",
    "bridge maintenance logs",
    "a compiler release",
    "climate records",
    "rural tourism routes",
    "recycling practices",
    "school outreach",
    "fishery monitoring",
    "public lectures",
    "solar charging stations",
]
_EN_TAILS = [
    "to wide interest.",
    "with clear results.",
    "as a reference for others.",
    "after months of work.",
    "and residents welcomed it.",
    "ahead of schedule.",
    "in an open report.",
    "with help from partners.",
]


def _sentence(rng: random.Random, language: str) -> str:
    if language == "zh":
        return (
            rng.choice(_ZH_SUBJECTS)
            + rng.choice(_ZH_VERBS)
            + rng.choice(ZH_OBJECTS)
            + "，"
            + rng.choice(_ZH_TAILS)
        )
    return (
        f"{rng.choice(_EN_SUBJECTS)} {rng.choice(_EN_VERBS)} {rng.choice(EN_OBJECTS)} "
        f"{rng.choice(_EN_TAILS)}"
    )


def sample_text(rng: random.Random, language: str) -> str:
    """Two to five seeded benign sentences in ``language`` (zh or en)."""
    joiner = "" if language == "zh" else " "
    return joiner.join(_sentence(rng, language) for _ in range(rng.randint(2, 5)))
