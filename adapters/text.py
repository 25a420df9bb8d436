"""Text attention from Hugging Face models as labelled :class:`AttentionGrid` objects.

Supports encoders (BERT family), decoders (GPT-2 family) and encoder-decoders
(T5, BART).  The model runs once, in ``eval()`` mode, on eager attention (with
the default SDPA kernel transformers >= 5 returns no weights); its attention
implementation and training flag are restored afterwards.  Each layer goes into
one preallocated float32 grid per part as it is made: models on transformers'
attention interface write their softmax there directly (:mod:`._grid_attention`),
the others' weights are copied from a hook on the attention module; the model's
``output_attentions`` tuple is built only for models without output recorders.

Token labels are cleaned for display (``##``, ``Ġ``, ``▁`` removed), special
tokens are marked on the :class:`~multiattn.TokenAxis`, character spans come
from the tokenizer's offsets and padding positions are dropped.

Text longer than the model accepts is **truncated with a warning** that says
how many tokens were dropped (:class:`TokenOverflowWarning`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnRuntimeError, MultiattnTypeError, MultiattnValueError, MultiattnWarning

from ..axes import TokenAxis
from ..grid import AttentionGrid
from ..gridset import GridSet
from . import _text_grid
from ._hf import attention_layers, eager_attention, eval_mode, recorded_attentions, require_attentions

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import Model, Processor

__all__ = ["TokenOverflowWarning", "capture", "prepare"]

# Sub-word markers of WordPiece (##), byte-level BPE (Ġ space, Ċ newline, ĉ tab)
# and SentencePiece (▁ space).
_MARKERS = {"Ġ": " ", "▁": " ", "Ċ": "\\n", "ĉ": "\\t"}
_UNBOUNDED = 10**6  # tokenizers without a limit report a huge model_max_length


class TokenOverflowWarning(MultiattnWarning):
    """The text had more tokens than the model accepts and was truncated."""


def clean_token(token: str) -> str:
    """Display form of a sub-word token: markers removed, whitespace made visible.

    Parameters
    ----------
    token : str
        A token as returned by ``tokenizer.convert_ids_to_tokens``.

    Returns
    -------
    str
        ``"##ing"`` -> ``"ing"``, ``"Ġworld"`` -> ``"world"``, ``"▁the"`` -> ``"the"``,
        ``"Ċ"`` -> ``"\\n"``; a token that is only a space marker becomes ``"␣"``.

    Example
    -------
    >>> [clean_token(t) for t in ["##ing", "Ġworld", "▁the", "▁", "[CLS]"]]
    ['ing', 'world', 'the', '␣', '[CLS]']
    """
    token = str(token)
    if token.startswith("##") and len(token) > 2:
        token = token[2:]
    for marker, text in _MARKERS.items():
        token = token.replace(marker, text)
    stripped = token.strip(" ")
    return stripped if stripped else ("␣" if token else token)


def capture(
    model: Model,
    inputs: str | tuple[str, str] | None = None,
    *,
    processor: Processor = None,
    target: str | None = None,
    input_ids: Sequence[int] | None = None,
    attention_mask: Sequence[int] | None = None,
    max_length: int | None = None,
    normalize: bool = False,
) -> AttentionGrid | GridSet:
    """Run ``model`` once on ``text`` and return its attention weights.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Encoder (``BertModel``...), decoder (``GPT2LMHeadModel``...) or
        encoder-decoder (``T5ForConditionalGeneration``, ``BartModel``...).
    inputs : str or (str, str), optional
        The input text (the encoder input for encoder-decoders), or a sentence pair
        ``(text, text_pair)`` (``[CLS] text [SEP] text_pair [SEP]``). Character spans of
        the pair's tokens are shifted by ``len(text) + 1`` so that all spans index
        ``grid.meta["text"] == text + "\\n" + text_pair``.
    processor : transformers tokenizer, optional
        The model's tokenizer.  May be None when ``input_ids`` are given; labels
        are then the ids.
    target : str, optional
        Encoder-decoders only, and required there: the target text (or a decoder
        prompt).  The decoder sees it shifted right after its start token, as in
        teacher-forced training.
    input_ids : sequence of int, optional
        Pre-tokenised input instead of ``text`` (tokenizer-less models).
    attention_mask : sequence of int, optional
        With ``input_ids``: 0 marks padding; padded positions are dropped from the grid.
    max_length : int, optional
        Token limit (default: the model's maximum).  Longer input is truncated
        with a :class:`TokenOverflowWarning` stating how many tokens were dropped.
    normalize : bool
        Renormalise every row to sum to 1 (recorded in ``meta["normalized"]``).  Off by
        default: the grid holds the model's own weights.  Models with attention sinks
        (gpt-oss) report the sink's share instead: ``meta["sink_mass"][layer][head]``, one
        value per query (labels as in ``grid.layers`` / ``grid.heads``), rows + sink = 1.

    Returns
    -------
    AttentionGrid or GridSet
        Encoders and decoders: one self-attention grid ``(L, H, T, T)`` with layers
        ``"layer.0"``...  Encoder-decoders: a GridSet ``encoder`` / ``decoder`` / ``cross``
        of grids with layers ``"encoder.i"``, ``"decoder.i"``, ``"cross.i"``; the cross
        grid has decoder queries and encoder keys.  Layer labels are the model's own layer
        indices: a hybrid model whose layer 1 is its only attention layer gives ``"layer.1"``.

    Raises
    ------
    ValueError
        Empty text, both or neither of ``text`` / ``input_ids``, ``max_length`` above
        the model maximum, token ids outside the model's vocabulary (tokenizer and
        model do not match), a missing ``target`` for an encoder-decoder.
    RuntimeError
        The model returned no attention weights.
    UnsupportedModelError
        A model without attention layers (Mamba), a forward without ``output_attentions``,
        layers over different token counts (Funnel).
    AttentionTooLargeError
        The grids would not fit in memory (estimated from the config and the token count,
        before the forward): stream summaries with :func:`multiattn.capture_stream`.

    Example
    -------
    >>> model, tokenizer = multiattn.load_model("minilm")  # doctest: +SKIP
    >>> grid = capture(model, "The cat sat.", processor=tokenizer)  # doctest: +SKIP
    >>> grid.shape, grid.query.labels  # doctest: +SKIP
    ((6, 12, 6, 6), ('[CLS]', 'the', 'cat', 'sat', '.', '[SEP]'))
    """
    batch, encoded, target_enc, meta = _prepare(
        model, inputs, processor, target=target, input_ids=input_ids,
        attention_mask=attention_mask, max_length=max_length)
    n_target = None if target_enc is None else len(target_enc["ids"])
    hooked = _hooked_parts(model, target_enc is not None)
    _text_grid.check_memory(model, len(encoded["ids"]), n_target, written=bool(hooked))
    parts = _parts(encoded, target_enc)
    writers = _write_hooked(model, batch, hooked, parts) if hooked else _write_tuple(model, batch, parts)
    if target_enc is None:
        writer = writers["layer"]
        return _grid(writer, "layer", parts["layer"][0], "self", meta, model, normalize,
                     attention_layers(model, writer.count))
    return GridSet({name: _grid(writers[name], name, axes, kind, meta, model, normalize)
                    for name, (axes, _, kind) in parts.items()}, meta=meta)


_Part = tuple[tuple[TokenAxis, TokenAxis], tuple[np.ndarray, np.ndarray], str]


def _parts(encoded: dict, target_enc: dict | None) -> dict[str, _Part]:
    """``{part: ((query axis, key axis), (query keep, key keep), kind)}`` of the grids a capture returns:
    ``"layer"`` alone, or ``"encoder"`` / ``"decoder"`` / ``"cross"`` (decoder queries, encoder keys)."""
    axis, keep = encoded["axis"], np.asarray(encoded["mask"], dtype=bool)
    if target_enc is None:
        return {"layer": ((axis, axis), (keep, keep), "self")}
    dec_axis, dec_keep = target_enc["axis"], np.ones(len(target_enc["axis"]), dtype=bool)
    return {"encoder": ((axis, axis), (keep, keep), "self"),
            "decoder": ((dec_axis, dec_axis), (dec_keep, dec_keep), "self"),
            "cross": ((dec_axis, axis), (dec_keep, keep), "cross")}


def _hooked_parts(model: Model, seq2seq: bool) -> dict[str, list[tuple[str, torch.nn.Module, int]]]:
    """The modules the model's own ``output_attentions`` reads (transformers >= 5 recorders), to hook,
    per part: ``"layer"``, or ``"encoder"`` / ``"decoder"`` / ``"cross"`` (self-attention inside the
    model's ``get_encoder()`` is the encoder's).  Empty for older-style code (MVP) and Longformer's /
    LED's band: those keep the model's tuple.

    Example
    -------
    >>> {part: len(modules) for part, modules in _hooked_parts(t5_model, True).items()}  # doctest: +SKIP
    {'encoder': 6, 'decoder': 6, 'cross': 6}
    """
    if getattr(model.config, "attention_window", None) is not None:
        return {}
    recorded = recorded_attentions(model)
    if not seq2seq:
        if not recorded or any(key != "attentions" for key, *_ in recorded):
            return {}
        return {"layer": [(name, module, index) for _, name, module, index in recorded]}
    get_encoder = getattr(model, "get_encoder", None)
    encoder = get_encoder() if callable(get_encoder) else None
    inside = {id(m) for m in encoder.modules()} if encoder is not None else set()
    parts: dict[str, list] = {"encoder": [], "decoder": [], "cross": []}
    for key, name, module, index in recorded:
        if key not in ("attentions", "cross_attentions"):
            return {}
        part = "cross" if key == "cross_attentions" else "encoder" if id(module) in inside else "decoder"
        parts[part].append((name, module, index))
    return parts if all(parts.values()) else {}


def _write_hooked(model: Model, batch: dict[str, torch.Tensor], hooked: dict[str, list],
                  parts: dict[str, _Part]) -> dict[str, _text_grid.LayerWriter]:
    """One forward with a hook on every attention module writing its layer into its part's grid as it
    is made; the weights are dropped from the module's output, so the model keeps none of them.

    Models on transformers' attention interface write their softmax straight into the grid
    (:mod:`._grid_attention`: one ``H × Q × K`` temporary instead of two); if a module did not call
    the interface, the forward runs again on eager attention."""
    from ._grid_attention import writes_in_place

    in_place = writes_in_place(model) and all(keep.all() for _, keeps, _ in parts.values() for keep in keeps)
    writers = _forward_hooked(model, batch, hooked, parts, in_place)
    if in_place and any(writer.count < len(hooked[name]) for name, writer in writers.items()):
        writers = _forward_hooked(model, batch, hooked, parts, False)
    for name, writer in writers.items():
        if writer.count < len(hooked[name]):  # a module returned no weights (a kernel that never makes them)
            require_attentions([None], "self" if name == "layer" else name, model)
    return writers


def _forward_hooked(model: Model, batch: dict[str, torch.Tensor], hooked: dict[str, list],
                    parts: dict[str, _Part], in_place: bool) -> dict[str, _text_grid.LayerWriter]:
    """The forward of :func:`_write_hooked`: eager attention, or ``in_place`` on ``"multiattn_grid"``."""
    import torch

    from ._grid_attention import grid_attention
    from ._guard import layers_and_heads
    from ._stream import hf_attention_hooks

    writers = {}
    for name, (_, keeps, kind) in parts.items():
        # self-attention only: shared layers (ALBERT) call one module once per model layer
        capacity = len(hooked[name])
        if name == "layer":
            capacity = max(capacity, layers_and_heads(model)[0])
        writers[name] = _text_grid.LayerWriter(model, capacity, keeps, causal=kind == "self", what=name)
    route = {module_name: writers[part] for part, modules in hooked.items() for module_name, _, _ in modules}
    modules = [entry for entry_list in hooked.values() for entry in entry_list]
    attention = grid_attention(model, {id(module): route[name] for name, module, _ in modules}) if in_place \
        else eager_attention(model)
    with eval_mode(model), attention, torch.no_grad(), \
            hf_attention_hooks(modules, lambda name, weights: route[name](name, weights), drop=True,
                               strict=False):
        model(**batch, output_attentions=False, return_dict=True)
    return writers


def _write_tuple(model: Model, batch: dict[str, torch.Tensor], parts: dict[str, _Part],
                 ) -> dict[str, _text_grid.LayerWriter]:
    """Models without recorders: the forward's ``output_attentions`` tuple copied one layer at a time."""
    import torch

    with eval_mode(model), eager_attention(model), torch.no_grad():
        output = model(**batch, output_attentions=True, return_dict=True)
    fields = {"layer": "attentions", "encoder": "encoder_attentions", "decoder": "decoder_attentions",
              "cross": "cross_attentions"}
    writers = {}
    for name, (_, keeps, kind) in parts.items():
        what = "self" if name == "layer" else name
        attentions = require_attentions(getattr(output, fields[name], None), what, model)
        writers[name] = _written(attentions, model, keeps, kind, name)
    return writers


def _written(attentions: Sequence[torch.Tensor], model: Model, keeps: tuple[np.ndarray, np.ndarray],
             kind: str, what: str) -> _text_grid.LayerWriter:
    """A model's tuple of per-layer tensors through the same writer (one layer copied at a time)."""
    writer = _text_grid.LayerWriter(model, len(attentions), keeps, causal=kind == "self", what=what)
    for layer in attentions:
        writer(what, layer)
    return writer


def prepare(model: Model, inputs: str | tuple[str, str] | None = None, *, processor: Processor = None,
            **options: Any) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments for ``inputs`` (tensors of batch 1).

    The checks and tokenisation of :func:`capture` (same parameters; ``options`` are its
    keyword options ``target``, ``input_ids``, ``attention_mask``, ``max_length``, each of
    its own type), without the forward;
    :func:`multiattn.capture_stream` feeds them to the model.

    Example
    -------
    >>> prepare(model, "The cat sat.", processor=tokenizer)["input_ids"].shape  # doctest: +SKIP
    torch.Size([1, 6])
    """
    return _prepare(model, inputs, processor, **options)[0]


def _prepare(model: Model, inputs: str | tuple[str, str] | None, processor: Processor,
             target: str | None = None, input_ids: Sequence[int] | None = None,
             attention_mask: Sequence[int] | None = None, max_length: int | None = None,
             ) -> tuple[dict[str, torch.Tensor], dict, dict | None, dict]:
    """``(forward kwargs, encoding, target encoding, meta)`` for :func:`capture` (same options)."""
    import torch

    config = getattr(model, "config", None)
    if config is None or not callable(model):
        raise MultiattnTypeError(
            f"capture needs a Hugging Face transformers model with a .config, got {type(model).__name__}"
        )
    _text_grid.check_capturable(model)
    text, text_pair = _split_pair(inputs)
    tokenizer = getattr(processor, "tokenizer", processor)  # a multimodal processor carries its tokenizer
    if tokenizer is not None and not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise MultiattnTypeError(
            f"processor= must be the model's tokenizer for text, got {type(processor).__name__}; "
            "load both with multiattn.load_model(...) or transformers.AutoTokenizer.from_pretrained(folder)")
    limit = _model_limit(model, tokenizer, max_length)
    encoded = _encode(tokenizer, text, text_pair, input_ids, attention_mask, limit)
    _check_vocab(model, tokenizer, encoded["ids"], "input")
    meta = {
        "model": str(getattr(config, "_name_or_path", "") or getattr(config, "model_type", "")),
        "model_class": type(model).__name__,
        "source": "multiattn.adapters.text.capture",
        "text": encoded["text"],
    }
    batch = {
        "input_ids": torch.tensor([encoded["ids"]]),
        "attention_mask": torch.tensor([encoded["mask"]]),
    }
    # segment ids only for models with a segment embedding (BERT); GPT-2 would add wte[0] to every token
    if encoded.get("token_type_ids") is not None and hasattr(config, "type_vocab_size"):
        batch["token_type_ids"] = torch.tensor([encoded["token_type_ids"]])
    target_enc = None
    if getattr(config, "is_encoder_decoder", False):
        target_enc = _encode_target(model, tokenizer, target)
        batch["decoder_input_ids"] = torch.tensor([target_enc["ids"]])
        meta["target"] = target
    elif target is not None:
        raise MultiattnValueError(
            f"target= is only for encoder-decoder models; {type(model).__name__} is not one. "
            "Put the whole text in `inputs`."
        )
    return batch, encoded, target_enc, meta


def _split_pair(inputs: object) -> tuple[str | None, str | None]:
    """``"text"`` -> (text, None); ``("text", "pair")`` -> both; anything else is refused."""
    if inputs is None or isinstance(inputs, str):
        return inputs, None
    if isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[0], str) \
            and (inputs[1] is None or isinstance(inputs[1], str)):
        return inputs[0], inputs[1]
    if isinstance(inputs, list):
        raise MultiattnTypeError(
            f"a list of {len(inputs)} inputs: capture takes one text, or a (text, text_pair) tuple; for many "
            "texts call it once per text, or summarise a corpus with multiattn.capture_stream")
    raise MultiattnTypeError(
        f"text inputs must be a str or a (text, text_pair) tuple of str, got {type(inputs).__name__}"
    )


def _grid(writer: _text_grid.LayerWriter, prefix, axes, kind, meta, model, normalize,
          layer_ids=None) -> AttentionGrid:
    """The written float32 ``(L, H, Q, K)`` values (padding dropped) wrapped in a grid labelled
    with the model's layer indices, sinks reported."""
    query, key = axes
    values = writer.result()
    if values.size == 0:
        raise MultiattnRuntimeError(f"the {prefix} attention capture is empty (shape {values.shape})")
    layers = [f"{prefix}.{i}" for i in (layer_ids or range(values.shape[0]))]
    meta = dict(meta)
    if kind == "self":
        meta["causal"] = bool(writer.causal)
    sink = _text_grid.sink_mass(model, values)
    if sink is not None:  # keyed by labels, so it stays right after grid.select(...)
        meta["sink_mass"] = {layer: {str(h): row.tolist() for h, row in enumerate(heads)}
                             for layer, heads in zip(layers, sink)}
        meta["sink"] = ("a learned per-head sink logit takes part in the softmax but is no token: "
                        "meta['sink_mass'][layer][head] is its share for each query, rows + sink = 1")
    return AttentionGrid(values, query, None if key is query else key, layers=layers, kind=kind,
                         meta=meta, normalize=normalize, check_rows=sink is None)


def _model_limit(model: Model, tokenizer: Processor, max_length: int | None) -> int | None:
    """The largest number of tokens the model accepts (None: no known limit)."""
    config = model.config
    limits = [
        getattr(config, name, None) for name in ("max_position_embeddings", "n_positions")
    ]
    tok_limit = getattr(tokenizer, "model_max_length", None)
    limits.append(tok_limit if isinstance(tok_limit, int) and tok_limit < _UNBOUNDED else None)
    known = [int(v) for v in limits if isinstance(v, int) and v > 0]
    model_max = min(known) if known else None
    if max_length is None:
        return model_max
    if int(max_length) < 1:
        raise MultiattnValueError(f"max_length must be a positive number of tokens, got {max_length}")
    if model_max is not None and max_length > model_max:
        raise MultiattnValueError(
            f"max_length={max_length} exceeds the model maximum of {model_max} tokens; "
            f"pass max_length <= {model_max}"
        )
    return int(max_length)


def _encode(tokenizer, text, text_pair, input_ids, attention_mask, limit) -> dict:
    """Token ids, mask, display axis and source text of the (first) input."""
    if (text is None) == (input_ids is None):
        raise MultiattnValueError("pass exactly one of `text` (with a tokenizer) or `input_ids`")
    if input_ids is not None:
        return _encode_ids(tokenizer, input_ids, attention_mask, limit)
    if tokenizer is None:
        raise MultiattnValueError("a tokenizer is needed to capture from `text`; or pass input_ids=[...]")
    if attention_mask is not None:
        raise MultiattnValueError("attention_mask goes with input_ids; the tokenizer builds it for `text`")
    for name, value in (("text", text), ("text_pair", text_pair)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise MultiattnValueError(
                f"{name} is empty (or not a string): give at least one word, got {value!r}")
        if value is not None and not any(ch.isprintable() and not ch.isspace() for ch in value):
            raise MultiattnValueError(
                f"{name} holds only control characters ({value!r}): give at least one word")
    kwargs = {"return_special_tokens_mask": True, "return_token_type_ids": True}
    full = tokenizer(text, text_pair, **kwargs)
    n_tokens = len(full["input_ids"])
    if limit is not None and n_tokens > limit:
        warnings.warn(
            f"the text has {n_tokens} tokens but the model accepts at most {limit}: dropped the last "
            f"{n_tokens - limit} tokens (pass shorter text, or max_length=... to choose the cut)",
            TokenOverflowWarning, stacklevel=3,
        )
        kwargs.update(truncation=True, max_length=limit)
    try:
        enc = tokenizer(text, text_pair, return_offsets_mapping=True, **kwargs)
        offsets = list(enc["offset_mapping"])
    except (NotImplementedError, ValueError, TypeError):  # slow tokenizers have no offsets
        enc, offsets = tokenizer(text, text_pair, **kwargs), None
    ids = list(enc["input_ids"])
    specials = [bool(s) for s in enc["special_tokens_mask"]]
    source = text if text_pair is None else f"{text}\n{text_pair}"
    spans = None
    if offsets is not None:
        sequence_ids = enc.sequence_ids() if hasattr(enc, "sequence_ids") else [0] * len(ids)
        shift = {0: 0, 1: len(text) + 1}
        spans = [
            (0, 0) if special or seq is None else (int(a) + shift[seq], int(b) + shift[seq])
            for (a, b), special, seq in zip(offsets, specials, sequence_ids)
        ]
    labels = [clean_token(t) for t in tokenizer.convert_ids_to_tokens(ids)]
    return {
        "ids": ids,
        "mask": list(enc.get("attention_mask", [1] * len(ids))),
        "token_type_ids": enc.get("token_type_ids"),
        "axis": TokenAxis(labels, specials, spans),
        "text": source,
    }


def _encode_ids(tokenizer, input_ids, attention_mask, limit) -> dict:
    array = np.asarray(input_ids)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer) and array.size:
        raise MultiattnValueError(
            f"input_ids must be one sequence (1-D) of ints, got shape {array.shape} dtype {array.dtype}; "
            "capture one text at a time"
        )
    ids = [int(i) for i in array]
    if not ids:
        raise MultiattnValueError("input_ids is empty: give at least one token id")
    mask = [1] * len(ids) if attention_mask is None else [int(m) for m in attention_mask]
    if len(mask) != len(ids):
        raise MultiattnValueError(f"attention_mask has {len(mask)} entries but input_ids has {len(ids)}")
    if not any(mask):
        raise MultiattnValueError("attention_mask is all zeros: every position would be padding")
    if limit is not None and len(ids) > limit:
        warnings.warn(
            f"input_ids has {len(ids)} tokens but the model accepts at most {limit}: dropped the last "
            f"{len(ids) - limit} tokens",
            TokenOverflowWarning, stacklevel=3,
        )
        ids, mask = ids[:limit], mask[:limit]
    kept = [i for i, m in zip(ids, mask) if m]
    if tokenizer is None:
        labels, specials = [str(i) for i in kept], None
    else:
        special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
        labels = [clean_token(t) for t in tokenizer.convert_ids_to_tokens(kept)]
        specials = [i in special_ids for i in kept]
    return {"ids": ids, "mask": mask, "axis": TokenAxis(labels, specials), "text": " ".join(labels)}


def _encode_target(model: Model, tokenizer: Processor, target: str | None) -> dict:
    """Decoder input (target shifted right after the start token) and its axis."""
    if target is None or tokenizer is None:
        raise MultiattnValueError(
            f"{type(model).__name__} is an encoder-decoder: pass target='...' (the target text "
            "or a decoder prompt) and the tokenizer, so the decoder has tokens to attend from"
        )
    if not isinstance(target, str) or not target.strip():
        raise MultiattnValueError(
            f"target is empty: give the target text or a decoder prompt, got {target!r}")
    labels = tokenizer(text_target=target)["input_ids"]
    _check_vocab(model, tokenizer, labels, "target")
    ids = _shift_right(model, labels)
    special_ids = set(tokenizer.all_special_ids)
    special_ids.add(model.config.decoder_start_token_id)
    tokens = [clean_token(t) for t in tokenizer.convert_ids_to_tokens(ids)]
    return {"ids": ids, "axis": TokenAxis(tokens, [i in special_ids for i in ids])}


def _shift_right(model: Model, labels: list[int]) -> list[int]:
    """Teacher-forced decoder input: the model's own shift, else ``[decoder_start] + labels[:-1]``
    (base models such as T5Model have no shift; EncoderDecoderModel's refuses a missing pad id)."""
    import torch

    prepare = getattr(model, "prepare_decoder_input_ids_from_labels", None)
    if callable(prepare):
        try:
            return prepare(labels=torch.tensor([labels]))[0].tolist()
        except ValueError:  # a config id the shift wants (pad_token_id) is unset: shift by hand
            pass
    start = getattr(model.config, "decoder_start_token_id", None)
    if not isinstance(start, int):
        raise MultiattnValueError(
            f"{type(model).__name__} cannot build decoder inputs from a target text: set "
            "model.config.decoder_start_token_id (the token the decoder starts from)")
    return [start, *labels[:-1]]


def _check_vocab(model: Model, tokenizer: Processor, ids: Sequence[int], what: str) -> None:
    """Token ids beyond the embedding table mean the tokenizer belongs to another model."""
    try:
        embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    except NotImplementedError:  # models that embed characters or bytes (CANINE)
        embeddings = None
    size = getattr(embeddings, "num_embeddings", None) or getattr(model.config, "vocab_size", None)
    if size is None or not ids:
        return
    worst = max(ids)
    if worst >= size or min(ids) < 0:
        tok_name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise MultiattnValueError(
            f"{what} token id {worst if worst >= size else min(ids)} is outside the model's vocabulary "
            f"of {size} ids: the tokenizer ({tok_name}) does not match {type(model).__name__} "
            f"({getattr(model.config, '_name_or_path', '')}); load both from the same checkpoint"
        )
