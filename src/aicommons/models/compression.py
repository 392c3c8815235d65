"""Compression as a job: int8 quantization (dynamic, static), pruning, distillation.

Each writes the parent model's next version with the parent as lineage, and a comparison of
parent and child on the same test split: file size, latency p50/p95 at batch 1 and 32, accuracy,
and the deltas. The test split is `record_splits` under the parent's training seed, so it holds
the records the parent never trained on.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aicommons import data
from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.schemas import JobRead, JobSubmit
from aicommons.models.artifacts import Signature
from aicommons.models.hub import get_version, model_row, version_row
from aicommons.models.preprocessing import Preprocessor
from aicommons.models.recipes import RecipeRun, Trained, record_splits
from aicommons.models.schemas import ModelVersionRead
from aicommons.models.training import register_trained

Method = Literal["int8-dynamic", "int8-static", "prune", "distil"]
NEEDS_TRAINING_DATA = {"int8-static", "prune", "distil"}


class CompressParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Method
    dataset_version_id: str | None = Field(None, max_length=40, description="Calibration, fine-tuning and test data; default: the parent's training data.")
    calibration_records: int = Field(256, ge=8, le=10_000)
    # quantization.OUTLIER_THRESHOLD; not imported here, which would load ONNX Runtime with the API.
    outlier_threshold: float | None = Field(
        6.0, gt=1, le=1000,
        description="int8: MatMul input channels peaking above this many times the median channel (on the calibration "
        "records, or sample sentences for a text model without data) stay in float; null: none do.",
    )
    row_wise_embeddings: bool = Field(True, description="int8: embedding tables get a scale per row instead of one per table.")
    sparsity: float = Field(0.5, gt=0, lt=1)
    fine_tune_epochs: int = Field(5, ge=0, le=200)
    student: str = Field("small-cnn", max_length=60)
    temperature: float = Field(4.0, gt=0, le=50)
    alpha: float = Field(0.7, ge=0, le=1)
    epochs: int = Field(30, ge=1, le=500)
    seed: int | None = Field(None, ge=0, le=2**31, description="Default: the parent's training seed.")


class CompressJobParams(CompressParams):
    version_id: str = Field(max_length=40)


def start_compression(session: Session, actor: Actor, version_id: str, spec: CompressParams) -> JobRead:
    parent = version_row(session, actor, version_id)
    model_row(session, actor, parent.model_id, Action.write)
    dataset_version_id = spec.dataset_version_id or next(iter(parent.dataset_version_ids), None)
    if dataset_version_id is None and spec.method in NEEDS_TRAINING_DATA:
        raise Invalid(f"{spec.method} needs data (calibration or training) and version {version_id!r} records none: pass dataset_version_id.")
    if dataset_version_id:
        data.get_version(session, actor, dataset_version_id)  # readable, or NotFound now
    if any(t["dtype"] == "string" for t in parent.signature.get("inputs", [])) and spec.method == "int8-static":
        raise Invalid("Static int8 quantization calibrates numeric inputs; this model takes text. Use int8-dynamic.")
    if spec.method == "prune" and (parent.source_format != "safetensors" or "architecture" not in parent.details):
        raise Invalid(
            f"Pruning needs a version trained by a torch recipe (safetensors weights and an architecture); version {parent.number} is {parent.source_format}."
        )
    if spec.method == "distil" and parent.preprocessing.get("kind") != "image":
        raise Invalid(f"Distillation trains an image student; version {parent.number} does not take images. Use int8 quantization instead.")
    params = CompressJobParams(version_id=version_id, **{**spec.model_dump(), "dataset_version_id": dataset_version_id})
    return submit_job(session, actor, JobSubmit(type="models.compress", params=params.model_dump(mode="json")))


@job_type("models.compress", params=CompressJobParams)
def run_compression(ctx: JobContext, params: CompressJobParams) -> dict[str, Any]:
    if done := ctx.state.get("result"):
        return done
    blobs = ctx.runtime.blobs
    with ctx.runtime.session() as session:
        parent = get_version(session, ctx.actor, params.version_id)
        table = None
        if params.dataset_version_id:
            table = data.read_version_table(session, data.manifest_cache(ctx.runtime), ctx.actor, params.dataset_version_id)
    seed = params.seed if params.seed is not None else int(parent.parameters.get("seed", 0))
    parent_onnx = blobs.read_bytes(parent.onnx_sha256)
    ctx.log(f"compressing version {parent.number} ({parent.framework}, {len(parent_onnx):,} bytes) with {params.method}")
    ctx.progress(0.05, f"{params.method}: compressing")
    trained = _compress(ctx, params, parent, parent_onnx, table, seed)
    ctx.progress(0.8, "comparing with the parent")
    from aicommons.models.comparison import compare

    inputs, labels = _test_inputs(parent, blobs, table, seed) if table is not None else (_inputs_without_data(parent, blobs), None)
    comparison = compare(parent_onnx, trained.onnx_bytes, inputs, labels)
    ctx.log(f"comparison: {comparison['deltas']}")
    metrics = dict(trained.metrics)
    if comparison["child"].get("accuracy") is not None:
        metrics["accuracy"] = round(float(comparison["child"]["accuracy"]), 4)
    state: dict[str, Any] = {}
    with ctx.step(state) as session:
        version = register_trained(
            session, blobs, ctx.actor, parent.model_id,
            dataclasses.replace(trained, metrics=metrics, details={**trained.details, "comparison": comparison}),
            dataset_version_ids=[params.dataset_version_id] if params.dataset_version_id else [], operation=f"compress.{params.method}",
            parameters=params.model_dump(exclude={"version_id"}, exclude_none=True) | {"seed": seed} | _int8_parameters(params), job_id=ctx.job_id,
            parent_version_id=parent.id,
        )
        state["result"] = {"version_id": version.id, "number": version.number, "metrics": metrics, "comparison": comparison["deltas"]}
    return state["result"]


def _compress(ctx: JobContext, params: CompressJobParams, parent: ModelVersionRead, parent_onnx: bytes, table: pa.Table | None, seed: int) -> Trained:
    blobs = ctx.runtime.blobs
    files = {name: blobs.read_bytes(sha) for name, sha in parent.details.get("files", {}).items()}
    kept = {k: v for k, v in parent.details.items() if k in ("classes", "features", "dimensions", "base_model")}
    if params.method == "int8-dynamic":
        from aicommons.models.quantization import (
            outlier_channels,
            quantize_dynamic_int8,
            quantized_ops,
        )

        calibration = _outlier_calibration(parent, blobs, table, seed, params) if params.outlier_threshold is not None else None
        onnx = quantize_dynamic_int8(
            parent_onnx, calibration=calibration, outlier_threshold=params.outlier_threshold, row_wise_embeddings=params.row_wise_embeddings,
        )
        details = {**kept, "quantized_ops": quantized_ops(onnx), "outlier_channels": outlier_channels(onnx)}
        if calibration is not None:
            details["calibration_records"] = _row_count(calibration)
        return Trained(onnx, None, "onnx", "onnxruntime-int8", {}, details, parent.preprocessing, files)
    assert table is not None
    if params.method == "int8-static":
        from aicommons.models.quantization import (
            outlier_channels,
            quantize_static_int8,
            quantized_ops,
        )

        calibration = _calibration_inputs(parent, blobs, table, seed, params.calibration_records)
        onnx = quantize_static_int8(
            parent_onnx, calibration, outlier_threshold=params.outlier_threshold, row_wise_embeddings=params.row_wise_embeddings,
        )
        details = {
            **kept, "quantized_ops": quantized_ops(onnx), "calibration_records": _row_count(calibration),
            "outlier_channels": outlier_channels(onnx),
        }
        return Trained(onnx, None, "onnx", "onnxruntime-int8", {}, details, parent.preprocessing, files)
    from aicommons.models import torch_compression

    run = RecipeRun(
        table=table, params={}, seed=seed, progress=lambda f, m: ctx.progress(0.05 + 0.7 * f, m), blobs=blobs,
    )
    if params.method == "prune":
        source = blobs.read_bytes(parent.source_sha256) if parent.source_sha256 else None
        torch_parent = torch_compression.TorchParent.from_version(
            parent.details, parent.preprocessing, source, source_format=parent.source_format, version_number=parent.number
        )
        return torch_compression.prune(torch_parent, run, sparsity=params.sparsity, fine_tune_epochs=params.fine_tune_epochs)
    return torch_compression.distill(
        parent_onnx, run, preprocessing=parent.preprocessing, classes=parent.details.get("classes") or [],
        student=params.student, temperature=params.temperature, alpha=params.alpha, epochs=params.epochs,
    )


def _int8_parameters(params: CompressJobParams) -> dict[str, Any]:
    """The int8 options as used, in the lineage even where null (off), which `exclude_none` would drop."""
    if params.method not in ("int8-dynamic", "int8-static"):
        return {}
    return {"outlier_threshold": params.outlier_threshold, "row_wise_embeddings": params.row_wise_embeddings}


def _outlier_calibration(
    parent: ModelVersionRead, blobs: BlobStore, table: pa.Table | None, seed: int, params: CompressJobParams,
) -> dict[str, np.ndarray] | None:
    """Inputs on which dynamic quantization finds outlier channels: calibration records of the data
    when there is data, else the sample sentences for a text model; None for a model taking strings
    (nothing numeric to observe) or a non-text model without data."""
    if any(t["dtype"] == "string" for t in parent.signature.get("inputs", [])):
        return None
    if table is not None:
        return _calibration_inputs(parent, blobs, table, seed, params.calibration_records)
    if parent.preprocessing.get("kind") in ("wordpiece", "segmented-text"):
        return _preprocessor(parent, blobs).from_instances(SAMPLE_SENTENCES)
    return None


def _row_count(inputs: dict[str, np.ndarray]) -> int:
    return len(next(iter(inputs.values()))) if inputs else 0


def _split_rows(table: pa.Table, seed: int, name: str) -> pa.Table:
    splits = record_splits(table, seed)
    return table.filter(pa.array([s == name for s in splits]))


def _test_inputs(parent: ModelVersionRead, blobs: BlobStore, table: pa.Table, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    test = _split_rows(table, seed, "test")
    preprocessor = _preprocessor(parent, blobs)
    inputs = preprocessor.from_table(test, blobs)
    classes = parent.details.get("classes")
    labels = test["label"].to_pylist()
    if not classes or any(label not in classes for label in labels):
        return inputs, None
    return inputs, np.array([classes.index(label) for label in labels])


def _calibration_inputs(parent: ModelVersionRead, blobs: BlobStore, table: pa.Table, seed: int, limit: int) -> dict[str, np.ndarray]:
    train = _split_rows(table, seed, "train")
    sample = np.random.default_rng(seed).permutation(train.num_rows)[:limit]
    return _preprocessor(parent, blobs).from_table(train.take(pa.array(np.sort(sample))), blobs)


def _preprocessor(parent: ModelVersionRead, blobs: BlobStore) -> Preprocessor:
    files = {name: blobs.read_bytes(sha) for name, sha in parent.details.get("files", {}).items()}
    return Preprocessor(parent.preprocessing, Signature.from_dict(parent.signature), files)


# Without a dataset, text models are compared on these: short and long, Chinese and English.
SAMPLE_SENTENCES = [
    "这家店的服务很周到，菜也很好吃。", "物流太慢了，等了一个星期才到。", "质量一般，不推荐购买。", "非常满意，下次还会再来！",
    "The weather is lovely today.", "I lost my passport at the airport and missed the flight.",
    "Traffic lights adapt to the queue at each approach.", "Quantization trades a little accuracy for speed.",
    "杭州城市大脑根据实时车流调整信号灯配时，高峰时段通行效率明显提升。",
    "The model card lists the intended use, the limitations and the metrics on the test split.",
] * 4


def _inputs_without_data(parent: ModelVersionRead, blobs: BlobStore) -> dict[str, np.ndarray]:
    """Inputs to time and compare on when no dataset is given: sample sentences for text models,
    otherwise 64 rows of ones in the signature's shape."""
    if parent.preprocessing.get("kind") in ("wordpiece", "segmented-text"):
        return _preprocessor(parent, blobs).from_instances(SAMPLE_SENTENCES)
    inputs = {}
    for spec in parent.signature.get("inputs", []):
        shape = [64 if not isinstance(d, int) or d <= 0 else d for d in (spec["shape"] or [None])]
        shape[0] = 64
        if spec["dtype"] == "string":
            raise Invalid("Comparing a text model needs data: pass dataset_version_id.")
        inputs[spec["name"]] = np.ones(shape, dtype=spec["dtype"])
    return inputs
