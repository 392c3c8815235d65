"""Model cards: Hugging Face format (YAML header + Markdown) that round-trips, with Chinese fields."""

from __future__ import annotations

import pytest
import yaml

from aicommons.core.errors import Invalid
from aicommons.models.cards import CardData, parse_card, render_card

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only


def full_card(**changes) -> CardData:
    fields = {
        "title": "Breast cancer classifier",
        "summary": "A logistic regression on the\nWisconsin breast-cancer data.",
        "intended_use": "Teaching and demos.\n\n- not for diagnosis",
        "limitations": "Trained on 569 samples from one hospital.",
        "training_data": "sklearn's `load_breast_cancer` (dsv_123).",
        "metrics": {"accuracy": 0.9736842105263158, "f1": 0.98, "roc_auc": 1.0},
        "license": "apache-2.0",
        "datasets": ["dsv_123", "breast-cancer"],
        "base_model": "org/base-model",
        "tags": ["tabular", "医疗"],
        "language": ["en", "zh"],
        "pipeline_tag": "tabular-classification",
        "name_zh": "乳腺癌分类器",
        "description_zh": "基于威斯康星乳腺癌数据集训练的逻辑回归模型，仅用于教学演示。",
        "extra": {"library_name": "sklearn", "widget": [{"structuredData": {"a": [1, 2]}}]},
    }
    fields.update(changes)
    return CardData(**fields)


def header_of(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_round_trip_is_exact():
    card = full_card()
    text = render_card(card)
    assert parse_card(text) == card
    assert render_card(parse_card(text)) == text


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"metrics": {}, "datasets": [], "extra": {}},
        {"license": None, "base_model": None, "pipeline_tag": None, "name_zh": None, "description_zh": None},
        {"summary": "", "intended_use": "", "limitations": "", "training_data": "", "tags": [], "language": []},
        {"name_zh": None},
        {"description_zh": None, "title": "C# model"},
        {"license": "yes", "tags": ["1.0", "null"], "metrics": {"loss|val": -0.5}},
    ],
)
def test_round_trip_with_fields_left_out(changes):
    card = full_card(**changes)
    assert parse_card(render_card(card)) == card


def test_header_is_hugging_face_yaml_with_metrics_in_model_index():
    text = render_card(full_card())
    header = header_of(text)
    assert header["license"] == "apache-2.0" and header["base_model"] == "org/base-model"
    assert header["datasets"] == ["dsv_123", "breast-cancer"] and header["language"] == ["en", "zh"]
    assert header["pipeline_tag"] == "tabular-classification" and header["library_name"] == "sklearn"
    [entry] = header["model-index"]
    assert entry["name"] == "Breast cancer classifier"
    [result] = entry["results"]
    assert result["task"] == {"type": "tabular-classification"}
    assert result["dataset"] == {"name": "dsv_123", "type": "dsv_123"}
    assert {m["type"]: m["value"] for m in result["metrics"]} == {"accuracy": 0.9736842105263158, "f1": 0.98, "roc_auc": 1.0}
    assert "| accuracy | 0.9736842105263158 |" in text


def test_chinese_name_and_description_are_in_header_and_body():
    text = render_card(full_card())
    assert "乳腺癌分类器" in text and "\\u" not in text  # written as characters, not escapes
    assert header_of(text)["name_zh"] == "乳腺癌分类器"
    body = text.split("---\n", 2)[2]
    assert "## 中文" in body and "**名称：** 乳腺癌分类器" in body and "仅用于教学演示" in body
    # A card edited by hand with the Chinese only in the body still yields both fields
    header, rest = text.split("---\n")[1], text.split("---\n", 2)[2]
    trimmed = "\n".join(line for line in header.splitlines() if not line.startswith(("name_zh", "description_zh")))
    card = parse_card(f"---\n{trimmed}\n---\n{rest}")
    assert card.name_zh == "乳腺癌分类器" and card.description_zh.startswith("基于威斯康星")


def test_unknown_yaml_keys_survive_an_edit():
    text = render_card(full_card()).replace("library_name: sklearn", "library_name: sklearn\nco2_eq_emissions: 12.5")
    card = parse_card(text)
    assert card.extra["co2_eq_emissions"] == 12.5 and card.extra["widget"] == [{"structuredData": {"a": [1, 2]}}]
    assert "co2_eq_emissions: 12.5" in render_card(card)


def test_reads_a_hugging_face_style_card():
    text = """---
language: en
license: mit
tags:
- text-classification
datasets: imdb
base_model:
- distilbert-base-uncased
library_name: transformers
model-index:
- name: distilbert-imdb
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: imdb
      type: imdb
    metrics:
    - type: accuracy
      value: 0.928
      name: Accuracy
    - type: f1
      value: not reported
---

<!-- This model card has been generated automatically. -->

# distilbert-imdb

This model is a fine-tuned version of distilbert on the imdb dataset.

## Model description

More information needed

## Intended uses & limitations

Sentiment of English movie reviews.

### Code

```python
# not a heading
print("hi")
```

## Training and evaluation data

More information needed
"""
    card = parse_card(text)
    assert card.title == "distilbert-imdb"
    assert card.summary == "This model is a fine-tuned version of distilbert on the imdb dataset."
    assert card.language == ["en"] and card.datasets == ["imdb"] and card.tags == ["text-classification"]
    assert card.base_model == "distilbert-base-uncased" and card.license == "mit"
    assert card.metrics == {"accuracy": 0.928}  # the non-numeric f1 is skipped
    assert card.extra == {"library_name": "transformers"}
    assert card.intended_use.startswith("Sentiment of English movie reviews.") and "# not a heading" in card.intended_use
    assert card.limitations == "" and card.name_zh is None


def test_card_without_header_or_title_still_reads():
    card = parse_card("Some notes.\n\n## Limitations\n\nMany.\n\n## Metrics\n\n| metric | value |\n|---|---|\n| mae | 0.5 |\n")
    assert card.title == "Untitled model" and card.summary == "Some notes." and card.limitations == "Many."
    assert card.metrics == {"mae": 0.5}


@pytest.mark.parametrize(
    "text, words",
    [
        ("---\nlicense: [mit\n---\n# T\n", ("not valid YAML", "line 2")),
        ("---\nlicense: mit\n  tags: x: y\n---\n# T\n", ("not valid YAML",)),
        ("---\nlicense: mit\n# T\n", ("no closing '---'",)),
        ("---\n- a\n- b\n---\n# T\n", ("must be a mapping", "list")),
        ("---\nmodel-index: 1\nlicense: {a: 1}\n---\n# T\n", ("'license' key", "single value")),
        ("---\ntags:\n- {a: 1}\n---\n# T\n", ("'tags' key", "list of names")),
    ],
)
def test_bad_yaml_is_refused_naming_the_problem(text, words):
    with pytest.raises(Invalid) as info:
        parse_card(text)
    for word in words:
        assert word in info.value.message, info.value.message


def test_extra_may_not_shadow_card_fields():
    with pytest.raises(ValueError, match="license"):
        full_card(extra={"license": "mit"})
