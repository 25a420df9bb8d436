"""Sweep: random-init tiny configs of the Hugging Face text families people bring.

For every family that captures: layer / head / token counts, rows that sum to 1 (or the sink's share
reported, rows + sink = 1), the model's output unchanged by the capture, the attention implementation
of every config (sub-models' and nested sub-configs) restored, and values equal to an independent
eager computation (a deep copy switched to ``attn_implementation="eager"``, run with
``output_attentions=True``); streaming gives the same per-layer head means.  Families that cannot
give an attention grid are refused with a message that says why.  Tiny configs (hidden 32, 2 layers,
vocab 100, tests/_text_tiny.py): nothing is downloaded.
"""

import copy
import warnings

import numpy as np
import pytest
import torch

from multiattn import RowSumWarning
from multiattn.adapters._stream import capture_stream
from multiattn.adapters.text import capture
from multiattn.errors import UnsupportedModelError
from multiattn.stream import HeadMean

from ._text_tiny import tiny_model, word_tokenizer
from .test_text_models import _all_configs

IDS = [5, 17, 33, 8, 61, 42, 9, 23]
TEXT, TARGET = "the cat sat on a mat", "a dog ran far"

#: Encoders and decoders that capture.  Hybrids: the layers that are attention (model indices).
SELF = ["bert", "roberta", "distilbert", "albert", "electra", "deberta", "deberta-v2", "modernbert",
        "megatron-bert", "camembert", "xlm-roberta", "mobilebert", "convbert", "roformer", "big_bird",
        "xlnet", "longformer", "gpt2", "gpt_neox", "gptj", "gpt_neo", "gpt_bigcode", "codegen", "ctrl",
        "biogpt", "bloom", "falcon", "opt", "mpt", "phi", "phi3", "llama", "mistral", "mixtral", "qwen2",
        "qwen2_moe", "qwen3", "gemma", "gemma2", "gemma3_text", "stablelm", "starcoder2", "olmo",
        "olmo2", "cohere", "granite", "deepseek_v3", "gpt_oss", "qwen3_next", "lfm2", "jamba",
        "recurrent_gemma"]
HYBRID = {"qwen3_next": [1], "lfm2": [1], "jamba": [1], "recurrent_gemma": [1]}
#: Capture works, streaming refuses with a clear message (XLNet's modules return (h, g) streams,
#: Longformer's and LED's local band attention is not (query, key) weights).
STREAM_REFUSED = {"xlnet", "longformer", "led"}
#: Encoder-decoders, and an EncoderDecoderModel (bert2bert) whose config has sub-configs.
SEQ2SEQ = ["t5", "mt5", "umt5", "switch_transformers", "bart", "mbart", "pegasus", "marian", "m2m_100",
           "blenderbot", "plbart", "mvp", "led", "bigbird_pegasus", "nllb-moe"]
#: Refused, and the reason the message must give.
REFUSED = {
    "mamba": "no attention layers", "falcon_mamba": "no attention layers",
    "funnel": "do not attend from every input token", "nystromformer": "landmarks",
    "longt5": "local blocks", "canine": "do not attend from every input token",
    "rwkv": "no softmax attention", "squeezebert": "scores, not weights",
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one thread is faster, and does not wait on cores other tests are using."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _configs(model):
    """Every config reachable (the model's, each sub-model's, every nested one) with its implementation."""
    return [(c, c._attn_implementation) for c in _all_configs(model)]


def _eager_copy(model):
    """The same weights in a model built on eager attention from the start."""
    ref = type(model)._from_config(copy.deepcopy(model.config), attn_implementation="eager")
    ref.load_state_dict(model.state_dict())
    return ref.eval()


def _output(model, **inputs):
    with torch.no_grad():
        out = model(**inputs)
    return (out.logits if "logits" in out else out.last_hidden_state).numpy()


def _check_rows(grid):
    sums = grid.values.sum(-1, dtype=np.float64)
    if "sink_mass" in grid.meta:
        sink = [[grid.meta["sink_mass"][layer][head] for head in grid.heads] for layer in grid.layers]
        np.testing.assert_allclose(sums + np.array(sink), 1.0, atol=1e-6)
    else:
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)


def _dense(layer, n):
    """A layer as (H, T, T): Longformer / LED's (H, T, w + 1) band, column j of query i = key
    i - w/2 + j, written out; other layers as they are."""
    if layer.shape[-1] == n:
        return layer
    heads, _, width = layer.shape
    band = layer
    dense = np.zeros((heads, n, n), dtype=band.dtype)
    for i in range(n):
        for j in range(width):
            key = i - (width - 1) // 2 + j
            if 0 <= key < n:
                dense[:, i, key] = band[:, i, j]
    return dense


@pytest.mark.parametrize("family", SELF)
def test_self_attention_family(family):
    model = tiny_model(family)
    configs, inputs = _configs(model), {"input_ids": torch.tensor([IDS])}
    before = _output(model, **inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RowSumWarning)
        grid = capture(model, input_ids=IDS)
    assert _configs(model) == configs
    np.testing.assert_array_equal(_output(model, **inputs), before)
    layers = HYBRID.get(family, [0, 1])
    assert grid.shape == (len(layers), 4, len(IDS), len(IDS))
    assert grid.layers == tuple(f"layer.{i}" for i in layers)
    _check_rows(grid)
    with torch.no_grad():
        ref = _eager_copy(model)(**inputs, output_attentions=True).attentions
    expected = np.stack([_dense(a[0, :, :len(IDS)].numpy(), len(IDS)) for a in ref])
    np.testing.assert_allclose(grid.values, expected, atol=1e-5)
    if family in STREAM_REFUSED:
        with pytest.raises((RuntimeError, ValueError), match="multiattn.capture"):
            capture_stream(model, inputs, {"mean": HeadMean()})
    else:
        streamed = capture_stream(model, inputs, {"mean": HeadMean()})
        np.testing.assert_allclose(np.asarray(streamed["mean"])[:, 0], grid.values.mean(1), atol=1e-6)


def _bert2bert():
    """EncoderDecoderModel: the one composite whose config holds encoder / decoder sub-configs."""
    from transformers import BertLMHeadModel, EncoderDecoderModel

    decoder = tiny_model("bert", cls=BertLMHeadModel, is_decoder=True, add_cross_attention=True, seed=1)
    model = EncoderDecoderModel(encoder=tiny_model("bert"), decoder=decoder).eval()
    model.config.decoder_start_token_id = 1
    return model


@pytest.mark.parametrize("family", [*SEQ2SEQ, "bert2bert"])
def test_encoder_decoder_family(family):
    model = _bert2bert() if family == "bert2bert" else tiny_model(family)
    tok = word_tokenizer()
    configs = _configs(model)
    ids = torch.tensor([tok(TEXT)["input_ids"]])
    labels = tok(text_target=TARGET)["input_ids"]
    decoder_ids = torch.tensor([[model.config.decoder_start_token_id, *labels[:-1]]])
    before = _output(model, input_ids=ids, decoder_input_ids=decoder_ids)
    grids = capture(model, TEXT, processor=tok, target=TARGET)
    assert _configs(model) == configs
    np.testing.assert_array_equal(_output(model, input_ids=ids, decoder_input_ids=decoder_ids), before)
    n_enc, n_dec = ids.shape[1], decoder_ids.shape[1]
    assert grids["encoder"].shape == (2, 4, n_enc, n_enc)
    assert grids["decoder"].shape == (2, 4, n_dec, n_dec) and grids["cross"].shape == (2, 4, n_dec, n_enc)
    with torch.no_grad():
        ref = _eager_copy(model)(input_ids=ids, decoder_input_ids=decoder_ids, output_attentions=True)
    for name, layers in (("encoder", ref.encoder_attentions), ("decoder", ref.decoder_attentions),
                         ("cross", ref.cross_attentions)):
        _check_rows(grids[name])
        q, k = grids[name].shape[2:]
        expected = np.stack([_dense(a[0, :, :q].numpy(), k) for a in layers])
        np.testing.assert_allclose(grids[name].values, expected, atol=1e-5)
    inputs = {"input_ids": ids, "decoder_input_ids": decoder_ids}
    if family in STREAM_REFUSED:
        with pytest.raises(ValueError, match="multiattn.capture"):
            capture_stream(model, inputs, {"mean": HeadMean()}, include="encoder")
        return
    # bert2bert's decoder is a BertLMHeadModel with its own "bert.encoder": name the run of components
    include = "encoder.encoder" if family == "bert2bert" else "encoder"
    streamed = capture_stream(model, inputs, {"mean": HeadMean()}, include=include)
    np.testing.assert_allclose(np.asarray(streamed["mean"])[:, 0], grids["encoder"].values.mean(1), atol=1e-6)


@pytest.mark.parametrize("family", list(REFUSED))
def test_family_without_an_attention_grid_is_refused_with_the_reason(family):
    model = tiny_model(family)
    with pytest.raises(UnsupportedModelError) as err:
        if model.config.is_encoder_decoder:
            capture(model, TEXT, processor=word_tokenizer(), target=TARGET)
        else:
            capture(model, input_ids=IDS)
    message = str(err.value)
    assert REFUSED[family] in message and type(model).__name__ in message
    assert "attn_implementation='eager'" not in message
