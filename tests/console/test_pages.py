"""Each console page renders what the actor may see, refuses what they may not (a 404, as if it
did not exist), and speaks Chinese by default and English on request."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import skops.io as sio
from consolekit import csrf_of
from datakit import REVIEWS_CSV, png, zip_bytes
from filingkit import FilingKit
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from support import assert_db_unchanged, db_state

from aicommons import data, models
from aicommons.core import identity


def test_home_counts_what_the_org_has_and_the_platform_offers(console, kit):
    kit.dataset("reviews")
    kit.dataset("photos", "image", visibility="public")
    page = console("member@a.test").get("/").text
    assert '<h1>Org A</h1>' in page
    assert re.search(r'data-figure="datasets">2<', page) and re.search(r'data-figure="models">0<', page)
    assert "个公开数据集" in page
    # Org B holds none of them.
    assert re.search(r'data-figure="datasets">0<', console("member@b.test").get("/").text)


def test_datasets_list_searches_and_hides_other_orgs_private_ones(console, kit):
    private = kit.dataset("reviews")
    kit.dataset("street-photos", "image", visibility="public")
    own = console("member@a.test")
    listed = own.get("/datasets").text
    assert "reviews" in listed and "street-photos" in listed
    searched = own.get("/datasets", params={"q": "STREET"}).text
    assert "street-photos" in searched and ">reviews<" not in searched
    other = console("member@b.test")
    assert ">reviews<" not in other.get("/datasets").text and "street-photos" in other.get("/datasets").text
    assert other.get(f"/datasets/{private.id}").status_code == 404
    assert other.get(f"/datasets/{private.id}/versions/1").status_code == 404
    assert own.get("/datasets/ds_does_not_exist").status_code == 404


def test_a_versions_records_show_text_and_image_thumbnails(console, kit):
    reviews = kit.dataset("reviews")
    kit.imported(reviews.id, "reviews.csv", REVIEWS_CSV)
    photos = kit.dataset("pets", "image")
    version = kit.imported(photos.id, "pets.zip", zip_bytes({"train/cat/1.png": png(), "train/dog/2.png": png((0, 0, 255))}))
    client = console("member@a.test")
    text_page = client.get(f"/datasets/{reviews.id}/versions/1").text
    first = kit.records(kit.version(version.id).id).items[0]
    first_review = next(r for r in kit.records(data_version(kit, reviews.id)).items)
    assert first_review["text"] in text_page
    image_page = client.get(f"/datasets/{photos.id}/versions/1").text
    src = f'/dataset-versions/{version.id}/records/{first["record_id"]}/file'
    assert f'src="{src}"' in image_page and "共 2 条记录" in image_page
    image = client.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")
    assert console("member@b.test").get(src).status_code == 404


def data_version(kit, dataset_id):
    with kit.runtime.session() as session:
        return data.resolve_version(session, kit.actor, dataset_id).id


@pytest.fixture(scope="module")
def cancer_skops():
    X, y = load_breast_cancer(return_X_y=True)
    return sio.dumps(LogisticRegression(max_iter=5000).fit(X.astype(np.float32), y))


def test_models_list_and_the_rendered_card(console, runtime, world, cancer_skops):
    with runtime.session() as session:
        model = models.create_model(session, world.a_member.actor, models.ModelCreate(
            name="cancer", task="tabular-classification", licence="Apache-2.0", name_zh="乳腺癌诊断"))
        version = models.upload_version(session, runtime.blobs, world.a_member.actor, model.id, io.BytesIO(cancer_skops), "m.skops",
                                        models.VersionMeta(metrics={"accuracy": 0.953}))
        models.update_card(session, world.a_member.actor, version.id,
                           models.get_card(session, world.a_member.actor, version.id) + "\n<script>alert(1)</script>\n")
    client = console("member@a.test")
    assert "乳腺癌诊断" in client.get("/models", params={"q": "canc"}).text
    card = client.get(f"/models/{model.id}").text
    assert "<h1>cancer" in card and "<th>metric</th>" in card and "0.953" in card
    assert "<script>alert(1)</script>" not in card and "&lt;script&gt;" in card  # the uploader's HTML is shown, never run
    assert console("member@b.test").get(f"/models/{model.id}").status_code == 404


def test_the_public_registry_and_certificate_check_need_no_sign_in(anonymous, runtime, world):
    fk = FilingKit(runtime, world)
    filed = fk.approved()
    listed = anonymous.get("/registry", params={"q": "cancer"})
    assert listed.status_code == 200 and filed.number in listed.text and "已备案" in listed.text
    assert "Org A" in anonymous.get(f"/registry/{filed.number}").text
    assert anonymous.get("/registry/NO-SUCH-NUMBER").status_code == 404
    certificate = runtime.blobs.read_bytes(filed.certificate_sha256).decode()
    form = anonymous.get("/registry/check").text
    checked = anonymous.post("/registry/check", data={"csrf_token": csrf_of(form), "certificate": certificate})
    assert checked.status_code == 200 and "证书有效" in checked.text and filed.number in checked.text
    forged = json.loads(certificate)
    forged["payload"]["org_name"] = "Someone Else"
    tampered = anonymous.post("/registry/check", data={"csrf_token": csrf_of(form), "certificate": json.dumps(forged)})
    assert "证书不真实" in tampered.text
    uploaded = anonymous.post("/registry/check", data={"csrf_token": csrf_of(form)},
                              files={"upload": ("certificate.json", certificate.encode(), "application/json")})
    assert "证书有效" in uploaded.text
    bad = anonymous.post("/registry/check", data={"csrf_token": csrf_of(form), "certificate": "not json"})
    assert bad.status_code == 400 and 'id="certificate-error"' in bad.text and "not json</textarea>" in bad.text


def test_the_profile_lists_creates_and_revokes_api_tokens(console, runtime, world):
    client = console("member@a.test")
    page = client.get("/profile").text
    assert "member@a.test" in page and "Org A" in page
    created = client.post("/profile/tokens", data={"csrf_token": csrf_of(page), "name": "laptop"})
    secret = re.search(r'<code id="new-token">(aic_[^<]+)</code>', created.text).group(1)
    with runtime.session() as session:
        assert identity.authenticate(session, secret).user_id == world.a_member.actor.user_id
        token = next(t for t in identity.list_tokens(session, world.a_member.actor, world.a_member.actor.user_id) if t.name == "laptop")
    assert secret not in client.get("/profile").text  # shown once
    before = db_state(runtime)
    refused = client.post("/profile/tokens", data={"csrf_token": csrf_of(page), "name": "x" * 101})
    assert refused.status_code == 400 and 'id="token-name-error"' in refused.text and "1 到 100 个字符" in refused.text
    assert_db_unchanged(before, db_state(runtime))
    # Someone else's token is a 404, and stays in force.
    other = console("member@b.test")
    assert other.post(f"/profile/tokens/{token.id}/revoke", data={"csrf_token": csrf_of(other.get("/profile").text)}).status_code == 404
    client.post(f"/profile/tokens/{token.id}/revoke", data={"csrf_token": csrf_of(page)})
    with runtime.session() as session, pytest.raises(Exception, match="revoked"):
        identity.authenticate(session, secret)


def test_the_language_switch_turns_pages_english_with_english_dates(console, kit):
    kit.dataset("reviews")
    client = console("member@a.test")
    page = client.get("/datasets").text
    assert 'lang="zh-CN"' in page and "<h1>数据集</h1>" in page and "年" in page  # 2026年11月…
    switched = client.post("/language", data={"csrf_token": csrf_of(page), "language": "en", "next": "/datasets"})
    assert switched.url.path == "/datasets"
    assert 'lang="en"' in switched.text and "<h1>Datasets</h1>" in switched.text
    assert re.search(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d+, \d{4}", switched.text)
    refused = client.post("/language", data={"csrf_token": csrf_of(page), "language": "fr"})
    assert refused.status_code == 422 and "parameter of choose_language must be one of zh_CN, en" in refused.text
    assert "<html" in client.get("/datasets", params={"modality": "video"}).text  # a bad URL is a page, not JSON


def test_every_message_in_templates_and_routes_has_a_chinese_translation():
    from pathlib import Path

    import aicommons.console as console_package
    from aicommons.console.locales import Translator

    root = Path(console_package.__file__).parent
    sources = [*root.glob("templates/**/*.html"), *root.glob("routes/*.py"), *root.glob("*.py")]
    literal = re.compile(r'(?:\b_|gettext)\("((?:[^"\\]|\\.)+)"')
    messages = {m for path in sources for m in literal.findall(path.read_text())}
    messages |= {identity.SIGN_IN_REFUSED}
    assert len(messages) > 50
    zh = Translator("zh_CN")
    untranslated = sorted(m for m in messages if zh.gettext(m) == m and m != "aicommons")
    assert not untranslated


def test_english_shows_status_and_form_identifiers_as_words():
    """English is the source language of messages, but some pages pass services' enum values
    through `_`: those with underscores or abbreviations have English words (i18n/en)."""
    from aicommons.console.locales import Translator

    en = Translator("en")
    assert [en.gettext(v) for v in ("in_review", "test_failed", "not_met", "api")] == ["in review", "tests failed", "not met", "API"]
    assert en.gettext("Models") == "Models" and Translator("zh_CN").gettext("in_review") != "in review"
