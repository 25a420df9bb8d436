"""Whisper under capture: audio in, 30 s windows, log-mel features, greedy / forced decoding, token axes."""

from __future__ import annotations

import difflib
import os
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError, MultiattnWarning

from ..axes import TokenAxis
from ._hf import eager_attention, require_attentions

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from .._types import ArrayLike, Model, Processor

__all__ = [
    "BEAM_SIZE",
    "CLIP_FRACTION",
    "FRAME_S",
    "HOP",
    "MAX_NEW_TOKENS",
    "MISMATCH_PROB",
    "N_MEL_FRAMES",
    "SAMPLE_RATE",
    "SILENCE_PEAK",
    "TIMESTAMPS",
    "WINDOW",
    "WINDOW_S",
    "CT2_DIR_ATTR",
    "block_diagonal",
    "ct2_engine",
    "MAX_INITIAL_TIMESTAMP_INDEX",
    "check_beam_size",
    "decode_ct2",
    "decode_encoded",
    "decoding_prompt",
    "check_model",
    "encode",
    "encoder_layers",
    "features",
    "window_features",
    "forced",
    "greedy",
    "normal_word",
    "prepare_audio",
    "prompt",
    "require_greedy",
    "split_transcript",
    "suppressed",
    "text_tokens",
    "token_axis",
    "windows",
]


SAMPLE_RATE = 16000
#: Seconds per encoder frame (2 mel hops of 10 ms).
FRAME_S = 0.02
#: Whisper's input window.
WINDOW_S = 30.0
WINDOW = int(WINDOW_S * SAMPLE_RATE)
SILENCE_PEAK = 1e-4
CLIP_FRACTION = 0.01
MISMATCH_PROB = 0.1
MAX_NEW_TOKENS = 224
#: Default decoding (see :func:`decode_ct2`): beam search of width 5 when CTranslate2 decodes
#: (faster-whisper's default; the Hugging Face loop is greedy), without timestamp tokens: on the
#: held-out espeak-ng corpus and the samples the most accurate of beam 1 / 5 x timestamps on / off
#: for tiny.en and base (``benchmarks/bench_whisper.py``).
BEAM_SIZE = 5
TIMESTAMPS = False

def prepare_audio(audio: ArrayLike, sr: int) -> tuple[np.ndarray, list[str]]:
    """Mono float32 at 16 kHz, validated; also the warnings raised about it.

    Parameters
    ----------
    audio : array
        ``(samples,)`` mono, or 2-D with channels on the shorter axis (``(samples, channels)``
        as soundfile reads it, or ``(channels, samples)`` as librosa does). Integer PCM is
        scaled to ``[-1, 1]`` (int16 / 32768, uint8 centred on 128) before channels are mixed;
        see :mod:`multiattn._audio`, shared with the HTML audio view.
    sr : int
        Sample rate of ``audio`` in Hz; resampled to 16 kHz with soxr (HQ).

    Returns
    -------
    audio : ndarray float32 ``(samples,)`` at 16 kHz
    notes : list of str
        Warnings issued (clipping), also recorded in the grids' ``meta``.

    Raises
    ------
    ValueError
        Empty audio, NaN/inf samples, more than 2 dims, non-positive ``sr``, or digital silence.

    Example
    -------
    >>> mono, notes = prepare_audio(np.zeros((44100, 2)) + 0.1, 44100)  # doctest: +SKIP
    >>> mono.shape  # doctest: +SKIP
    (16000,)
    """
    from .._audio import mono_float32, resample

    arr, rate = mono_float32(audio, sr)
    peak = float(np.abs(arr).max())
    if peak < SILENCE_PEAK:
        raise MultiattnValueError(
            f"audio is silent (peak amplitude {peak:.1e}); there is no speech to transcribe or align"
        )
    notes = []
    clipped = float(np.mean(np.abs(arr) >= 0.999 * peak)) if peak >= 0.99 else 0.0
    if clipped > CLIP_FRACTION:
        notes.append(f"audio is clipped ({clipped:.1%} of samples at full scale); "
                     "timings and transcription may be less accurate")
        warnings.warn(notes[-1], MultiattnWarning, stacklevel=3)
    return resample(arr, rate, SAMPLE_RATE), notes


def features(processor: Processor, window: np.ndarray) -> torch.Tensor:
    """Log-mel features of one window as Hugging Face computes them (waveform zero-padded to 30 s)."""
    return processor.feature_extractor(
        window, sampling_rate=SAMPLE_RATE, return_tensors="pt"
    ).input_features


#: Mel frames per second (10 ms hop) and per 30 s window.
HOP = 160
N_MEL_FRAMES = WINDOW // HOP


def window_features(processor: Processor, mono: np.ndarray) -> list[torch.Tensor]:
    """Log-mel features of each 30 s window, padded as openai-whisper pads them.

    openai-whisper computes the log-mel spectrogram of the whole recording followed by 30 s
    of zeros (one dynamic-range clamp for the file) and pads each window's *spectrogram*
    with zeros up to 3000 frames (``transcribe.py``: ``log_mel_spectrogram(audio,
    padding=N_SAMPLES)``, ``pad_or_trim(mel_segment, N_FRAMES)``); Hugging Face pads the
    *waveform* instead, which changes the features of the padding and so the attention.

    Returns
    -------
    list of torch.Tensor ``(1, n_mels, 3000)``, one per window of :func:`windows`.

    Example
    -------
    >>> [f.shape for f in window_features(processor, np.zeros(16000 * 40))]  # doctest: +SKIP
    [torch.Size([1, 80, 3000]), torch.Size([1, 80, 3000])]
    """
    import torch

    padded = np.concatenate([np.asarray(mono, np.float32), np.zeros(WINDOW, np.float32)])
    mel = processor.feature_extractor(padded, sampling_rate=SAMPLE_RATE, return_tensors="pt",
                                      padding="longest", truncation=False).input_features
    content = len(mono) // HOP  # openai-whisper: mel.shape[-1] - N_FRAMES
    out = []
    for seek in range(0, len(mono), WINDOW):
        start = seek // HOP
        segment = mel[:, :, start : min(start + N_MEL_FRAMES, content)]
        out.append(torch.nn.functional.pad(segment, (0, N_MEL_FRAMES - segment.shape[-1])))
    return out


def suppressed(model: Model) -> tuple[list[int], list[int]]:
    """Tokens never generated (specials, timestamps, the config's list) and not generated first."""
    generation = model.generation_config
    eot = generation.eos_token_id
    specials = range(eot + 1, model.config.vocab_size)
    always = sorted(set(generation.suppress_tokens or []) | set(specials))
    begin = sorted(set(generation.begin_suppress_tokens or []) | {eot})
    return always, begin


def prompt(model: Model) -> list[int]:
    """``[<|startoftranscript|>, <|notimestamps|>]``; a fresh ``generation_config`` lacks the second.

    Whisper's vocabulary ends with 1501 timestamp tokens right after ``<|notimestamps|>``
    (50362 in tiny.en's 51864, 50363 in the multilingual 51865, 50364 in large-v3's 51866).
    """
    generation = model.generation_config
    no_timestamps = getattr(generation, "no_timestamps_token_id", None)
    if no_timestamps is None:
        no_timestamps = model.config.vocab_size - 1502
        if no_timestamps <= (generation.eos_token_id or 0):
            raise MultiattnValueError(
                f"generation_config has no no_timestamps_token_id and vocab_size {model.config.vocab_size} "
                "is not Whisper's; set model.generation_config.no_timestamps_token_id = "
                "processor.tokenizer.convert_tokens_to_ids('<|notimestamps|>')")
    # a multilingual model converted by multiattn.zoo transcribes English: <|en|> <|transcribe|>
    extra = list(getattr(generation, "multiattn_prompt_extra", None) or [])
    return [generation.decoder_start_token_id, *extra, no_timestamps]


def encode(model: Model, features: torch.Tensor, attentions: bool | Sequence[int]) -> BaseModelOutput:
    """Run the encoder once; ``attentions``: False, True (every layer) or the layers to keep.

    Every layer runs on eager attention when all are wanted. For a few layers the encoder stays on
    SDPA and each kept layer's weights are recomputed from its queries and keys as the layer runs
    (``softmax(q kᵀ)``, the same float32 product eager attention makes), so one layer for a picture
    costs a fraction of an eager encoder. ``attentions`` of the output holds the kept layers only,
    in encoder order.

    Example
    -------
    >>> out = encode(model, mel, attentions=[-1])  # doctest: +SKIP
    >>> len(out.attentions), out.attentions[0].shape  # last layer of tiny.en  # doctest: +SKIP
    (1, torch.Size([1, 6, 1500, 1500]))
    """
    import torch

    if attentions is False:
        with torch.no_grad():
            return model.model.encoder(features)
    if attentions is True:
        with eager_attention(model), torch.no_grad():
            return model.model.encoder(features, output_attentions=True)
    return _encode_layers(model, features, encoder_layers(model, attentions))


def encoder_layers(model: Model, layers: Sequence[int]) -> list[int]:
    """Encoder layer indices (negative counted from the end), sorted, checked against the model."""
    count = model.config.encoder_layers
    try:
        chosen = sorted({int(i) % count for i in layers if -count <= int(i) < count})
    except (TypeError, ValueError):
        raise MultiattnValueError(
            f"keep_encoder takes True, False or encoder layer indices, got {layers!r}") from None
    if len(chosen) != len(set(layers)) or not chosen:
        raise MultiattnValueError(f"keep_encoder layers {list(layers)} are not distinct layers of the "
                                  f"{count}-layer encoder (0..{count - 1}, or -1 for the last)")
    return chosen


def _encode_layers(model: Model, features: torch.Tensor, layers: list[int]) -> BaseModelOutput:
    """The encoder on SDPA with ``layers``' attention recomputed from their queries and keys."""
    import torch

    from ._blockwise import block_attention, row_blocks

    kept: dict[int, torch.Tensor] = {}

    def keep(index: int):
        def callback(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor,
                     mask: torch.Tensor | None, kwargs: dict) -> None:
            scaling = kwargs.get("scaling")
            scaling = query.shape[-1] ** -0.5 if scaling is None else float(scaling)
            (_, rows), = row_blocks(query, key, mask, scaling, False, int(query.shape[2]))
            kept[index] = torch.from_numpy(rows)[None]
        return callback

    modules = {id(model.model.encoder.layers[i].self_attn): keep(i) for i in layers}
    with block_attention(model, modules), torch.no_grad():
        out = model.model.encoder(features)
    out.attentions = tuple(kept[i] for i in layers)
    return out


def greedy(model: Model, encoder_out: BaseModelOutput, max_new_tokens: int) -> list[int]:
    """Greedy decoding without timestamps; returns the text token ids (no specials)."""
    import torch

    always, begin = suppressed(model)
    eot = model.generation_config.eos_token_id
    ids = prompt(model)
    with torch.no_grad():
        past = None
        step_input = torch.tensor([ids])
        for step in range(max_new_tokens):
            out = model(encoder_outputs=encoder_out, decoder_input_ids=step_input, cache=past,
                        use_cache=True)
            logits = out.logits[0, -1].clone()
            logits[always] = -np.inf
            if step == 0:
                logits[begin] = -np.inf
            token = int(logits.argmax())
            if token == eot:
                break
            ids.append(token)
            past = out.cache
            step_input = torch.tensor([[token]])
    return ids[len(prompt(model)):]


def check_model(model: Model) -> None:
    """Refuse anything but a Whisper encoder-decoder, naming the adapter that takes it."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type != "whisper" or not hasattr(model, "generation_config"):
        speech = model_type in ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat")
        raise MultiattnValueError(
            f"the Whisper adapter takes a WhisperForConditionalGeneration, got {type(model).__name__} "
            f"(model_type={model_type!r}); "
            + ("a speech encoder has no decoder to align text with: use multiattn.capture(model, audio) "
               "or multiattn.adapters.speech.capture for its encoder self-attention" if speech else
               "multiattn.capture(model, inputs) picks the adapter of a model"))


#: Attribute of a model converted from a CTranslate2 folder: that folder (decoded there when
#: ``ctranslate2`` is installed; the attention still comes from one Hugging Face forward).
CT2_DIR_ATTR = "multiattn_ctranslate2_dir"


@lru_cache(maxsize=2)
def _ct2_whisper(folder: str) -> Any:
    import ctranslate2

    threads = max(1, min(4, os.cpu_count() or 1))
    return ctranslate2.models.Whisper(folder, device="cpu", compute_type="float32", intra_threads=threads)


def ct2_engine(model: Model) -> Any | None:
    """The CTranslate2 Whisper of the folder ``model`` was converted from, or None.

    None when the model did not come from a CTranslate2 folder or ``ctranslate2`` is not installed
    (then decoding falls back to the Hugging Face loop, same tokens up to float rounding).
    """
    folder = getattr(model, CT2_DIR_ATTR, None)
    if folder is None:
        return None
    try:
        return _ct2_whisper(str(folder))
    except ImportError:
        return None


#: faster-whisper's latest first timestamp when timestamps are decoded (``max_initial_timestamp=1.0`` s
#: in 20 ms steps).
MAX_INITIAL_TIMESTAMP_INDEX = 50


def decoding_prompt(model: Model, timestamps: bool) -> list[int]:
    """The prompt decoding starts from: :func:`prompt`, without ``<|notimestamps|>`` when ``timestamps``.

    Example
    -------
    >>> decoding_prompt(model, False), decoding_prompt(model, True)  # tiny.en  # doctest: +SKIP
    ([50257, 50362], [50257])
    """
    ids = prompt(model)
    return ids[:-1] if timestamps else ids


def check_beam_size(beam_size: int | None) -> int | None:
    """``beam_size`` as an int >= 1 (or None: the default of the decoder), or a one-line error."""
    if beam_size is None:
        return None
    if isinstance(beam_size, bool) or not isinstance(beam_size, (int, np.integer)) or beam_size < 1:
        raise MultiattnValueError(f"beam_size must be an integer >= 1 (1: greedy; faster-whisper's default "
                                  f"is 5), got {beam_size!r}")
    return int(beam_size)


def decode_ct2(engine: Any, model: Model, inputs: list[torch.Tensor], max_new_tokens: int,
               beam_size: int | None = None, timestamps: bool = TIMESTAMPS) -> list[list[int]]:
    """Text tokens of each window decoded by CTranslate2 (greedy or beam search).

    The options are faster-whisper's (``suppress_blank``, its ``suppress_tokens=[-1]`` list, which
    is the model config's, plus the special tokens); ``timestamps=True`` decodes in timestamp mode
    (the prompt without ``<|notimestamps|>``, the first timestamp within 1 s, as faster-whisper's
    ``transcribe`` does by default) and drops the timestamp tokens from the result.

    Parameters
    ----------
    inputs : list of torch.Tensor
        One per window: log-mel features ``(1, n_mels, 3000)`` (CTranslate2 runs its encoder), or
        encoder outputs ``(1, 1500, d_model)`` (``last_hidden_state`` of :func:`encode`; CTranslate2
        then decodes only, so an alignment runs the encoder once).
    beam_size : int, optional
        1: greedy; more: beam search (patience 1, length penalty 1, as faster-whisper); default
        :data:`BEAM_SIZE`.
    timestamps : bool
        Decode with timestamp tokens (they condition the text; they are not returned).

    Example
    -------
    >>> mels = window_features(processor, mono)  # doctest: +SKIP
    >>> decode_ct2(ct2_engine(model), model, mels, 224, beam_size=5)  # doctest: +SKIP
    [[383, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]]
    """
    import ctranslate2

    features = ctranslate2.StorageView.from_array(
        np.ascontiguousarray(np.concatenate([m.numpy() for m in inputs]), dtype=np.float32))
    always, _ = suppressed(model)
    eot = model.generation_config.eos_token_id
    start = decoding_prompt(model, timestamps)
    first_timestamp = prompt(model)[-1] + 1  # the timestamps follow <|notimestamps|>
    suppress = [t for t in always if t != eot and not (timestamps and t >= first_timestamp)]
    beam = check_beam_size(beam_size) or BEAM_SIZE
    results = engine.generate(features, [start] * len(inputs), beam_size=beam,
                              max_length=min(448, max_new_tokens + len(start)), suppress_blank=True,
                              suppress_tokens=suppress,
                              max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX)
    return [[t for t in r.sequences_ids[0] if t < eot] for r in results]


def decode_encoded(model: Model, hidden: list[torch.Tensor], max_new_tokens: int,
                   beam_size: int | None = None, timestamps: bool = TIMESTAMPS) -> list[list[int]]:
    """Text tokens of each window from its encoder output, without running the encoder again.

    CTranslate2 decodes when the model came from a CTranslate2 folder and ``ctranslate2`` is
    installed (:func:`ct2_engine`; options as in :func:`decode_ct2`), else the Hugging Face loop
    (:func:`greedy`: ``beam_size`` None or 1, without timestamps).

    Example
    -------
    >>> hidden = encode(model, window_features(processor, mono)[0], False).last_hidden_state  # doctest: +SKIP
    >>> decode_encoded(model, [hidden], 224, beam_size=5)  # doctest: +SKIP
    [[383, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]]
    """
    from transformers.modeling_outputs import BaseModelOutput

    engine = ct2_engine(model)
    if engine is not None:
        return decode_ct2(engine, model, hidden, max_new_tokens, beam_size, timestamps)
    require_greedy(beam_size, timestamps)
    return [greedy(model, BaseModelOutput(last_hidden_state=h), max_new_tokens) for h in hidden]


def require_greedy(beam_size: int | None, timestamps: bool) -> None:
    """Refuse what the Hugging Face decoding loop does not do (beam search, timestamp mode)."""
    if check_beam_size(beam_size) not in (None, 1) or timestamps:
        raise MultiattnValueError(
            f"beam_size={beam_size} / timestamps={timestamps} need CTranslate2 decoding: install ctranslate2 "
            "and load the model from its CTranslate2 folder (multiattn.load_model('whisper-tiny.en')), or "
            "pass beam_size=1, timestamps=False (the Hugging Face loop decodes greedily)")


def windows(mono: np.ndarray) -> list[np.ndarray]:
    return [mono[i : i + WINDOW] for i in range(0, len(mono), WINDOW)]


def forced(model: Model, hidden: torch.Tensor, tokens: list[int], n_frames: int) -> dict:
    """Teacher-force ``prompt + tokens + eot``; attention arrays cropped to ``n_frames``."""
    import torch

    eot = model.generation_config.eos_token_id
    ids = torch.tensor([prompt(model) + tokens + [eot]])
    with eager_attention(model), torch.no_grad():
        out = model(encoder_outputs=(hidden,), decoder_input_ids=ids, output_attentions=True)
    dec = require_attentions(out.decoder_attentions, "decoder", model)
    cross = require_attentions(out.cross_attentions, "cross", model)
    logprobs = torch.log_softmax(out.logits[0, :-1].float(), dim=-1)
    token_probs = logprobs.gather(1, ids[0, 1:, None])[:, 0].exp().numpy()
    return {
        "ids": ids[0].tolist(),
        "decoder": np.stack([a[0].float().numpy() for a in dec]),
        "cross": np.stack([a[0, :, :, :n_frames].float().numpy() for a in cross]),
        # probability of each input token given the ones before it (None for the first)
        "token_probs": [None] + token_probs.tolist(),
    }


def normal_word(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def split_transcript(words: list[str], decoded: list[str]) -> list[list[str]]:
    """Share a transcript's words among windows by matching them to each window's decoding.

    Transcript words matched (difflib) to a decoded word take that word's window; unmatched
    words follow the window of the matched word before them, so the split stays in order.
    """
    hyp = [(normal_word(w), k) for k, text in enumerate(decoded) for w in text.split()]
    matcher = difflib.SequenceMatcher(a=[normal_word(w) for w in words], b=[h for h, _ in hyp],
                                      autojunk=False)
    window: list[int | None] = [None] * len(words)
    for block in matcher.get_matching_blocks():
        for i in range(block.size):
            window[block.a + i] = hyp[block.b + i][1]
    known = [k for k in window if k is not None]
    current = known[0] if known else 0
    for i, k in enumerate(window):
        current = current if k is None else max(current, k)
        window[i] = current
    return [[w for w, k in zip(words, window) if k == idx] for idx in range(len(decoded))]


def block_diagonal(blocks: list[np.ndarray]) -> np.ndarray:
    """Windows' ``(L, H, rows, cols)`` float32 blocks on one diagonal, zeros elsewhere.

    One block is returned as it is (no copy: a 30 s window's encoder attention is 216 MB in tiny.en).

    Example
    -------
    >>> block_diagonal([np.ones((1, 1, 2, 3), np.float32), np.ones((1, 1, 1, 1), np.float32)])[0, 0]
    array([[1., 1., 1., 0.],
           [1., 1., 1., 0.],
           [0., 0., 0., 1.]], dtype=float32)
    """
    if len(blocks) == 1 and blocks[0].dtype == np.float32:
        return blocks[0]
    layers, heads = blocks[0].shape[:2]
    rows = sum(b.shape[2] for b in blocks)
    cols = sum(b.shape[3] for b in blocks)
    out = np.zeros((layers, heads, rows, cols), np.float32)
    r = c = 0
    for block in blocks:
        out[:, :, r : r + block.shape[2], c : c + block.shape[3]] = block
        r, c = r + block.shape[2], c + block.shape[3]
    return out


def token_axis(tokenizer: Processor, ids: list[int], eot: int) -> tuple[TokenAxis, str]:
    """Token labels and the decoded text.

    Byte-level BPE splits a non-ASCII character over several tokens, each of which decodes to
    U+FFFD on its own; such tokens are decoded together, the text goes to the first token of the
    group and the rest get empty labels, so words stay whole ("café", not "caf��").
    """
    labels, specials, spans, text = [], [], [], ""
    pending: list[int] = []  # indices of tokens whose bytes do not decode yet

    def flush() -> None:
        nonlocal text
        piece = tokenizer.decode([ids[i] for i in pending], skip_special_tokens=False)
        first = pending[0]
        labels[first] = piece
        spans[first] = (len(text), len(text) + len(piece))
        for i in pending[1:]:
            spans[i] = (len(text) + len(piece), len(text) + len(piece))
        text += piece
        pending.clear()

    for index, token in enumerate(ids):
        special = token >= eot
        specials.append(special)
        labels.append("")
        spans.append((0, 0))
        if special:
            if pending:
                flush()
            labels[index] = tokenizer.decode([token], skip_special_tokens=False)
            continue
        pending.append(index)
        decoded = tokenizer.decode([ids[i] for i in pending], skip_special_tokens=False)
        if "\ufffd" not in decoded or len(pending) >= 8:  # complete (or hopeless) byte sequence
            flush()
    if pending:
        flush()
    return TokenAxis(labels, special_mask=specials, char_spans=spans), text


def text_tokens(tokenizer: Processor, text: str) -> list[int]:
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise MultiattnValueError("text is empty; pass the transcript to align, or text=None to decode")
    return tokenizer(" " + cleaned, add_special_tokens=False).input_ids
