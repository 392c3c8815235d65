"""The torch side shared by every torch recipe: architectures, safetensors weights, ONNX export,
and one supervised training loop with early stopping and exact checkpoint/resume.

Torch models are stored as safetensors weights plus `details["architecture"] = {"name", "config"}`,
so the platform can rebuild the module later (to prune, fine-tune or distil it) without ever
unpickling anything. Architectures register in `architectures` like every other built-in.

Training is deterministic under its seed: one intra-op thread, and a shuffling order and RNG state derived from (seed, epoch) alone. Because nothing carries
from one epoch to the next except the weights, the optimizer's moments and four counters, a
checkpoint of exactly those resumes to the same final weights as an uninterrupted run.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from aicommons.core.errors import Invalid
from aicommons.core.registry import Registry
from aicommons.models.recipes import Checkpoint, Progress

# --- architectures -----------------------------------------------------------------------------


class ConvNet(nn.Module):
    """3×3 same-padding convolutions with ReLU, one 2×2 max-pool, and a linear classifier: enough
    for small grey or colour images such as the 8×8 digits."""

    def __init__(self, in_channels: int, classes: int, channels: list[int], image_size: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            layers += [nn.Conv2d(previous, width, kernel_size=3, padding=1), nn.ReLU()]
            previous = width
        layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        height, width = image_size
        self.classifier = nn.Linear(previous * (height // 2) * (width // 2), classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images).flatten(1))


@dataclass(frozen=True)
class Architecture:
    """A named module family: `config()` fills in its defaults, `build()` makes a fresh module."""

    name: str
    description: str
    default_channels: tuple[int, ...]

    def config(self, *, in_channels: int, classes: int, image_size: list[int], channels: list[int] | None = None) -> dict[str, Any]:
        return {
            "in_channels": int(in_channels), "classes": int(classes),
            "channels": [int(c) for c in (channels or self.default_channels)], "image_size": [int(s) for s in image_size],
        }

    def build(self, config: dict[str, Any]) -> nn.Module:
        checked = _checked_config(self.name, config)
        return ConvNet(checked["in_channels"], checked["classes"], checked["channels"], checked["image_size"])


def _checked_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    missing = sorted({"in_channels", "classes", "channels", "image_size"} - set(config))
    if missing:
        raise Invalid(f"The config of architecture {name!r} lacks {missing}; got {sorted(config)}.")
    channels, image_size = list(config["channels"]), list(config["image_size"])
    if config["in_channels"] not in (1, 3):
        raise Invalid(f"Architecture {name!r} takes 1 (grey) or 3 (RGB) input channels; got {config['in_channels']}.")
    if int(config["classes"]) < 2:
        raise Invalid(f"Architecture {name!r} needs at least 2 classes; got {config['classes']}.")
    if not channels or not all(1 <= int(c) <= 512 for c in channels):
        raise Invalid(f"The 'channels' of architecture {name!r} must be 1 to 512 per layer; got {channels}.")
    if len(image_size) != 2 or not all(2 <= int(s) <= 64 for s in image_size):
        raise Invalid(f"The 'image_size' of architecture {name!r} must be [height, width], each 2 to 64 pixels; got {image_size}.")
    return {"in_channels": int(config["in_channels"]), "classes": int(config["classes"]), "channels": [int(c) for c in channels], "image_size": [int(s) for s in image_size]}


architectures: Registry[Architecture] = Registry("torch architecture")
architectures.add("digits-cnn", Architecture("digits-cnn", "Two convolutions (16, 32 channels), a max-pool and a linear layer: ~10k parameters on 8×8 digits.", (16, 32)))
architectures.add("small-cnn", Architecture("small-cnn", "A narrower student (8, 16 channels): ~4k parameters on 8×8 digits.", (8, 16)))


def build_module(architecture: dict[str, Any], *, seed: int | None = None) -> nn.Module:
    """A fresh module from `{"name", "config"}`; with a seed its initial weights are reproducible
    (the caller's global RNG is left untouched)."""
    blueprint = architectures.get(str(architecture.get("name")))
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return blueprint.build(architecture.get("config", {}))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- weights -------------------------------------------------------------------------------------


def weights_to_bytes(module: nn.Module) -> bytes:
    return _tensors_to_bytes(module.state_dict())


def load_weights(module: nn.Module, data: bytes) -> nn.Module:
    """Safetensors weights into `module` (no pickle involved); a mismatch raises Invalid."""
    try:
        tensors = safetensors.torch.load(data)
    except SafetensorError as error:
        raise Invalid(f"The weights are not a readable safetensors file: {error}") from None
    _load_state(module, tensors)
    return module


def _load_state(module: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = set(module.state_dict())
    if set(tensors) != expected:
        raise Invalid(
            f"The weights do not fit the architecture: missing {sorted(expected - set(tensors))[:5]}, "
            f"unexpected {sorted(set(tensors) - expected)[:5]}."
        )
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise Invalid(f"The weights do not fit the architecture: {error}") from None


def _tensors_to_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    # safetensors refuses views and shared storage; independent contiguous copies are always accepted.
    return safetensors.torch.save({name: t.detach().clone().contiguous() for name, t in tensors.items()})


# --- ONNX ------------------------------------------------------------------------------------------


class _ProbabilitiesAndLabel(nn.Module):
    """The platform's classifier contract on top of a logits module."""

    def __init__(self, logits: nn.Module):
        super().__init__()
        self.logits = logits

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.logits(images)
        return torch.softmax(logits, dim=1), torch.argmax(logits, dim=1)


def onnx_from_weights(architecture: dict[str, Any], weights: bytes, input_name: str = "image") -> bytes:
    """Uploaded safetensors weights of a registered architecture, exported as the hub's ONNX."""
    module = load_weights(build_module(architecture), weights)
    config = architecture.get("config", {})
    example = np.zeros((1, int(config.get("in_channels", 1)), *[int(s) for s in config.get("image_size", [8, 8])]), np.float32)
    return export_onnx(module, example, input_name)


def export_onnx(module: nn.Module, example_input: torch.Tensor | np.ndarray, input_name: str = "image") -> bytes:
    """An ONNX classifier (opset 17, dynamic batch): outputs "probabilities" (float32 [N, C],
    softmaxed) and "label" (int64 [N])."""
    example = torch.as_tensor(np.asarray(example_input, dtype=np.float32))
    wrapped = _ProbabilitiesAndLabel(module)
    was_training = module.training
    module.eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # torch 2.13 warns that the TorchScript exporter is legacy; the dynamo one needs
            # onnxscript, which is not installed, and the legacy one is exact for these small nets.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped, (example,), buffer, input_names=[input_name], output_names=["probabilities", "label"],
                dynamic_axes={input_name: {0: "batch"}, "probabilities": {0: "batch"}, "label": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
    finally:
        module.train(was_training)
    onnx_bytes = buffer.getvalue()
    onnx.checker.check_model(onnx.load_from_string(onnx_bytes))
    return onnx_bytes


# --- training ------------------------------------------------------------------------------------

TrainingLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(logits, labels, row indices of the batch in the training arrays) -> scalar loss. The indices
let a loss look up per-record targets of its own, such as a teacher's soft labels."""


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, labels)


@dataclass
class FitState:
    """What a checkpoint records besides tensors. `epoch` counts completed epochs."""

    epoch: int = 0
    best_accuracy: float = -1.0
    best_epoch: int = 0
    stale_epochs: int = 0


@dataclass(frozen=True)
class FitResult:
    best_epoch: int
    epochs_run: int
    best_accuracy: float
    stopped_early: bool


def _silent(fraction: float, message: str) -> None:
    return None


def _no_checkpoint(checkpoint: Checkpoint) -> None:
    return None


@contextmanager
def deterministic_torch(threads: int = 1) -> Iterator[None]:
    """Fixed intra-op threads for the block and the caller's RNG state kept, both restored after.

    One thread: these nets are too small to gain from more (on a busy two-core machine two
    threads were 10x slower), and a fixed count keeps the floating-point reduction order, hence
    the weights, the same run after run. `torch.use_deterministic_algorithms` is left alone: the
    CPU kernels used here (convolution, linear, max-pool, Adam) are deterministic already, and
    its first call imports torch's compiler stack (2.5 s here).
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(previous_threads)


def fit(
    module: nn.Module,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    patience: int,
    progress: Progress = _silent,
    save_checkpoint: Callable[[Checkpoint], None] = _no_checkpoint,
    resume_from: Checkpoint | None = None,
    loss: TrainingLoss | None = None,
) -> FitResult:
    """Train `module` with Adam, stop once validation accuracy has not improved for `patience`
    epochs, and leave the best epoch's weights in it.

    After every epoch `save_checkpoint` gets the counters and, as safetensors, the current weights
    ("current.*"), the best weights ("best.*") and Adam's moments and step ("optimizer.*"). Adam was
    chosen over SGD because it reaches a good digits model in a few epochs at one learning rate;
    its moments are the only optimizer state, so saving them makes a resumed run take the very
    same steps. Given `resume_from`, training continues at the epoch after the saved one.
    """
    _check_fit_arguments(train, validation, epochs=epochs, lr=lr, batch_size=batch_size, patience=patience)
    x_train, y_train = torch.as_tensor(train[0], dtype=torch.float32), torch.as_tensor(train[1], dtype=torch.int64)
    x_validation, y_validation = torch.as_tensor(validation[0], dtype=torch.float32), torch.as_tensor(validation[1], dtype=torch.int64)
    criterion = loss or cross_entropy
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    state, best = FitState(), _copy_state(module)
    if resume_from is not None:
        state, best = _restore(resume_from, module, optimizer)
    with deterministic_torch():
        for epoch in range(state.epoch + 1, epochs + 1):
            if state.stale_epochs >= patience:
                break
            torch.manual_seed(_epoch_seed(seed, epoch))  # dropout-like randomness, if an architecture has any
            order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(_epoch_seed(seed, epoch)))
            mean_loss = _train_one_epoch(module, optimizer, x_train, y_train, order, batch_size, criterion)
            accuracy = _accuracy(module, x_validation, y_validation)
            if accuracy > state.best_accuracy:
                state.best_accuracy, state.best_epoch, state.stale_epochs = accuracy, epoch, 0
                best = _copy_state(module)
            else:
                state.stale_epochs += 1
            state.epoch = epoch
            save_checkpoint(Checkpoint(state=asdict(state), weights=_checkpoint_weights(module, best, optimizer)))
            progress(epoch / epochs, f"epoch {epoch}/{epochs}: loss {mean_loss:.4f}, validation accuracy {accuracy:.4f}")
    module.load_state_dict(best)
    module.eval()
    return FitResult(best_epoch=state.best_epoch, epochs_run=state.epoch, best_accuracy=state.best_accuracy, stopped_early=state.epoch < epochs)


def _check_fit_arguments(train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray], *, epochs: int, lr: float, batch_size: int, patience: int) -> None:
    if len(train[0]) == 0 or len(train[0]) != len(train[1]):
        raise Invalid(f"Training needs as many labels as images, at least one; got {len(train[0])} images and {len(train[1])} labels.")
    if len(validation[0]) == 0:
        raise Invalid("Early stopping needs validation records; the validation split is empty.")
    if epochs < 0 or batch_size < 1 or patience < 1 or not lr > 0:
        raise Invalid(f"Training needs epochs ≥ 0, batch_size ≥ 1, patience ≥ 1 and lr > 0; got {epochs}, {batch_size}, {patience}, {lr}.")


def _epoch_seed(seed: int, epoch: int) -> int:
    # Derived from (seed, epoch) alone, so a resumed run needs no saved RNG state.
    return (seed * 1_000_003 + epoch) % (2**63)


def _train_one_epoch(
    module: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch_size: int, criterion: TrainingLoss
) -> float:
    module.train()
    total, seen = 0.0, 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        optimizer.zero_grad()
        batch_loss = criterion(module(x[rows]), y[rows], rows)
        batch_loss.backward()
        optimizer.step()
        total += float(batch_loss.detach()) * len(rows)
        seen += len(rows)
    return total / seen


def _accuracy(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    module.eval()
    with torch.no_grad():
        return float((module(x).argmax(dim=1) == y).float().mean())


def _copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def _checkpoint_weights(module: nn.Module, best: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer) -> bytes:
    tensors = {f"current.{name}": t for name, t in module.state_dict().items()}
    tensors.update({f"best.{name}": t for name, t in best.items()})
    for index, slots in optimizer.state_dict()["state"].items():
        tensors.update({f"optimizer.{index}.{slot}": torch.as_tensor(value) for slot, value in slots.items()})
    return _tensors_to_bytes(tensors)


def _restore(checkpoint: Checkpoint, module: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[FitState, dict[str, torch.Tensor]]:
    """The module and optimizer as they were after the checkpointed epoch; the best weights so far."""
    try:
        tensors = safetensors.torch.load(checkpoint.weights)
        state = FitState(**{key: checkpoint.state[key] for key in ("epoch", "best_accuracy", "best_epoch", "stale_epochs")})
    except (SafetensorError, KeyError) as error:  # a checkpoint from another recipe, or a corrupt blob
        raise Invalid(f"The checkpoint cannot be resumed by this training loop: {error!r}") from None
    _load_state(module, _with_prefix(tensors, "current."))
    best = _with_prefix(tensors, "best.")
    saved_slots: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in _with_prefix(tensors, "optimizer.").items():
        index, slot = name.split(".", 1)
        saved_slots.setdefault(int(index), {})[slot] = tensor
    optimizer_state = optimizer.state_dict()
    optimizer_state["state"] = saved_slots
    optimizer.load_state_dict(optimizer_state)
    return state, best


def _with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
