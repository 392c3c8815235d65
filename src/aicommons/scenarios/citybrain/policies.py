"""A learned policy from the model hub as the controller of a City Brain run.

A run names the policy as params {"model": "<model id or name>@<version number or alias>"} (no
"@…" means the latest version). `resolve_learned_params` resolves that reference when the run is
started, with the starting actor's permission (a model they cannot read is not found), checks that
the version is a signal-control model whose ONNX the learned controller can run, and returns the
params the run stores: the reference as given plus the resolved model id, version id and number and
the ONNX digest — so the run names exactly what it simulated even after an alias moves. The job
then copies that ONNX blob into its scratch folder (`controller_arguments`); the controller never
reads the hub or the database itself, and a run's params can never point it at a server file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.core.permissions import Actor
from aicommons.models.hub import find_model, resolve_version
from aicommons.models.schemas import Task
from aicommons.scenarios.citybrain.learning import LearnedController

LEARNED = "learned"
POLICY_NAME = "policy.onnx"


def resolve_learned_params(session: Session, blobs: BlobStore, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """The stored params of a run of the learned controller: its hub model resolved now; Invalid or NotFound if it cannot be."""
    reference = params.get("model")
    if set(params) != {"model"} or not isinstance(reference, str) or not reference.strip():
        raise Invalid(
            'A run of controller \'learned\' takes params {"model": "<model id or name>@<version number or alias>"}; '
            f"got {sorted(params)} instead."
        )
    model_ref, _, version_ref = reference.strip().partition("@")
    model = find_model(session, actor, model_ref.strip())
    if model.task != Task.signal_control:
        raise Invalid(f"Model {model.name!r} is a {model.task.value} model; controller 'learned' needs a signal-control model.")
    version = resolve_version(session, actor, model.id, version_ref.strip() or None)
    LearnedController(onnx_bytes=blobs.read_bytes(version.onnx_sha256))  # its ONNX must fit the controller, checked now
    return {"model": reference, "model_id": model.id, "version_id": version.id, "version": version.number, "onnx_sha256": version.onnx_sha256}


def controller_arguments(blobs: BlobStore, controller: str, params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The controller's keyword arguments inside the job: a learned policy's ONNX copied into `folder`."""
    if controller != LEARNED:
        return dict(params)
    path = Path(folder) / POLICY_NAME
    blobs.copy_to(params["onnx_sha256"], path)
    return {"onnx_path": str(path)}
