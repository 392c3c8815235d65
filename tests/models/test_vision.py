"""Image recipes and the torch training loop, on the real built-in sklearn-digits images:
accuracy of the stored ONNX, ONNX equal to torch, determinism, exact resume, early stopping."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import skops.io as sio
import torch
from PIL import Image
from safetensors.torch import load as load_safetensors

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.builtin_datasets import breast_cancer, digits
from aicommons.data.manifest import Record, build_table
from aicommons.models import torchnets, vision
from aicommons.models.recipes import Checkpoint, RecipeRun, recipes

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory):
    """The built-in digits in a blob store shared by this module's tests: building it takes ~3 s,
    too long to repeat per test (the per-test `runtime` fixture would)."""
    blobs = BlobStore(str(tmp_path_factory.mktemp("digits-blobs")))
    return build_table(digits(blobs)), blobs


@pytest.fixture(scope="module")
def trained_cnn(digits_data):
    table, blobs = digits_data
    messages: list[str] = []
    run = RecipeRun(table=table, params={}, seed=0, progress=lambda fraction, message: messages.append(message), blobs=blobs)
    return recipes.get("image-cnn").train(run), messages


@pytest.fixture(scope="module")
def prepared(digits_data):
    table, blobs = digits_data
    return vision.prepared_images(RecipeRun(table=table, params={}, seed=0, progress=lambda f, m: None, blobs=blobs))


def _architecture(channels=(16, 32)):
    return {"name": "digits-cnn", "config": {"in_channels": 1, "classes": 10, "channels": list(channels), "image_size": [8, 8]}}


def _fit(data, *, seed=0, epochs=6, patience=100, rows=500, **hooks):
    module = torchnets.build_module(_architecture(), seed=seed)
    result = torchnets.fit(
        module, (data.x["train"][:rows], data.y["train"][:rows]), (data.x["validation"], data.y["validation"]),
        epochs=epochs, lr=0.01, batch_size=64, seed=seed, patience=patience, **hooks,
    )
    return module, result


def test_image_cnn_reaches_95_percent_and_its_onnx_computes_what_torch_computes(digits_data, trained_cnn):
    table, blobs = digits_data
    trained, messages = trained_cnn
    assert trained.metrics["accuracy"] >= 0.95 and trained.metrics["macro_f1"] >= 0.95
    assert trained.framework == "pytorch" and trained.source_format == "safetensors"
    assert trained.details["classes"] == [str(d) for d in range(10)]
    assert trained.details["architecture"] == _architecture()
    assert 9_000 <= trained.details["parameters"] <= 20_000
    assert 1 <= trained.details["best_epoch"] <= trained.details["epochs_run"] <= 30
    assert messages[0].startswith("epoch 1/30: loss ") and "validation accuracy" in messages[0]
    spec = trained.preprocessing
    assert spec["kind"] == "image" and spec["input"] == "image" and spec["size"] == [8, 8] and spec["mode"] == "L"
    assert spec["layout"] == "NCHW" and spec["scale"] == pytest.approx(1 / 255) and len(spec["mean"]) == len(spec["std"]) == 1

    # The platform's way back: rebuild the module from the stored architecture and safetensors weights.
    module = torchnets.load_weights(torchnets.build_module(trained.details["architecture"]), trained.source_bytes).eval()
    images = vision.image_arrays(table, blobs, spec)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    session = ort.InferenceSession(trained.onnx_bytes)
    assert [i.name for i in session.get_inputs()] == ["image"]
    probabilities, labels = session.run(["probabilities", "label"], {"image": images})
    with torch.no_grad():
        expected = torch.softmax(module(torch.as_tensor(images)), dim=1).numpy()
    assert np.allclose(probabilities, expected, atol=1e-5)
    assert labels.dtype == np.int64 and np.array_equal(labels, expected.argmax(axis=1))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    single = session.run(["probabilities"], {"image": images[:1]})[0]  # the batch dimension is dynamic
    assert np.allclose(single, probabilities[:1], atol=1e-6)


def test_export_onnx_follows_the_classifier_contract():
    module = torchnets.build_module(_architecture((4, 8)), seed=1)
    model = onnx.load_from_string(torchnets.export_onnx(module, np.zeros((2, 1, 8, 8), np.float32), input_name="pixels"))
    outputs = {o.name: o.type.tensor_type for o in model.graph.output}
    assert set(outputs) == {"probabilities", "label"}
    assert outputs["probabilities"].elem_type == onnx.TensorProto.FLOAT and outputs["label"].elem_type == onnx.TensorProto.INT64
    assert model.graph.input[0].name == "pixels" and model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert any(op.version == 17 for op in model.opset_import if op.domain in ("", "ai.onnx"))
    assert module.training  # export leaves the module's mode as it found it


def test_training_is_deterministic_under_a_seed(prepared):
    data, _ = prepared
    first, _ = _fit(data, seed=3, epochs=2)
    second, _ = _fit(data, seed=3, epochs=2)
    other, _ = _fit(data, seed=4, epochs=2)
    assert torchnets.weights_to_bytes(first) == torchnets.weights_to_bytes(second)
    assert torchnets.export_onnx(first, data.x["test"][:1]) == torchnets.export_onnx(second, data.x["test"][:1])
    assert torchnets.weights_to_bytes(first) != torchnets.weights_to_bytes(other)


class WorkerDied(Exception):
    pass


def test_a_run_resumed_from_its_checkpoint_ends_with_the_same_weights_as_one_never_interrupted(prepared):
    data, _ = prepared
    straight, straight_result = _fit(data, epochs=6)

    saved: list[Checkpoint] = []

    def save_then_die_after_epoch_3(checkpoint: Checkpoint) -> None:
        saved.append(checkpoint)
        if checkpoint.state["epoch"] == 3:
            raise WorkerDied

    with pytest.raises(WorkerDied):
        _fit(data, epochs=6, save_checkpoint=save_then_die_after_epoch_3)
    assert set(saved[-1].state) >= {"epoch", "best_accuracy", "best_epoch", "stale_epochs"}
    messages: list[str] = []
    resumed, resumed_result = _fit(data, epochs=6, resume_from=saved[-1], progress=lambda f, m: messages.append(m))
    assert messages[0].startswith("epoch 4/6") and len(messages) == 3
    assert resumed_result == straight_result
    assert torchnets.weights_to_bytes(resumed) == torchnets.weights_to_bytes(straight)
    assert torchnets.export_onnx(resumed, data.x["test"][:1]) == torchnets.export_onnx(straight, data.x["test"][:1])


def test_the_recipe_resumes_from_the_checkpoint_a_dead_worker_left(digits_data):
    table, blobs = digits_data
    subset = table.slice(0, 400)

    def run(**hooks):
        return RecipeRun(table=subset, params={"epochs": 3, "patience": 10}, seed=5, progress=lambda f, m: None, blobs=blobs, **hooks)

    straight = recipes.get("image-cnn").train(run())
    saved: list[Checkpoint] = []

    def save_then_die_after_epoch_2(checkpoint: Checkpoint) -> None:
        saved.append(checkpoint)
        if checkpoint.state["epoch"] == 2:
            raise WorkerDied

    with pytest.raises(WorkerDied):
        recipes.get("image-cnn").train(run(save_checkpoint=save_then_die_after_epoch_2))
    resumed = recipes.get("image-cnn").train(run(resume_from=saved[-1]))
    assert resumed.onnx_bytes == straight.onnx_bytes and resumed.source_bytes == straight.source_bytes
    assert resumed.metrics == straight.metrics and resumed.details == straight.details


def test_early_stopping_stops_before_the_last_epoch_and_keeps_the_best_weights(prepared):
    data, _ = prepared
    saved: list[Checkpoint] = []
    module, result = _fit(data, epochs=40, patience=2, rows=800, save_checkpoint=saved.append)
    assert result.stopped_early and result.epochs_run < 40
    assert result.epochs_run == result.best_epoch + 2 and len(saved) == result.epochs_run
    # The weights left in the module are those the loop had after the best epoch, not the last one.
    at_best = saved[result.best_epoch - 1]
    assert at_best.state["best_epoch"] == result.best_epoch and at_best.state["stale_epochs"] == 0
    current_at_best = {k[len("current."):]: v for k, v in load_safetensors(at_best.weights).items() if k.startswith("current.")}
    final = module.state_dict()
    assert all(torch.equal(final[name], tensor) for name, tensor in current_at_best.items())
    last = {k[len("current."):]: v for k, v in load_safetensors(saved[-1].weights).items() if k.startswith("current.")}
    assert not all(torch.equal(final[name], tensor) for name, tensor in last.items())
    assert result.best_accuracy == max(c.state["best_accuracy"] for c in saved)


def test_image_logistic_takes_the_same_input_and_matches_scikit_learn(digits_data, trained_cnn):
    table, blobs = digits_data
    trained = recipes.get("image-logistic").train(RecipeRun(table=table, params={"C": 0.5}, seed=0, progress=lambda f, m: None, blobs=blobs))
    assert trained.metrics["accuracy"] >= 0.93 and trained.source_format == "skops" and trained.framework == "scikit-learn"
    assert trained.preprocessing == trained_cnn[0].preprocessing  # same seed and splits: same normalisation, served alike
    images = vision.image_arrays(table, blobs, trained.preprocessing)
    session = ort.InferenceSession(trained.onnx_bytes)
    assert [(i.name, i.shape[1:]) for i in session.get_inputs()] == [("image", [1, 8, 8])]
    probabilities, labels = session.run(["probabilities", "label"], {"image": images})
    estimator = sio.loads(trained.source_bytes, trusted=sio.get_untrusted_types(data=trained.source_bytes))
    assert np.allclose(probabilities, estimator.predict_proba(images.reshape(len(images), -1)), atol=1e-4)
    assert np.array_equal(labels, estimator.predict(images.reshape(len(images), -1)))


def test_image_arrays_resizes_and_converts_to_the_spec(tmp_path):
    blobs = BlobStore(str(tmp_path))
    buffer = io.BytesIO()
    Image.new("RGB", (4, 6), (255, 0, 51)).save(buffer, format="PNG")
    table = build_table([Record(fields={}, label="a", file_sha256=blobs.put_bytes(buffer.getvalue()).sha256)])
    spec = vision.image_preprocessing([3, 2], "RGB", mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    arrays = vision.image_arrays(table, blobs, spec)
    assert arrays.shape == (1, 3, 3, 2)
    assert np.allclose(arrays[0, :, 0, 0], [1.0, -1.0, 51 / 255 * 2 - 1], atol=1e-6)


def _run(table, blobs, **params):
    return RecipeRun(table=table, params=params, seed=0, progress=lambda f, m: None, blobs=blobs)


def test_bad_inputs_are_refused_with_clear_messages(digits_data, tmp_path):
    table, blobs = digits_data
    cnn = recipes.get("image-cnn").train
    tabular = build_table(breast_cancer(blobs))
    with pytest.raises(Invalid, match="needs every record to carry an image file"):
        cnn(_run(tabular, blobs))
    with pytest.raises(Invalid, match="needs the blob store"):
        cnn(_run(table, None))
    with pytest.raises(Invalid, match="'mode' parameter must be 'L'"):
        cnn(_run(table, blobs, mode="CMYK"))
    with pytest.raises(Invalid, match="'image_size' parameter"):
        cnn(_run(table, blobs, image_size="big"))
    with pytest.raises(Invalid, match="'epochs' parameter must be an integer"):
        cnn(_run(table, blobs, epochs=2.5))
    with pytest.raises(Invalid, match="Unknown torch architecture 'resnet-9000'; known: digits-cnn, small-cnn"):
        cnn(_run(table, blobs, architecture="resnet-9000"))
    unlabelled = build_table([Record(fields={}, file_sha256=table["file_sha256"][0].as_py()) for _ in range(3)])
    with pytest.raises(Invalid, match="needs every record labelled"):
        cnn(_run(unlabelled, blobs))
    not_image = blobs.put_bytes(b"this is not a picture").sha256
    corrupt = build_table([Record(fields={}, label=str(i % 2), file_sha256=not_image) for i in range(4)])
    with pytest.raises(Invalid, match="is not an image Pillow can read"):
        cnn(_run(corrupt, blobs))
    with pytest.raises(Invalid, match="weights do not fit the architecture"):
        torchnets.load_weights(torchnets.build_module(_architecture((8, 16))), torchnets.weights_to_bytes(torchnets.build_module(_architecture())))
    with pytest.raises(Invalid, match="not a readable safetensors file"):
        torchnets.load_weights(torchnets.build_module(_architecture()), b"not weights")
    with pytest.raises(Invalid, match="checkpoint cannot be resumed"):
        cnn(RecipeRun(table=table, params={}, seed=0, progress=lambda f, m: None, blobs=blobs, resume_from=Checkpoint(state={"round": 3}, weights=b"")))
    with pytest.raises(Invalid, match="'channels' of architecture 'digits-cnn'"):
        torchnets.build_module({"name": "digits-cnn", "config": {**_architecture()["config"], "channels": []}})
