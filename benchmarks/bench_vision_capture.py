"""Cost of capturing vision attention, as ratios to the model's own forward. Prints one JSON line.

For each family (random init at real layouts, one 224 x 224 image, batch 1, one torch thread):
``<family>_capture_over_forward`` = median time of ``multiattn.capture`` on prepared pixels / median
time of a plain ``model(pixels)`` with the model's default kernel, measured in the same process:

- ``timm_vit``: ViT-S/16 (timm's fused kernel stays; weights recomputed from the kernel's arguments);
- ``timm_eva``: EVA-02 tiny /14 (rope-rotated q/k as the kernel got them);
- ``hf_vit``: Hugging Face ViT-S/16 (switched to eager attention for the capture);
- ``hf_swin``: Swin-T-like, 2 stages (every window mapped back onto its stage grid, block-sparse);
- ``dinov2_real``: the real DINOv2 ViT-S/14 when the ``dinov2`` extra is installed.

Also ``dinov2_conversion_max_abs_diff``: last hidden state of the converted model vs onnxruntime.

Usage: ``python benchmarks/bench_vision_capture.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from _timing import median_time


def _models() -> dict:
    import timm
    import torch
    import transformers as T

    torch.manual_seed(0)
    vit_s = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                 image_size=224, patch_size=16)
    return {
        "timm_vit": timm.create_model("vit_small_patch16_224", pretrained=False),
        "timm_eva": timm.create_model("eva02_tiny_patch14_224", pretrained=False),
        "hf_vit": T.ViTModel(T.ViTConfig(**vit_s)),
        "hf_swin": T.SwinModel(T.SwinConfig(image_size=224, patch_size=4, embed_dim=96, depths=[2, 2],
                                            num_heads=[3, 6], window_size=7)),
    }


def _ratio(model, image: np.ndarray, repeats: int, processor=None) -> float:
    import torch

    import multiattn
    from multiattn.adapters import vit

    model.eval()
    kwargs = vit.prepare(model, image, processor=processor)
    with torch.no_grad():
        forward = median_time(lambda: model(**kwargs), repeats)
    pixels = next(iter(kwargs.values()))
    capture = median_time(lambda: multiattn.capture(model, pixels), repeats)
    return round(capture / forward, 2)


def _conversion_diff() -> float | None:
    try:
        import onnx
        import onnxruntime as ort

        from multiattn.zoo._dinov2 import dinov2_onnx_path, dinov2_small
    except ImportError:
        return None
    import torch

    model, _ = dinov2_small()
    graph = onnx.load(str(dinov2_onnx_path()))
    name = "/backbone/layernorm/Add_1_output_0"
    graph.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    (expected,) = session.run([name], {"input_image": x})
    with torch.no_grad():
        ours = model(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
    return float(np.abs(ours - expected).max())


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    image = (np.random.default_rng(0).random((224, 224, 3)) * 255).astype(np.uint8)
    out = {name: _ratio(model, image, args.repeats) for name, model in _models().items()}
    out = {f"{k}_capture_over_forward": v for k, v in out.items()}
    try:
        import multiattn

        model, processor = multiattn.zoo.load("dinov2-small")  # its processor: 224 x 224, 257 tokens
        out["dinov2_real_capture_over_forward"] = _ratio(model, image, args.repeats, processor)
    except ImportError:
        out["dinov2_real_capture_over_forward"] = None
    out["dinov2_conversion_max_abs_diff"] = _conversion_diff()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
