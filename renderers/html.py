r"""Interactive, offline, self-contained HTML views of an AttentionGrid.

One HTML file holds the data, the CSS and the script (no CDN, no network): it
works opened from disk, inside notebooks (``_repr_html_`` via
:func:`repr_html`) and embedded in a web page.  The view follows the grid's axes:

- tokens (``TokenAxis``): head view (two token columns joined by lines, one
  colour per head, hover or Tab to a token to focus it) and model view
  (layer x head thumbnails; click one to open it);
- patches (``PatchAxis``): the image with the attention of the hovered /
  clicked patch (or of CLS, or of extra maps such as rollout) overlaid;
- graph nodes (``NodeAxis``, sparse or dense): hover a node to see its
  incoming attention edges and their weights;
- audio (tokens attending to a ``TimeAxis``, e.g. Whisper cross-attention):
  log-mel spectrogram with word spans, hover a token or word to draw its
  attention over time, click to play that segment of the embedded audio;
- video (self-attention over a ``VideoAxis``): frame slider and play button,
  the attention of the chosen query overlaid on each frame.

Weights are stored compactly: each attention row is quantised to uint8 relative
to its own maximum; when the dense rows would exceed ``max_bytes`` only the
``k`` largest entries of each row are kept and the mass dropped is stated in
the view (per row on hover, mean and max in the notes).  Every token, label and
caption travels as JSON inside ``<script type="application/json">`` with ``<``,
``>`` and ``&`` escaped, and the script builds the page with ``textContent``.

Example
-------
>>> import numpy as np
>>> from multiattn import AttentionGrid, TokenAxis
>>> weights = np.full((1, 2, 3, 3), 1 / 3, dtype=np.float32)
>>> page = to_html(AttentionGrid(weights, TokenAxis(["a", "<b>", "c"])))
>>> "<b>" in page, "\\u003cb\\u003e" in page
(False, True)
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.axes import NodeAxis, PatchAxis, TimeAxis, TokenAxis, VideoAxis
from multiattn.grid import AttentionGrid, AttentionMap

from ._html_assets import CSS, SCRIPT

__all__ = ["to_html", "save", "repr_html", "pack_rows", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 6_000_000
"""Raw weight bytes kept before switching to top-k rows (base64 adds a third)."""

_MIN_TOP_K = 4
_ROW_OVERHEAD = 5  # float32 row scale + uint8 dropped mass
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
            "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_IMAGE_WIDTH = 448
_GRAPH_SIZE = 560
_MAX_GRAPH_NODES = 3000
_MAX_NODE_LABELS = 80  # draw node labels next to the nodes up to this many nodes
_OPTIONS = {
    "text": {"title", "max_bytes", "top_k"},
    "image": {"title", "max_bytes", "top_k", "image", "maps"},
    "graph": {"title", "pos"},
    "audio": {"title", "max_bytes", "top_k", "audio", "words"},
    "video": {"title", "max_bytes", "top_k", "frames"},
}
_AUDIO_SR = 16_000  # embedded WAV: 16 kHz mono int16
_MAX_AUDIO_S = 120.0
_SPEC_HEIGHT = 128  # pixels (one per mel band)
_SPEC_PX_PER_S = 100  # spectrogram columns per second (10 ms hop)
_VIDEO_WIDTH = 384
_MAX_VIDEO_FRAMES = 256


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _script_json(payload: dict) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` survives."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _viridis_lut() -> str:
    from matplotlib import colormaps

    rgb = colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3]
    return _b64(np.round(rgb * 255).astype(np.uint8))


def _quantise(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    return np.clip(np.round(rows / safe * 255), 0, 255).astype(np.uint8)


def pack_rows(values: np.ndarray, *, max_bytes: int = DEFAULT_MAX_BYTES,
              top_k: int | None = None) -> tuple[dict, dict]:
    """Quantise ``(L, H, Q, K)`` attention rows for the browser.

    Each row is stored as uint8 relative to its maximum.  When the dense uint8
    rows exceed ``max_bytes`` (or ``top_k`` is given) only the ``k`` largest
    entries of each row are kept, with their key indices and the mass dropped.

    Parameters
    ----------
    values : array (L, H, Q, K)
        Non-negative attention weights.
    max_bytes : int
        Budget of raw bytes; ``k`` is the largest that fits (at least 4).
    top_k : int, optional
        Force top-k storage with this ``k``.

    Returns
    -------
    weights : dict
        JSON-ready arrays (base64) read by the view's script.
    summary : dict
        ``mode``, ``k``, ``bytes``, ``dropped_mean``, ``dropped_max`` (mass lost
        per row by top-k, before quantisation), ``quant_error_max``.

    Example
    -------
    >>> values = np.random.default_rng(0).dirichlet(np.ones(64), size=(1, 2, 64)).astype(np.float32)
    >>> weights, summary = pack_rows(values, top_k=8)
    >>> summary["mode"], summary["k"], 0 < summary["dropped_mean"] < 1
    ('topk', 8, True)
    """
    n_layers, n_heads, n_query, n_key = values.shape
    rows = values.reshape(-1, n_key)
    n_rows = rows.shape[0]
    scale = rows.max(axis=1).astype(np.float32)
    if top_k is None and n_rows * (n_key + _ROW_OVERHEAD) <= max_bytes:
        q = _quantise(rows, scale)
        error = float(np.abs(q * (scale[:, None] / 255) - rows).max()) if n_rows else 0.0
        weights = {"mode": "dense", "K": n_key, "k": n_key, "q": _b64(q), "scale": _b64(scale)}
        return weights, {"mode": "dense", "k": n_key, "bytes": q.nbytes + scale.nbytes,
                         "dropped_mean": 0.0, "dropped_max": 0.0, "quant_error_max": error}
    idx_dtype = np.uint16 if n_key <= np.iinfo(np.uint16).max else np.uint32
    idx_bytes = np.dtype(idx_dtype).itemsize
    if top_k is None:
        top_k = max(_MIN_TOP_K, (max_bytes // max(n_rows, 1) - _ROW_OVERHEAD) // (1 + idx_bytes))
    k = int(min(n_key, top_k))
    idx = np.empty((n_rows, k), idx_dtype)
    kept = np.empty((n_rows, k), np.float32)
    chunk = max(1, 4_000_000 // max(n_key, 1))  # bound argpartition's temporary memory
    for start in range(0, n_rows, chunk):
        block = rows[start:start + chunk]
        part = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < n_key else np.tile(
            np.arange(n_key), (block.shape[0], 1))
        idx[start:start + chunk] = part
        kept[start:start + chunk] = np.take_along_axis(block, part, axis=1)
    dropped = np.clip(rows.sum(axis=1, dtype=np.float64) - kept.sum(axis=1, dtype=np.float64), 0, 1)
    q = _quantise(kept, scale)
    dropped_q = np.round(dropped * 255).astype(np.uint8)
    error = float(np.abs(q * (scale[:, None] / 255) - kept).max()) if n_rows else 0.0
    weights = {"mode": "topk", "K": n_key, "k": k, "q": _b64(q), "scale": _b64(scale),
               "idx": _b64(idx), "idx_bytes": idx_bytes, "dropped": _b64(dropped_q),
               "dropped_mean": float(dropped.mean())}
    summary = {"mode": "topk", "k": k, "bytes": q.nbytes + idx.nbytes + scale.nbytes + dropped_q.nbytes,
               "dropped_mean": float(dropped.mean()), "dropped_max": float(dropped.max()),
               "quant_error_max": error}
    return weights, summary


def _weights_note(summary: dict, n_key: int) -> str:
    text = ("Weights stored as uint8 per row, relative to the row's maximum "
            f"(largest rounding error {summary['quant_error_max']:.2g}).")
    if summary["mode"] == "topk":
        text += (f" Only the {summary['k']} largest of {n_key} keys per row are kept: mass dropped "
                 f"per row mean {summary['dropped_mean']:.3f}, max {summary['dropped_max']:.3f}.")
    return text


def _check_non_negative(grid: AttentionGrid) -> None:
    if grid.values.size and float(grid.values.min()) < 0:
        raise ValueError(
            "HTML views draw non-negative attention weights, but this grid has negative values "
            f"(min {float(grid.values.min()):.3g}); pass signed relevance maps to the static "
            "renderers, or take abs() first"
        )


def _text_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None) -> dict:
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k)
    normalised = grid.meta.get("normalized", "raw softmax rows (each sums to 1)")
    return {
        "view": "text",
        "query": list(grid.query.labels), "key": list(grid.key.labels),
        "query_special": grid.query.special_mask.tolist(), "key_special": grid.key.special_mask.tolist(),
        "default_heads": min(grid.n_heads, 4),
        "weights": weights,
        "notes": [
            f"{grid.kind}-attention, {grid.n_layers} layers x {grid.n_heads} heads, "
            f"{len(grid.query)} queries (left) x {len(grid.key)} keys (right). Values: {normalised}.",
            "Head view: line opacity = attention weight on an absolute 0-1 scale (lines below 0.01 "
            "hidden; at most the 3000 strongest drawn), one colour per head. Focused token: the "
            "other column is shaded with the mean weight over the selected heads, scaled to its "
            "maximum (viridis).",
            _weights_note(summary, len(grid.key)),
        ],
    }


def _png_b64(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _display_image(image: Any, axis: PatchAxis, size: tuple[int, int]) -> str:
    """The part of ``image`` the model saw (crop recorded on the axis) at ``size`` (w, h), PNG base64."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image must be an (H, W, 3) RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"image must be uint8 RGB, got dtype {arr.dtype}; convert with "
                         "(img * 255).astype(np.uint8) for images in [0, 1]")
    return _png_b64(np.asarray(_seen_part(arr, axis).resize(size, Image.LANCZOS)))


def _seen_part(rgb: np.ndarray, axis: PatchAxis) -> Any:
    """PIL image of the part of ``rgb`` the model saw: the axis' recorded crop, mapped to its pixels."""
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    if "crop" in axis.transform:
        top, left, height, width = axis.transform["crop"]
        resized_h, resized_w = axis.transform.get("resize", rgb.shape[:2])
        fy, fx = rgb.shape[0] / resized_h, rgb.shape[1] / resized_w
        pil = pil.crop((left * fx, top * fy, (left + width) * fx, (top + height) * fy))
    return pil


def _image_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None, image: Any,
                   maps: Mapping[str, AttentionMap] | None) -> dict:
    axis = grid.query
    if grid.key != axis:
        raise ValueError("the image view needs self-attention over one PatchAxis (query == key)")
    extra = []
    for name, amap in (maps or {}).items():
        if not isinstance(amap, AttentionMap) or len(amap) != len(axis):
            raise ValueError(f"maps[{name!r}] must be an AttentionMap over the grid's {len(axis)} "
                             "positions (e.g. rollout of the same capture)")
        values = np.abs(amap.values) if amap.signed else amap.values
        extra.append({"name": str(name) + (" (|values|)" if amap.signed else ""),
                      "values": _b64(values.astype(np.float32))})
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k)
    height, width = axis.image_size
    shown_width = max(width, _IMAGE_WIDTH)
    shown_height = int(round(height * shown_width / width))
    return {
        "view": "image", "weights": weights, "n_tokens": len(axis), "n_prefix": axis.n_prefix,
        "prefix": list(axis.prefix), "labels": list(axis.labels), "rows": axis.rows, "cols": axis.cols,
        "width": shown_width, "height": shown_height, "maps": extra,
        "image": None if image is None else _display_image(image, axis, (shown_width, shown_height)),
        "notes": [
            f"{grid.n_layers} layers x {grid.n_heads} heads over a {axis.rows} x {axis.cols} patch grid"
            f" ({axis.image_size[0]} x {axis.image_size[1]} px model input"
            + (f", prefix {', '.join(axis.prefix)}" if axis.prefix else "") + ").",
            "Move over the image to see the attention of that patch (red box); click to pin it, then "
            "use the arrow keys. Overlay: viridis, each map scaled to its maximum over the patches; "
            "prefix tokens are not drawn (their mass is stated)."
            + ("" if image is not None else " No image was given: patches are drawn on grey."),
            _weights_note(summary, len(axis)),
        ],
    }


def _graph_layout(grid: AttentionGrid, pos: Any) -> np.ndarray:
    n_nodes = len(grid.query)
    if pos is None:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(n_nodes))
        graph.add_edges_from(zip(grid.edge_index[0].tolist(), grid.edge_index[1].tolist()))
        layout = nx.spring_layout(graph, seed=0)
        coords = np.array([layout[i] for i in range(n_nodes)], dtype=np.float64)
    else:
        if isinstance(pos, Mapping):
            missing = [i for i in grid.query.ids if i not in pos]
            if missing:
                raise ValueError(f"pos has no position for {len(missing)} nodes, e.g. {missing[:3]}")
            pos = [pos[i] for i in grid.query.ids]
        coords = np.asarray(pos, dtype=np.float64)
        if coords.shape != (n_nodes, 2) or not np.isfinite(coords).all():
            raise ValueError(f"pos must hold finite (x, y) for each of the {n_nodes} nodes, "
                             f"got shape {coords.shape}")
    low, span = coords.min(axis=0), np.ptp(coords, axis=0)
    coords = (coords - low) / np.where(span > 0, span, 1.0)
    coords[:, 1] = 1.0 - coords[:, 1]  # SVG y grows downwards
    return coords.astype(np.float32)


def _graph_payload(grid: AttentionGrid, pos: Any) -> dict:
    if not isinstance(grid.key, NodeAxis) or grid.key != grid.query:
        raise ValueError("the graph view needs self-attention over one NodeAxis")
    if not grid.is_sparse:
        dense = grid.values
        targets, sources = np.nonzero(dense.max(axis=(0, 1)))
        grid = AttentionGrid(dense[:, :, targets, sources], grid.query, layers=grid.layers,
                             heads=grid.heads, meta=grid.meta, check_rows=False,
                             edge_index=np.stack([sources, targets]))
    n_nodes = len(grid.query)
    if n_nodes > _MAX_GRAPH_NODES:
        raise ValueError(f"the graph view draws at most {_MAX_GRAPH_NODES} nodes, this graph has "
                         f"{n_nodes}; take a subgraph (e.g. an ego network) first")
    flat = grid.values.reshape(grid.n_layers * grid.n_heads, -1)
    scale = flat.max(axis=1).astype(np.float32) if flat.size else np.zeros(len(flat), np.float32)
    q = _quantise(flat, scale)
    groups = grid.query.groups
    return {
        "view": "graph", "labels": list(grid.query.labels), "n_edges": int(grid.edge_index.shape[1]),
        "src": _b64(grid.edge_index[0].astype(np.uint32)), "dst": _b64(grid.edge_index[1].astype(np.uint32)),
        "q": _b64(q), "scale": _b64(scale), "pos": _b64(_graph_layout(grid, pos)),
        "groups": None if groups is None else list(groups), "size": _GRAPH_SIZE,
        "max_labels": _MAX_NODE_LABELS,
        "radius": float(np.clip(260 / np.sqrt(max(n_nodes, 1)), 2.5, 9)),
        "notes": [
            f"{grid.n_layers} layers x {grid.n_heads} heads, {n_nodes} nodes, "
            f"{grid.edge_index.shape[1]} attention edges (source -> target; a target's incoming "
            "weights sum to 1). Node colour = group." if groups is not None else
            f"{grid.n_layers} layers x {grid.n_heads} heads, {n_nodes} nodes, "
            f"{grid.edge_index.shape[1]} attention edges (source -> target).",
            "Weights stored as uint8 relative to the largest weight of each layer and head. "
            "Layout: " + ("given positions." if pos is not None else "spring layout, seed 0."),
        ],
    }


def _mono_16k(audio: Any) -> np.ndarray:
    """``(waveform, sr)`` as float32 mono at 16 kHz, checked."""
    if not isinstance(audio, (tuple, list)) or len(audio) != 2:
        raise ValueError("audio must be a (waveform, sample_rate) pair, e.g. "
                         "audio=multiattn.adapters.whisper.load_audio(path)")
    wav, sr = np.asarray(audio[0]), audio[1]
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"audio sample rate must be a positive int (Hz), got {sr!r}")
    if wav.ndim == 2 and 0 < wav.shape[1] <= 8:
        wav = wav.mean(axis=1)  # (samples, channels): mix down
    if wav.ndim != 1 or wav.size == 0:
        raise ValueError(f"audio waveform must be a non-empty (samples,) or (samples, channels) "
                         f"array, got shape {wav.shape}")
    if np.issubdtype(wav.dtype, np.integer):
        wav = wav / float(np.iinfo(wav.dtype).max)
    elif not np.issubdtype(wav.dtype, np.floating):
        raise ValueError(f"audio waveform must be float or integer PCM, got dtype {wav.dtype}")
    wav = wav.astype(np.float32)
    if not np.isfinite(wav).all():
        raise ValueError("audio waveform contains NaN or infinite samples; clean it with np.nan_to_num")
    if wav.size / sr > _MAX_AUDIO_S:
        raise ValueError(f"audio is {wav.size / sr:.0f} s long; the HTML view embeds at most "
                         f"{_MAX_AUDIO_S:.0f} s: cut the recording (and its grid) first")
    if sr != _AUDIO_SR:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sr), _AUDIO_SR)
        wav = resample_poly(wav, _AUDIO_SR // g, int(sr) // g).astype(np.float32)
    return np.clip(wav, -1.0, 1.0)


def _wav_b64(wav: np.ndarray) -> str:
    """16 kHz mono int16 WAV (stdlib ``wave``), base64."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_AUDIO_SR)
        out.writeframes(np.round(wav * 32767).astype("<i2").tobytes())
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _spectrogram_png(wav: np.ndarray) -> str:
    """Log-mel spectrogram (dB re max, 80 dB range, magma), low frequencies at the bottom."""
    import librosa
    from matplotlib import colormaps

    mel = librosa.feature.melspectrogram(y=wav, sr=_AUDIO_SR, n_fft=400,
                                         hop_length=_AUDIO_SR // _SPEC_PX_PER_S, n_mels=_SPEC_HEIGHT)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    rgb = colormaps["magma"]((db[::-1] + 80.0) / 80.0)[..., :3]
    return _png_b64(np.round(rgb * 255).astype(np.uint8))


def _check_words(words: Any) -> list[dict]:
    out = []
    for i, item in enumerate(words or []):
        if not isinstance(item, Mapping) or not {"word", "start", "end"} <= set(item):
            raise ValueError(f"words[{i}] must be a mapping with 'word', 'start' and 'end' (seconds), "
                             f"got {item!r}")
        start, end = float(item["start"]), float(item["end"])
        if not (np.isfinite(start) and np.isfinite(end) and 0 <= start <= end):
            raise ValueError(f"words[{i}] ({item['word']!r}) needs finite 0 <= start <= end, "
                             f"got {start}, {end}")
        out.append({"word": str(item["word"]), "start": start, "end": end})
    return out


def _normal_text(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _token_words(labels: tuple[str, ...], special: np.ndarray, words: list[dict]) -> list[int]:
    """Index of the word each token spells part of (-1: special, or the texts differ)."""
    word_text = [_normal_text(w["word"]) for w in words]
    token_text = ["" if sp else _normal_text(lab) for lab, sp in zip(labels, special)]
    if not words or "".join(word_text) != "".join(token_text):
        return [-1] * len(labels)
    word_end = np.cumsum([len(w) for w in word_text])
    owner, pos = [], 0
    for text in token_text:
        owner.append(int(np.searchsorted(word_end, pos, side="right")) if text else -1)
        pos += len(text)
    return owner


def _audio_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None, audio: Any,
                   words: Any) -> dict:
    axis = grid.key
    words = _check_words(words)
    wav = None if audio is None else _mono_16k(audio)
    duration = max([float(axis.edges[-1])] + [w["end"] for w in words]
                   + ([wav.size / _AUDIO_SR] if wav is not None else []))
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k)
    owner = _token_words(grid.query.labels, grid.query.special_mask, words)
    return {
        "view": "audio", "weights": weights, "query": list(grid.query.labels),
        "query_special": grid.query.special_mask.tolist(), "token_word": owner,
        "n_frames": len(axis), "hop_s": axis.hop_s, "offset_s": axis.offset_s, "duration": duration,
        "words": words, "spectrogram": None if wav is None else _spectrogram_png(wav),
        "wav": None if wav is None else _wav_b64(wav),
        "notes": [
            f"{grid.kind}-attention, {grid.n_layers} layers x {grid.n_heads} heads: {len(grid.query)} "
            f"tokens attending to {len(axis)} audio frames of {axis.hop_s * 1000:.0f} ms.",
            "Hover or Tab to a token or a word: its attention over time (mean over the selected "
            "heads; for a word, over its tokens), curve scaled to its maximum over the frames. "
            "Click or press Enter to play that segment."
            + (" Spectrogram: log-mel, dB relative to the loudest bin, 80 dB range (magma)."
               if wav is not None else " No audio was given: no spectrogram or playback.")
            + ("" if not words or max(owner, default=-1) >= 0 else
               " The words could not be matched to the tokens' text: hovering a word shows its span only."),
            _weights_note(summary, len(axis)),
        ],
    }


def _jpeg_b64(frame: np.ndarray, size: tuple[int, int]) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).resize(size, Image.LANCZOS).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _video_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None, frames: Any) -> dict:
    axis = grid.query
    if grid.key != axis:
        raise ValueError("the video view needs self-attention over one VideoAxis (query == key)")
    width = _VIDEO_WIDTH
    height = int(round(width * axis.rows / axis.cols))
    images = None
    if frames is not None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] != axis.frames or 0 in frames.shape:
            raise ValueError(f"frames must be a uint8 (T, H, W, 3) array with T = {axis.frames} (the "
                             f"frames the model saw), got shape {frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 RGB, got dtype {frames.dtype}; convert with "
                             "(frames * 255).astype(np.uint8) for values in [0, 1]")
        seen = [np.asarray(_seen_part(frame, axis.frame_axis)) for frame in frames]  # the processor's crop
        height = int(round(width * seen[0].shape[0] / seen[0].shape[1]))
        images = [_jpeg_b64(frame, (width, height)) for frame in seen]
    if axis.frames > _MAX_VIDEO_FRAMES:
        raise ValueError(f"the video view shows at most {_MAX_VIDEO_FRAMES} frames, this axis has "
                         f"{axis.frames}; subsample the clip first")
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k)
    return {
        "view": "video", "weights": weights, "n_tokens": len(axis), "n_prefix": axis.n_prefix,
        "prefix": list(axis.prefix), "labels": list(axis.labels), "rows": axis.rows, "cols": axis.cols,
        "n_frames": axis.frames, "tubelet_t": axis.tubelet[0], "fps": axis.fps,
        "width": width, "height": height, "frames": images,
        "notes": [
            f"{grid.n_layers} layers x {grid.n_heads} heads over {axis.n_time} time steps x "
            f"{axis.rows} x {axis.cols} patches ({axis.frames} frames at {axis.fps:g} fps, tubelet "
            f"{'x'.join(map(str, axis.tubelet))}"
            + (f", prefix {', '.join(axis.prefix)}" if axis.prefix else "") + ").",
            "Slider / play: the frame shown; move over it to choose the query patch (red box), click to "
            "pin it, arrow keys move it. Overlay: the query's attention to the patches of the shown "
            "frame's time step, viridis, scaled to the maximum over all space-time patches."
            + ("" if images is not None else " No frames were given: patches are drawn on grey."),
            _weights_note(summary, len(axis)),
        ],
    }


def _view_of(grid: AttentionGrid) -> str:
    if isinstance(grid.query, TokenAxis) and isinstance(grid.key, TokenAxis):
        return "text"
    if isinstance(grid.query, PatchAxis):
        return "image"
    if isinstance(grid.query, NodeAxis):
        return "graph"
    if isinstance(grid.query, TokenAxis) and isinstance(grid.key, TimeAxis):
        return "audio"
    if isinstance(grid.query, VideoAxis):
        return "video"
    raise ValueError(
        f"no HTML view for {type(grid.query).__name__} -> {type(grid.key).__name__} grids yet; "
        "supported: TokenAxis (text), PatchAxis (image), NodeAxis (graph), TokenAxis -> TimeAxis "
        "(audio cross-attention), VideoAxis (video). Use the static renderers (e.g. "
        "renderers.audio) for the others"
    )


def to_html(obj: AttentionGrid, **options: Any) -> str:
    """A complete, self-contained HTML document showing ``obj`` interactively.

    Parameters
    ----------
    obj : AttentionGrid
        The view follows its axes: tokens -> head/model view, patches -> image
        view, graph nodes -> graph view, tokens -> audio frames (``TimeAxis``)
        -> audio view, ``VideoAxis`` -> video view.
    **options
        ``title`` (all views); ``max_bytes`` (budget of raw weight bytes before
        top-k rows, default :data:`DEFAULT_MAX_BYTES`) and ``top_k`` (text,
        image, audio, video); ``image`` (uint8 RGB array the patches cover) and ``maps``
        (``{name: AttentionMap}``, e.g. rollout) for the image view; ``pos``
        (``(N, 2)`` array or ``{node id: (x, y)}``) for the graph view;
        ``audio`` (``(waveform, sample_rate)``, embedded as 16 kHz WAV) and
        ``words`` (``[{"word", "start", "end"}]`` in seconds) for the audio
        view; ``frames`` (uint8 ``(T, H, W, 3)``) for the video view.
        Unknown options are rejected.

    Returns
    -------
    str
        The HTML document (JavaScript and CSS inline, no network access).

    Example
    -------
    >>> import numpy as np
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> grid = AttentionGrid(np.full((2, 2, 3, 3), 1 / 3, np.float32), TokenAxis(list("abc")))
    >>> to_html(grid, title="demo").startswith("<!DOCTYPE html>")
    True
    """
    if not isinstance(obj, AttentionGrid):
        raise TypeError(f"to_html takes an AttentionGrid, got {type(obj).__name__}")
    view = _view_of(obj)
    unknown = set(options) - _OPTIONS[view]
    if unknown:
        raise TypeError(f"unknown options for the {view} view: {sorted(unknown)}; "
                        f"allowed: {sorted(_OPTIONS[view])}")
    _check_non_negative(obj)
    max_bytes = int(options.get("max_bytes", DEFAULT_MAX_BYTES))
    top_k = options.get("top_k")
    if top_k is not None and int(top_k) < 1:
        raise ValueError(f"top_k must be a positive number of keys per row, got {top_k}")
    if view == "text":
        payload = _text_payload(obj, max_bytes, top_k)
    elif view == "image":
        payload = _image_payload(obj, max_bytes, top_k, options.get("image"), options.get("maps"))
    elif view == "audio":
        payload = _audio_payload(obj, max_bytes, top_k, options.get("audio"), options.get("words"))
    elif view == "video":
        payload = _video_payload(obj, max_bytes, top_k, options.get("frames"))
    else:
        payload = _graph_payload(obj, options.get("pos"))
    model = obj.meta.get("model") or obj.meta.get("model_id")
    default_title = f"{model} — attention" if model else "multiattn — attention"
    title = str(options.get("title") or default_title)
    payload.update(title=title, layers=list(obj.layers), heads=list(obj.heads),
                   palette=_PALETTE, lut=_viridis_lut())
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style></head>\n"
        "<body><div id=\"multiattn-root\"></div>\n"
        f"<script type=\"application/json\" id=\"multiattn-data\">{_script_json(payload)}</script>\n"
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )


def save(obj: AttentionGrid, path: str | Path, **options: Any) -> Path:
    """Write :func:`to_html` of ``obj`` to ``path`` (``.html`` added if missing).

    Example
    -------
    >>> save(grid, "attention.html", title="my model")  # doctest: +SKIP
    PosixPath('attention.html')
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path.with_name(path.name + ".html")
    page = to_html(obj, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def repr_html(grid: AttentionGrid, height: int = 720) -> str:
    """Notebook representation: the view in a sandboxed ``<iframe srcdoc>``.

    The iframe isolates the view's ids and CSS from the notebook page, so it works
    in classic Jupyter, JupyterLab and VS Code alike.  Hook it into the grid with
    ``def _repr_html_(self): return repr_html(self)``.

    Example
    -------
    >>> repr_html(grid)[:7]  # doctest: +SKIP
    '<iframe'
    """
    page = to_html(grid)
    return (f"<iframe srcdoc=\"{html.escape(page, quote=True)}\" sandbox=\"allow-scripts\" "
            f"style=\"width:100%;height:{int(height)}px;border:1px solid #ddd\"></iframe>")
