"""The MiniLM sentence encoder: what sentence-transformers computes, exported to ONNX with dynamic
batch and length, its wordpiece inputs, and its import into the hub's Trained form."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
import torch

from aicommons.core.errors import Invalid
from aicommons.models import encoders

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only

SENTENCES = [
    "The weather is lovely today.",
    "A man is playing a guitar on the street while a small crowd listens and claps along.",
    "这个手机质量很好，非常满意",
    "物流太慢了，差评，再也不会在这家店买东西了",
    "ok",
]


@pytest.fixture(scope="module")
def encoder():
    return encoders.load_encoder()


@pytest.fixture(scope="module")
def imported():
    return encoders.import_minilm()


@pytest.fixture(scope="module")
def session(imported):
    return encoders.cpu_session(imported.onnx_bytes)


def _torch_embeddings(encoder, texts):
    inputs = encoders.wordpiece_inputs(encoders.minilm_tokenizer_json(), texts)
    with torch.no_grad():
        return encoder(*(torch.from_numpy(inputs[name]) for name in encoders.WORDPIECE_INPUTS)).numpy()


def _onnx_embeddings(session, texts):
    inputs = encoders.wordpiece_inputs(encoders.minilm_tokenizer_json(), texts)
    return session.run(["embedding"], inputs)[0]


def test_the_encoder_computes_what_sentence_transformers_computes(encoder):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(encoders.minilm_folder()), device="cpu").encode(SENTENCES, convert_to_numpy=True)
    ours = _torch_embeddings(encoder, SENTENCES)
    assert ours.shape == (len(SENTENCES), encoders.DIMENSIONS)
    cosine = np.sum(ours * reference, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() >= 0.9999, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_onnx_export_has_the_encoder_signature_and_dynamic_batch_and_length(imported, session, encoder):
    model = onnx.load_from_string(imported.onnx_bytes)
    onnx.checker.check_model(model)
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == ["input_ids", "attention_mask", "token_type_ids"]
    for tensor in inputs.values():
        assert tensor.elem_type == onnx.TensorProto.INT64
        assert [d.dim_param for d in tensor.shape.dim] == ["batch", "sequence"]
    (output,) = model.graph.output
    assert output.name == "embedding" and output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert output.type.tensor_type.shape.dim[0].dim_param == "batch" and output.type.tensor_type.shape.dim[1].dim_value == 384
    # Other batch sizes and lengths than the export's example, padded and unpadded.
    for texts in (["ok"], SENTENCES, SENTENCES[1:2] * 3 + ["短"]):
        exported, reference = _onnx_embeddings(session, texts), _torch_embeddings(encoder, texts)
        assert exported.shape == (len(texts), 384)
        assert np.min(np.sum(exported * reference, axis=1)) >= 0.99999
        assert np.allclose(exported, reference, atol=1e-5)


def test_padding_does_not_change_a_sentence_embedding(session):
    alone = _onnx_embeddings(session, ["ok"])[0]
    padded = _onnx_embeddings(session, ["ok", SENTENCES[1]])[0]
    assert np.allclose(alone, padded, atol=1e-5)


def test_wordpiece_inputs_pad_to_the_longest_and_truncate_at_max_length():
    tokenizer = encoders.minilm_tokenizer_json()
    inputs = encoders.wordpiece_inputs(tokenizer, ["ok", "hello world, this is longer"])
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(a.dtype == np.int64 and a.shape == inputs["input_ids"].shape for a in inputs.values())
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    assert ids[0, 0] == 101 and ids[0, 2] == 102  # [CLS] ok [SEP]
    assert mask[0].tolist() == [1, 1, 1] + [0] * (ids.shape[1] - 3) and ids[0, 3:].tolist() == [0] * (ids.shape[1] - 3)
    assert mask[1].all() and not inputs["token_type_ids"].any()
    truncated = encoders.wordpiece_inputs(tokenizer, ["word " * 500], max_length=16)
    assert truncated["input_ids"].shape == (1, 16) and truncated["input_ids"][0, -1] == 102
    with pytest.raises(Invalid, match="at least one text"):
        encoders.wordpiece_inputs(tokenizer, [])
    with pytest.raises(Invalid, match="'max_length'"):
        encoders.wordpiece_inputs(tokenizer, ["x"], max_length=100_000)
    with pytest.raises(Invalid, match="not a tokenizers JSON"):
        encoders.wordpiece_inputs(b"{not json", ["x"])


def test_import_minilm_is_a_feature_extraction_version_with_its_tokenizer(imported):
    folder = encoders.minilm_folder()
    assert imported.source_bytes == (folder / "model.safetensors").read_bytes()
    assert imported.source_format == "safetensors" and imported.framework == "pytorch" and imported.metrics == {}
    assert imported.details["architecture"]["name"] == "minilm-l6-encoder"
    assert imported.details["architecture"]["config"]["hidden_size"] == 384
    assert imported.details["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert imported.details["dimensions"] == 384 and 22_000_000 < imported.details["parameters"] < 23_000_000
    assert imported.details["export_min_cosine_to_torch"] >= 0.99999
    assert imported.preprocessing == {
        "kind": "wordpiece", "tokenizer": "tokenizer.json", "max_length": 128,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
    }
    assert imported.files == {"tokenizer.json": (folder / "tokenizer.json").read_bytes()}


def test_the_architecture_rebuilds_from_details_and_source_bytes(imported, encoder):
    rebuilt = encoders.load_encoder_weights(encoders.build_encoder(imported.details["architecture"]["config"]), imported.source_bytes)
    assert np.allclose(_torch_embeddings(rebuilt, SENTENCES[:2]), _torch_embeddings(encoder, SENTENCES[:2]), atol=1e-6)


def test_wrong_weights_or_config_are_refused():
    import safetensors.torch

    config = encoders.minilm_config()
    with pytest.raises(Invalid, match="lacks"):
        encoders.build_encoder({"hidden_size": 384})
    small = encoders.build_encoder({**config, "num_hidden_layers": 1})
    with pytest.raises(Invalid, match="do not fit 'minilm-l6-encoder'"):
        encoders.load_encoder_weights(small, (encoders.minilm_folder() / "model.safetensors").read_bytes())
    with pytest.raises(Invalid, match="does not describe a BERT"):
        encoders.build_encoder({**config, "num_attention_heads": 7})
    narrow = encoders.build_encoder({**config, "intermediate_size": 8})
    with pytest.raises(Invalid, match=r"do not fit 'minilm-l6-encoder': 18 tensors have other shapes"):
        encoders.load_encoder_weights(narrow, (encoders.minilm_folder() / "model.safetensors").read_bytes())
    with pytest.raises(Invalid, match="not a readable safetensors"):
        encoders.load_encoder_weights(small, b"garbage")
    with pytest.raises(Invalid, match="missing"):
        encoders.load_encoder_weights(small, safetensors.torch.save({"x": torch.zeros(1)}))


def test_dynamic_int8_keeps_minilm_within_cosine_0_99_with_its_outlier_channels_in_float(imported):
    """all-MiniLM-L6-v2 has a few activation channels 15-30 times the median one (LayerNorm and GELU
    outputs); found on calibration sentences and kept in float, dynamic int8 keeps the embeddings
    at a cosine of at least 0.99 to FP32, where the plain quantizer stays below it."""
    from aicommons.models.comparison import compare
    from aicommons.models.quantization import (
        outlier_channels,
        quantize_dynamic_int8,
        quantized_ops,
    )

    calibration = encoders.wordpiece_inputs(encoders.minilm_tokenizer_json(), [
        "Quantization trades a little accuracy for speed.", "杭州城市大脑根据实时车流调整信号灯配时。", "The model card lists the metrics.",
        "这家店的服务很周到，菜也很好吃。", "I lost my passport at the airport and missed the flight.", "质量一般，不推荐购买。",
    ] * 2)
    test = encoders.wordpiece_inputs(encoders.minilm_tokenizer_json(), SENTENCES * 4)
    split = quantize_dynamic_int8(imported.onnx_bytes, calibration=calibration)
    plain = quantize_dynamic_int8(imported.onnx_bytes, row_wise_embeddings=False)
    assert 10 <= outlier_channels(split) <= 150 and outlier_channels(plain) == 0  # of 16,128 MatMul input channels
    assert quantized_ops(split) == quantized_ops(plain) == {"Gather": 3, "MatMulInteger": 36}
    split_report = compare(imported.onnx_bytes, split, test, None, batch_sizes=(8,), repeats=2)
    plain_report = compare(imported.onnx_bytes, plain, test, None, batch_sizes=(8,), repeats=2)
    assert split_report["child"]["cosine_to_parent"] >= 0.99 > plain_report["child"]["cosine_to_parent"]
    assert split_report["deltas"]["size_ratio"] > 3.8
