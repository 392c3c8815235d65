"""Helpers for data-service tests: datasets, uploads and running their jobs in this process."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from aicommons import data
from aicommons.core import jobs
from aicommons.core.jobs.worker import WorkerLoop


class DataKit:
    def __init__(self, runtime, actor):
        self.runtime = runtime
        self.actor = actor
        self.worker = WorkerLoop(runtime, "data-test-worker")

    def dataset(self, name="reviews", modality="text", **extra):
        with self.runtime.session() as session:
            return data.create_dataset(session, self.actor, data.DatasetCreate(name=name, modality=modality, **extra))

    def upload(self, dataset_id, filename, payload: bytes, **options):
        with self.runtime.session() as session:
            return data.import_upload(
                session, self.runtime.blobs, self.actor, dataset_id, io.BytesIO(payload), filename, data.ImportOptions(**options)
            )

    def run(self, job):
        """Run queued jobs here; return the job as it ended."""
        while self.worker.run_one():
            pass
        with self.runtime.session() as session:
            return jobs.get_job(session, self.actor, job.id)

    def imported(self, dataset_id, filename, payload, **options):
        job = self.run(self.upload(dataset_id, filename, payload, **options))
        assert job.status == "succeeded", job.error
        return self.version(job.result["version_id"])

    def version(self, version_id):
        with self.runtime.session() as session:
            return data.get_version(session, self.actor, version_id)

    def records(self, version_id, **kwargs):
        with self.runtime.session() as session:
            return data.list_records(session, data.manifest_cache(self.runtime), self.actor, version_id, **kwargs)


def png(color=(200, 30, 30), size=(16, 12)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


REVIEWS_CSV = (
    "text,label\n"
    "这本书写得很好，值得一读,positive\n"
    "物流太慢了，包装也破了,negative\n"
    "Great value for the price,positive\n"
    "质量一般，不推荐,negative\n"
    "非常满意，还会再买,positive\n"
    "Terrible customer service,negative\n"
).encode()


def cancer_csv() -> bytes:
    """scikit-learn's breast-cancer records as CSV: 30 numeric features f0…f29 and a label."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    lines = [",".join([f"f{i}" for i in range(30)] + ["label"])]
    lines += [",".join(f"{v:.6g}" for v in row) + f",{bunch.target_names[t]}" for row, t in zip(bunch.data, bunch.target, strict=True)]
    return "\n".join(lines).encode()

