"""Data service: versioned datasets, import/export, browsing, splits, cleaning, de-identification."""

from aicommons.data.datasets import create_dataset, find_dataset, get_dataset, list_datasets, update_dataset
from aicommons.data.clean import CleanParams, start_clean
from aicommons.data.deidentify import DeidParams, KAnonymity, start_deid
from aicommons.data.imports import ImportOptions
from aicommons.data.operations import (
    export_download,
    import_path,
    import_upload,
    manifest_cache,
    start_export,
    start_import,
    start_split,
)
from aicommons.data.schemas import (
    DatasetCreate,
    DatasetRead,
    DatasetUpdate,
    Modality,
    RecordFilter,
    RecordPage,
    SplitParams,
    VersionDiff,
    VersionRead,
)
from aicommons.data.splits import assign_splits
from aicommons.data.uploads import stage_path, stage_upload
from aicommons.data.versions import (
    diff_versions,
    get_report,
    get_version,
    list_records,
    list_versions,
    read_version_table,
    record_file,
    resolve_version,
)

__all__ = [
    "DatasetCreate", "DatasetRead", "DatasetUpdate", "Modality", "RecordFilter", "RecordPage", "SplitParams",
    "VersionDiff", "VersionRead", "ImportOptions", "create_dataset", "find_dataset", "import_path", "import_upload", "diff_versions", "get_dataset", "get_version", "list_datasets",
    "list_records", "list_versions", "manifest_cache", "record_file", "resolve_version", "stage_path",
    "stage_upload", "start_import", "start_split", "update_dataset", "start_export", "export_download", "CleanParams", "start_clean", "get_report", "DeidParams", "KAnonymity", "start_deid", "assign_splits", "read_version_table",
]
