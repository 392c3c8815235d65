"""Every kind of hub model served end to end: an image CNN called with a PNG, a Chinese text
classifier called with sentences, and the imported MiniLM encoder returning embeddings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from datakit import DataKit
from PIL import Image
from sklearn.datasets import load_digits
from support import auth

from aicommons import models
from aicommons.data.builtin_datasets import chinese_reviews, digits
from aicommons.data.manifest import build_table
from aicommons.data.versions import write_version

API = "/api/v1"


def _trained(kit, name, task, table, recipe, **params):
    with kit.runtime.session() as session:
        dataset = kit.dataset(name, "image" if task.startswith("image") else "text")
        dataset_version = write_version(session, kit.runtime.blobs, kit.actor, dataset.id, table, operation="builtin", parameters={})
        model = models.create_model(session, kit.actor, models.ModelCreate(name=name, task=task))
        job = models.start_training(session, kit.actor, model.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe=recipe, params=params))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    return model


def _deploy(client, member, name, model_id):
    response = client.post(f"{API}/endpoints", json={"name": name, "model_id": model_id}, headers=auth(member))
    assert response.status_code == 201, response.text
    return response.json()["url"]


def test_an_image_model_answers_a_png_body_and_base64_instances(client, runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    model = _trained(kit, "digits", "image-classification", build_table(digits(runtime.blobs)), "image-cnn", epochs=12)
    url = _deploy(client, world.a_member, "digits-api", model.id)
    images, targets = load_digits(return_X_y=True)
    pngs = []
    for pixels in images[:20]:
        buffer = io.BytesIO()
        Image.fromarray(np.uint8(pixels.reshape(8, 8) * 255 / 16), mode="L").save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    one = client.post(url, content=pngs[0], headers={**auth(world.a_member), "Content-Type": "image/png"})
    assert one.status_code == 200, one.text
    assert one.json()["predictions"][0]["label"] == str(targets[0])
    import base64

    many = client.post(url, json={"instances": [base64.b64encode(p).decode() for p in pngs]}, headers=auth(world.a_member))
    labels = [p["label"] for p in many.json()["predictions"]]
    assert sum(label == str(t) for label, t in zip(labels, targets[:20], strict=True)) >= 18
    not_an_image = client.post(url, content=b"GIF89a-not-really", headers={**auth(world.a_member), "Content-Type": "image/gif"})
    assert not_an_image.status_code == 422 and "image" in not_an_image.json()["error"]["message"]


def test_a_chinese_text_classifier_answers_sentences(client, runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    records = chinese_reviews(runtime.blobs)
    rng = np.random.default_rng(0)
    table = build_table([records[i] for i in sorted(rng.choice(len(records), 1500, replace=False))])
    model = _trained(kit, "sentiment", "text-classification", table, "text-tfidf")
    url = _deploy(client, world.a_member, "sentiment-api", model.id)
    sentences = ["质量很好，非常满意，推荐购买", "太差了，完全不能用，退货", ""]
    response = client.post(url, json={"instances": sentences}, headers=auth(world.a_member))
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions[:2]] == ["positive", "negative"]
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-4 for p in predictions)
    numbers = client.post(url, json={"instances": [1, 2]}, headers=auth(world.a_member))
    assert numbers.status_code == 422 and "instance" in numbers.json()["error"]["message"].lower()


@pytest.mark.slow
def test_the_imported_minilm_encoder_is_served_and_compressed(client, runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    with runtime.session() as session:
        model = models.create_model(session, kit.actor, models.ModelCreate(name="minilm", task="feature-extraction", licence="Apache-2.0"))
        job = models.start_import(session, kit.actor, model.id, models.ImportParams(source="all-minilm-l6-v2"))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        version = models.get_version(session, kit.actor, done.result["version_id"])
        card = models.get_card(session, kit.actor, version.id)
    assert version.operation == "import" and version.details["dimensions"] == 384 and "tokenizer.json" in version.details["files"]
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    url = _deploy(client, world.a_member, "minilm-api", model.id)
    sentences = ["The weather is lovely today.", "It is sunny and warm outside.", "I lost my passport at the airport."]
    response = client.post(url, json={"instances": sentences}, headers=auth(world.a_member))
    assert response.status_code == 200, response.text
    vectors = np.array([p["embedding"] for p in response.json()["predictions"]])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2  # similar sentences are closer

    with runtime.session() as session:
        job = models.start_compression(session, kit.actor, version.id, models.CompressParams(method="int8-dynamic"))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        quantized = models.get_version(session, kit.actor, done.result["version_id"])
    comparison = quantized.details["comparison"]
    assert quantized.parent_version_id == version.id and comparison["deltas"]["size_ratio"] > 3
    assert comparison["child"]["cosine_to_parent"] > 0.95
