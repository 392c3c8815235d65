"""Compression of torch-trained image classifiers: magnitude pruning with fine-tuning, and
knowledge distillation from any ONNX classifier into a smaller torch student.

Pruning needs the parent's torch source (safetensors weights and a registered architecture) to
rebuild and fine-tune the module; distillation needs only the teacher's ONNX graph, so a teacher
may come from any framework as long as it takes the same image tensor.

Unstructured pruning zeroes individual weights. The dense ONNX graph still multiplies by those
zeros, so it is no faster; what shrinks is the compressed file (zeros compress well). The
details of a pruned version say so and give both compressed sizes.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from aicommons.core.errors import Invalid
from aicommons.models import torchnets
from aicommons.models.recipes import (
    RecipeRun,
    Trained,
    classification_metrics,
    record_splits,
)
from aicommons.models.vision import (
    torch_image_result,
    ImageSplits,
    LoopSettings,
    by_split,
    fit_images,
    image_arrays,
    label_indices,
    onnx_classify,
)

SPARSITY_NOTE = (
    "Unstructured sparsity: individual weights are zero, so the compressed (zip) file shrinks, "
    "but the dense ONNX graph computes with the zeros and runs no faster."
)


@dataclass(frozen=True)
class TorchParent:
    """A version trained by a torch recipe, enough to rebuild its module."""

    architecture: str
    config: dict[str, Any]
    weights: bytes
    preprocessing: dict[str, Any]
    classes: list[str]

    @classmethod
    def from_version(
        cls,
        details: dict[str, Any],
        preprocessing: dict[str, Any],
        source_bytes: bytes | None,
        *,
        source_format: str | None = None,
        version_number: int | None = None,
        purpose: str = "Pruning",
    ) -> TorchParent:
        """Raises Invalid, naming the version and what it is, when it has no torch source."""
        architecture = details.get("architecture") or {}
        has_torch_source = (
            source_bytes is not None and source_format in (None, "safetensors")
            and isinstance(architecture, dict) and architecture.get("name") in torchnets.architectures
        )
        if not has_torch_source:
            which = f"version {version_number}" if version_number is not None else "this version"
            what = source_format or ("without source weights" if source_bytes is None else "without a torch architecture")
            raise Invalid(f"{purpose} needs a version trained by a torch recipe (safetensors weights and an architecture); {which} is {what}.")
        if preprocessing.get("kind") != "image":
            raise Invalid(f"{purpose} works on image classifiers; this version's preprocessing is {preprocessing.get('kind')!r}.")
        classes = details.get("classes")
        if not classes:
            raise Invalid(f"{purpose} needs the version's class names (details['classes']); it has none.")
        return cls(architecture["name"], dict(architecture.get("config", {})), source_bytes, dict(preprocessing), list(classes))

    def module(self) -> nn.Module:
        module = torchnets.build_module({"name": self.architecture, "config": self.config})
        return torchnets.load_weights(module, self.weights)


def images_for(run: RecipeRun, preprocessing: dict[str, Any], classes: list[str]) -> ImageSplits:
    """The run's images prepared exactly as the parent model expects, split as the recipes split."""
    if preprocessing.get("kind") != "image":
        raise Invalid(f"This compression works on image classifiers; the preprocessing kind is {preprocessing.get('kind')!r}.")
    _, codes = label_indices(run.table, classes)
    x = image_arrays(run.table, run.blobs, preprocessing)
    return by_split(x, codes, record_splits(run.table, run.seed), classes)


# --- pruning -------------------------------------------------------------------------------------


def prune(parent: TorchParent, run: RecipeRun, *, sparsity: float = 0.5, fine_tune_epochs: int = 5) -> Trained:
    """Global L1 magnitude pruning of every conv and linear weight to `sparsity`, fine-tuned with
    the masks in place (pruned weights stay zero), then made permanent and exported."""
    if not 0.0 < sparsity < 1.0:
        raise Invalid(f"The 'sparsity' parameter must be between 0 and 1 (the fraction of weights set to zero); got {sparsity!r} instead.")
    if fine_tune_epochs < 0:
        raise Invalid(f"The 'fine_tune_epochs' parameter must be 0 or more; got {fine_tune_epochs!r} instead.")
    data = images_for(run, parent.preprocessing, parent.classes)
    module = parent.module()
    parent_accuracy = _torch_accuracy(module, data)
    pruned = _prunable_weights(module)
    torch_prune.global_unstructured(pruned, pruning_method=torch_prune.L1Unstructured, amount=sparsity)
    accuracy_before_fine_tune = _torch_accuracy(module, data)
    # The explicit arguments win over run.params; lr, batch_size and patience come from the params.
    settings = LoopSettings.of({**run.params, "epochs": fine_tune_epochs}, epochs=fine_tune_epochs, lr=0.002, patience=max(fine_tune_epochs, 1))
    result = fit_images(module, data, run, settings)
    for layer, name in pruned:
        torch_prune.remove(layer, name)
    input_name = parent.preprocessing.get("input", "image")
    parent_onnx = torchnets.export_onnx(parent.module(), data.x["train"][:1], input_name=input_name)
    pruned_result = torch_image_result(
        module, data, input_name, preprocessing=parent.preprocessing,
        details={
            "classes": parent.classes, "architecture": {"name": parent.architecture, "config": parent.config},
            "parameters": torchnets.parameter_count(module), "nonzero_parameters": int(sum(int((p != 0).sum()) for p in module.parameters())),
            "target_sparsity": sparsity,
            "sparsity": round(measured_sparsity(module), 4), "fine_tune_epochs": fine_tune_epochs,
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "parent_test_accuracy": parent_accuracy, "test_accuracy_before_fine_tune": accuracy_before_fine_tune,
            "parent_compressed_onnx_bytes": len(zlib.compress(parent_onnx, 9)), "note": SPARSITY_NOTE,
        },
    )
    # Zeroed weights show in the compressed file, not in the dense ONNX: record both sizes.
    compressed = len(zlib.compress(pruned_result.onnx_bytes, 9))
    return dataclasses.replace(pruned_result, details={**pruned_result.details, "compressed_onnx_bytes": compressed})


def _prunable_weights(module: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(layer, "weight") for layer in module.modules() if isinstance(layer, nn.Conv2d | nn.Linear)]


def measured_sparsity(module: nn.Module) -> float:
    """The fraction of conv and linear weights that are exactly zero."""
    weights = [getattr(layer, name) for layer, name in _prunable_weights(module)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


def _torch_accuracy(module: nn.Module, data: ImageSplits) -> float:
    module.eval()
    with torch.no_grad():
        predicted = module(torch.as_tensor(data.x["test"])).argmax(dim=1).numpy()
    return classification_metrics(data.y["test"], predicted)["accuracy"]


# --- distillation --------------------------------------------------------------------------------


def distill(
    teacher_onnx: bytes,
    run: RecipeRun,
    *,
    preprocessing: dict[str, Any],
    classes: list[str],
    student: str = "small-cnn",
    student_config: dict[str, Any] | None = None,
    temperature: float = 4.0,
    alpha: float = 0.7,
    epochs: int = 30,
) -> Trained:
    """Train a `student` architecture on the run's images against the teacher's softened
    probabilities (KL at `temperature`, scaled by T²) mixed with the true labels' cross-entropy:
    loss = alpha·KL·T² + (1 − alpha)·CE.

    `preprocessing` and `classes` are the teacher version's: they say how images become the
    teacher's input tensor and which class each output column is.
    """
    if not temperature > 0:
        raise Invalid(f"The 'temperature' parameter must be above 0; got {temperature!r} instead.")
    if not 0.0 <= alpha <= 1.0:
        raise Invalid(f"The 'alpha' parameter must be from 0 (labels only) to 1 (teacher only); got {alpha!r} instead.")
    data = images_for(run, preprocessing, classes)
    input_name = preprocessing.get("input", "image")
    teacher_probabilities, _ = onnx_classify(teacher_onnx, data.x["train"], input_name)
    if teacher_probabilities.shape[1] != len(classes):
        raise Invalid(f"The teacher outputs {teacher_probabilities.shape[1]} probabilities per image but has {len(classes)} classes.")
    config = torchnets.architectures.get(student).config(
        in_channels=data.x["train"].shape[1], classes=len(classes), image_size=list(preprocessing["size"]),
        channels=(student_config or {}).get("channels"),
    )
    config.update(student_config or {})
    architecture = {"name": student, "config": config}
    module = torchnets.build_module(architecture, seed=run.seed)
    settings = LoopSettings.of({**run.params, "epochs": epochs}, epochs=epochs, lr=0.01, patience=5)
    result = fit_images(module, data, run, settings, loss=distillation_loss(teacher_probabilities, temperature=temperature, alpha=alpha))
    _, teacher_test_labels = onnx_classify(teacher_onnx, data.x["test"], input_name)
    return torch_image_result(
        module, data, input_name, preprocessing=preprocessing,
        details={
            "classes": list(classes), "architecture": architecture, "parameters": torchnets.parameter_count(module),
            "student": {"name": student, "parameters": torchnets.parameter_count(module)},
            "teacher_parameters": onnx_parameter_count(teacher_onnx),
            "teacher_test_accuracy": classification_metrics(data.y["test"], teacher_test_labels)["accuracy"],
            "temperature": temperature, "alpha": alpha, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        },
    )


def distillation_loss(teacher_probabilities: np.ndarray, *, temperature: float, alpha: float) -> torchnets.TrainingLoss:
    """Hinton et al.'s loss against precomputed teacher outputs. The teacher gives probabilities,
    not logits; their logarithms are logits up to a per-row constant, which softmax ignores."""
    teacher_logits = torch.log(torch.as_tensor(teacher_probabilities, dtype=torch.float32).clamp_min(1e-8))
    soft_targets = torch.softmax(teacher_logits / temperature, dim=1)

    def loss(logits: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        student_log_soft = torch.log_softmax(logits / temperature, dim=1)
        kl = nn.functional.kl_div(student_log_soft, soft_targets[rows], reduction="batchmean") * temperature**2
        return alpha * kl + (1 - alpha) * nn.functional.cross_entropy(logits, labels)

    return loss


def onnx_parameter_count(onnx_bytes: bytes) -> int:
    """Learned numbers in an ONNX graph of any framework: its float initializers (torch, most
    converters) plus float lists and tensors held in node attributes (skl2onnx's linear models
    keep their coefficients there)."""
    graph = onnx.load_from_string(onnx_bytes).graph
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
    count = sum(int(np.prod(t.dims)) for t in graph.initializer if t.data_type in floats)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.FLOATS:
                count += len(attribute.floats)
            elif attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type in floats:
                count += int(np.prod(attribute.t.dims))
    return count
