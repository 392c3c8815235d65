"""Evaluation: wall time of the default suite on the demo's digits CNN and sentiment model, per
test, and our accuracy and fairness figures against fairlearn's `MetricFrame` on the same predictions.

The models are trained through the platform exactly as `aicommons demo` trains them (same data,
same recipes, same seeds). Fairness is audited on real data with sensitive attributes: a tabular
model trained on UCI Adult (read from ../shared/data/fairness/) audited by sex, and ProPublica's
COMPAS decile scores audited by race as a model's outputs. Peer figures are fairlearn's
`MetricFrame` (and `demographic_parity_difference` / `equalized_odds_difference`) computed directly
on the predictions our run made; goal: equal to within 1e-9. COMPAS is audited with
`min_group_size=1` (every race its own group), as fairlearn sees the raw groups.

The wall-time peer is the bare minimum an evaluation must do: the same model's ONNX predictions
on the same test split and scikit-learn's accuracy on them. The ratio says what the five test
categories cost over a plain accuracy pass.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference, selection_rate
from rich.console import Console
from rich.table import Table
from sklearn.metrics import accuracy_score

sys.path.insert(0, str(Path(__file__).parent))
from reporting import Figure, arguments, report  # noqa: E402

from aicommons import data, evaluation, models  # noqa: E402
from aicommons.core.config import Settings  # noqa: E402
from aicommons.core.home import init_home  # noqa: E402
from aicommons.core.jobs.worker import WorkerLoop  # noqa: E402
from aicommons.core.runtime import Runtime  # noqa: E402
from aicommons.demo import Walkthrough  # noqa: E402
from aicommons.evaluation.builtin.fairness import threshold_scores_model  # noqa: E402
from aicommons.evaluation.runs import build_subject  # noqa: E402

FAIRNESS_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fairness"
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship", "race", "sex",
    "capital-gain", "capital-loss", "hours-per-week", "native-country", "label",
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_jobs(runtime: Runtime) -> None:
    worker = WorkerLoop(runtime, "bench-evaluation")
    while worker.run_one():
        pass


def evaluate(runtime: Runtime, actor, version_id: str, **spec) -> evaluation.EvaluationRead:
    with runtime.session() as session:
        run = evaluation.start_evaluation(session, actor, evaluation.EvaluationCreate(version_id=version_id, **spec))
    started = time.perf_counter()
    run_jobs(runtime)
    elapsed = time.perf_counter() - started
    with runtime.session() as session:
        run = evaluation.get_evaluation(session, actor, run.id)
    assert run.status == "succeeded", run.message
    run.reproducibility["wall_s"] = elapsed
    return run


def subject_of(runtime: Runtime, actor, version_id: str, dataset_version_id: str):
    with runtime.session() as session:
        version = models.get_version(session, actor, version_id)
        table = data.read_version_table(session, data.manifest_cache(runtime), actor, dataset_version_id)
    return build_subject(runtime.blobs, version, "", table, dataset_version_id=dataset_version_id)


def bare_accuracy_seconds(runtime: Runtime, actor, version_id: str, dataset_version_id: str) -> tuple[float, float]:
    """The peer: ONNX predictions on the test split and scikit-learn's accuracy, nothing else."""
    started = time.perf_counter()
    subject = subject_of(runtime, actor, version_id, dataset_version_id)
    predicted = subject.predict(subject.evaluation.raw)
    accuracy = accuracy_score(subject.evaluation.labels, predicted)
    return time.perf_counter() - started, float(accuracy)


def fairlearn_figures(runtime: Runtime, actor, run: evaluation.EvaluationRead, dataset_version_id: str, attribute: str, positive: str) -> dict[str, float]:
    subject = subject_of(runtime, actor, run.version_id, dataset_version_id)
    positive_index = subject.classes.index(positive)
    y_true = (subject.evaluation.labels == positive_index).astype(int)
    y_pred = (subject.predict(subject.evaluation.raw) == positive_index).astype(int)
    groups = np.asarray(subject.evaluation.records[attribute].to_pylist(), dtype=object)
    frame = MetricFrame(metrics={"accuracy": accuracy_score, "selection_rate": selection_rate}, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    return {
        "accuracy": float(accuracy_score(subject.evaluation.labels, subject.predict(subject.evaluation.raw))),
        "demographic_parity_difference": float(demographic_parity_difference(y_true, y_pred, sensitive_features=groups)),
        "equalized_odds_difference": float(equalized_odds_difference(y_true, y_pred, sensitive_features=groups)),
        "accuracy_difference": float(frame.difference()["accuracy"]),
    }


def import_csv(runtime: Runtime, actor, name: str, text: str) -> str:
    with runtime.session() as session:
        dataset = data.create_dataset(session, actor, data.DatasetCreate(name=name, modality="tabular"))
        job = data.import_upload(session, runtime.blobs, actor, dataset.id, io.BytesIO(text.encode()), f"{name}.csv", data.ImportOptions())
    run_jobs(runtime)
    with runtime.session() as session:
        from aicommons.core.jobs import get_job

        return get_job(session, actor, job.id).result["version_id"]


def train(runtime: Runtime, actor, name: str, dataset_version_id: str, recipe: str) -> str:
    with runtime.session() as session:
        model = models.create_model(session, actor, models.ModelCreate(name=name, task="tabular-classification"))
        job = models.start_training(session, actor, model.id, models.TrainParams(dataset_version_id=dataset_version_id, recipe=recipe, seed=0))
    run_jobs(runtime)
    with runtime.session() as session:
        from aicommons.core.jobs import get_job

        return get_job(session, actor, job.id).result["version_id"]


def adult_csv() -> str:
    lines = [",".join(ADULT_COLUMNS)]
    for line in (FAIRNESS_DATA / "adult.data").read_text().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) == len(ADULT_COLUMNS) and "?" not in cells:
            lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def compas_model(runtime: Runtime, actor) -> tuple[str, str]:
    """COMPAS decile scores as a hub model's outputs: score ≥ 5 ("medium" or "high") is the positive prediction."""
    rows = (FAIRNESS_DATA / "compas-two-years-reduced.csv").read_text().splitlines()
    header = rows[0].split(",")
    keep = [header.index(c) for c in ("decile_score", "race", "sex", "two_year_recid")]
    text = "decile_score,race,sex,label\n" + "\n".join(
        ",".join([r[keep[0]], r[keep[1]], r[keep[2]], "recid" if r[keep[3]] == "1" else "no-recid"]) for r in (line.split(",") for line in rows[1:])
    ) + "\n"
    dataset_version_id = import_csv(runtime, actor, "compas", text)
    with runtime.session() as session:
        model = models.create_model(session, actor, models.ModelCreate(name="compas-decile", task="tabular-classification"))
        version = models.upload_version(
            session, runtime.blobs, actor, model.id, io.BytesIO(threshold_scores_model("decile_score", 5.0, 10.0)), "compas.onnx",
            models.VersionMeta(
                classes=["no-recid", "recid"], dataset_version_ids=[dataset_version_id],
                preprocessing={"kind": "tabular", "input": "features", "features": ["decile_score"]},
            ),
        )
    return version.id, dataset_version_id


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0]).parse_args()
    figures: list[Figure] = []
    breakdown = Table(title="Default suite, seconds per test", title_justify="left")
    for column in ("model", "test", "status", "seconds", "headline"):
        breakdown.add_column(column)
    with tempfile.TemporaryDirectory(prefix="aicommons-bench-eval-") as folder:
        settings = Settings(home=Path(folder) / "home", workers=0)
        init_home(settings)
        runtime = Runtime.from_settings(settings)
        walk = Walkthrough(runtime, progress=lambda key, fraction, message: None)
        log("training the demo's models through the platform (datasets → clean → train)")
        walk.run(stop_after="train")
        actor = walk.applicant
        for name, dataset_key in (("demo-digits-cnn", "digits_version"), ("demo-sentiment", "reviews_clean_version")):
            log(f"{name}: default suite")
            run = evaluate(runtime, actor, walk.facts[name])
            peer_s, peer_accuracy = bare_accuracy_seconds(runtime, actor, walk.facts[name], walk.facts[dataset_key])
            figures.append(Figure(f"{name}: default suite wall time", "s", run.reproducibility["wall_s"], peer_s, "<= 60", higher_is_better=False))
            figures.append(Figure(f"{name}: accuracy vs scikit-learn on the same predictions", "", run.result("accuracy").metrics["accuracy"], peer_accuracy, "= peer"))
            for result in run.results:
                headline = ", ".join(f"{k}={v:.4g}" for k, v in result.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
                breakdown.add_row(name, result.name, result.status, f"{result.seconds:.2f}", headline[:90])
        if (FAIRNESS_DATA / "adult.data").exists():
            log("UCI Adult: import, train tabular-lightgbm, audit by sex")
            adult_version = import_csv(runtime, actor, "adult", adult_csv())
            adult_model = train(runtime, actor, "adult-income", adult_version, "tabular-lightgbm")
            run = evaluate(runtime, actor, adult_model, suite=None, tests=[evaluation.TestRequest(name="fairness", params={"sensitive_attribute": "sex", "positive_class": ">50K"})])
            ours, peer = run.result("fairness").metrics, fairlearn_figures(runtime, actor, run, adult_version, "sex", ">50K")
            for metric in ("demographic_parity_difference", "equalized_odds_difference", "accuracy_difference"):
                figures.append(Figure(f"Adult by sex: {metric}", "", ours[metric], peer[metric], "= peer"))
            log("COMPAS: decile scores as a model, audited by race")
            compas_version, compas_data = compas_model(runtime, actor)
            run = evaluate(runtime, actor, compas_version, dataset_version_id=compas_data, suite=None, tests=[evaluation.TestRequest(name="fairness", params={"sensitive_attribute": "race", "positive_class": "recid", "min_group_size": 1})])
            ours, peer = run.result("fairness").metrics, fairlearn_figures(runtime, actor, run, compas_data, "race", "recid")
            for metric in ("demographic_parity_difference", "equalized_odds_difference"):
                figures.append(Figure(f"COMPAS by race: {metric}", "", ours[metric], peer[metric], "= peer"))
        else:
            log(f"fairness figures skipped: {FAIRNESS_DATA} is absent")
        runtime.close()
    report("Evaluation: our suite and metrics; peer: scikit-learn / fairlearn MetricFrame on the same predictions", "peer", figures, args.json)
    Console(width=160).print(breakdown)


if __name__ == "__main__":
    main()
