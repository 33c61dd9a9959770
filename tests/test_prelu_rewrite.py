"""PReLU rewritten as fused depthwise convolutions: same outputs, or the model unchanged."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import core.inference.insightface_backend as backend
from core.inference.insightface_backend import load_engine
from core.inference.modelpack import resolve_model_pack
from core.inference.prelu_rewrite import rewrite_prelu
from core.settings import ImageLimits, LivenessMode, LivenessSettings, ModelSettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file

CHANNELS = 4


def conv_prelu_model(slope: np.ndarray, old_ir: bool = False) -> bytes:
    """A 3x3 convolution over 4 channels followed by a per-channel PReLU; ``old_ir``
    lists the weights among the graph's inputs too, as models before IR 4 did."""
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(CHANNELS, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input", "w"], ["x"], kernel_shape=[3, 3], pads=[1] * 4),
            helper.make_node("PRelu", ["x", "slope"], ["output"], name="act"),
        ],
        "conv_prelu",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])]
        + (
            [
                helper.make_tensor_value_info("w", TensorProto.FLOAT, [CHANNELS, 3, 3, 3]),
                helper.make_tensor_value_info("slope", TensorProto.FLOAT, [CHANNELS, 1, 1]),
            ]
            if old_ir
            else []
        ),
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, CHANNELS, 16, 16])],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(slope.astype(np.float32).reshape(CHANNELS, 1, 1), "slope"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 9 if old_ir else 13)],
        ir_version=3 if old_ir else 8,
    )
    return bytes(model.SerializeToString())


def run(model: bytes, values: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": values})[0])


def operators(model: bytes) -> set[str]:
    return {node.op_type for node in onnx.load_from_string(model).graph.node}


def test_negative_and_fractional_slopes_give_the_same_output_without_prelu() -> None:
    original = conv_prelu_model(np.array([-0.8, -0.1, 0.25, 0.9]))
    rewritten = rewrite_prelu(original)
    assert rewritten is not None
    assert "PRelu" not in operators(rewritten)
    values = np.random.default_rng(2).normal(size=(1, 3, 16, 16)).astype(np.float32)
    want = run(original, values)
    # Both branches of the activation are used.
    assert (want < 0).any()
    assert (want > 0).any()
    np.testing.assert_allclose(run(rewritten, values), want, rtol=1e-5, atol=1e-5)


def test_a_model_listing_its_weights_as_inputs_needs_no_slope_input_afterwards() -> None:
    original = conv_prelu_model(np.array([-0.5, 0.1, 0.2, 0.3]), old_ir=True)
    rewritten = rewrite_prelu(original)
    assert rewritten is not None
    assert "slope" not in {value.name for value in onnx.load_from_string(rewritten).graph.input}
    values = np.random.default_rng(3).normal(size=(1, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(run(rewritten, values), run(original, values), rtol=1e-5, atol=1e-5)


def test_a_slope_of_one_or_more_is_left_alone() -> None:
    # relu((1 - a) x) is not (1 - a) relu(x) once 1 - a <= 0.
    assert rewrite_prelu(conv_prelu_model(np.array([0.1, 0.2, 1.0, 0.3]))) is None
    assert rewrite_prelu(conv_prelu_model(np.array([0.1, 0.2, 1.5, 0.3]))) is None


@pytest.mark.slow  # the real models
def test_the_packaged_models_lose_every_prelu_and_keep_their_outputs() -> None:
    pack = resolve_model_pack(None)
    assert pack.landmarks is not None
    for path in (pack.recognition.path, pack.landmarks.path):
        original = path.read_bytes()
        assert "PRelu" in operators(original)
        rewritten = rewrite_prelu(original)
        assert rewritten is not None
        assert "PRelu" not in operators(rewritten)
    # The detector has plain ReLUs: nothing to do.
    assert rewrite_prelu(pack.detection.path.read_bytes()) is None


def unchanged_models() -> Settings:
    return Settings(
        models=ModelSettings(rewrite_prelu=False),
        liveness=LivenessSettings(mode=LivenessMode.BLINK),
    )


def test_templates_and_landmarks_match_the_unchanged_models(
    face_engine: FaceEngine, yaoming_jpg: Path
) -> None:
    photo = read_image_file(yaoming_jpg, ImageLimits())
    rewritten = load_engine(Settings(liveness=LivenessSettings(mode=LivenessMode.BLINK)))
    unchanged = load_engine(unchanged_models())
    face = unchanged.detect(photo)[0]
    template = rewritten.sample(photo, face).embedding
    assert float(template @ unchanged.sample(photo, face).embedding) > 0.99999
    # The session-wide engine (rewritten by default) gives the same template.
    assert float(template @ face_engine.sample(photo, face).embedding) > 0.99999
    np.testing.assert_allclose(
        rewritten.landmarks_106(photo, face), unchanged.landmarks_106(photo, face), atol=0.01
    )


def test_a_rewrite_that_changes_the_output_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, yaoming_jpg: Path
) -> None:
    def wrong_slopes(model_bytes: bytes) -> bytes | None:
        rewritten = rewrite_prelu(model_bytes)
        assert rewritten is not None
        model = onnx.load_from_string(rewritten)
        first = model.graph.initializer[-1]
        first.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(first) + 0.5, first.name))
        return bytes(model.SerializeToString())

    monkeypatch.setattr(backend, "rewrite_prelu", wrong_slopes)
    photo = read_image_file(yaoming_jpg, ImageLimits())
    with caplog.at_level(logging.WARNING, logger=backend.__name__):
        guarded = load_engine(Settings(liveness=LivenessSettings(mode=LivenessMode.BLINK)))
    assert "w600k_mbf.onnx: the PReLU rewrite changed its output" in caplog.text
    assert "2d106det.onnx: the PReLU rewrite changed its output" in caplog.text
    monkeypatch.undo()
    unchanged = load_engine(unchanged_models())
    face = unchanged.detect(photo)[0]
    np.testing.assert_array_equal(
        guarded.sample(photo, face).embedding, unchanged.sample(photo, face).embedding
    )
