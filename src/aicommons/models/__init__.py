"""Model hub: models, immutable versions (ONNX + source weights) with lineage, cards and aliases."""

from aicommons.models.hub import (
    artefact,
    create_model,
    delete_alias,
    find_model,
    get_card,
    get_model,
    get_version,
    list_models,
    list_versions,
    register_version,
    resolve_deployed_version,
    resolve_version,
    set_alias,
    update_card,
    update_model,
    upload_path,
    upload_version,
)
from aicommons.models.compression import CompressParams, start_compression
from aicommons.models.importing import ImportParams, start_import
from aicommons.models.recipes import list_recipes
from aicommons.models.training import TrainParams, start_training
from aicommons.models.schemas import CardUpdate, ModelCreate, ModelRead, ModelUpdate, ModelVersionRead, Task, VersionMeta

__all__ = [
    "CardUpdate", "ModelCreate", "ModelRead", "ModelUpdate", "ModelVersionRead", "Task", "VersionMeta", "artefact",
    "create_model", "delete_alias", "find_model", "get_card", "get_model", "get_version", "list_models",
    "list_versions", "register_version", "resolve_deployed_version", "resolve_version", "set_alias", "update_card", "update_model",
    "upload_path", "upload_version", "TrainParams", "start_training", "CompressParams", "start_compression",
    "ImportParams", "start_import", "list_recipes",
]
