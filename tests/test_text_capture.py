"""Text adapter: MiniLM (real weights, offline) and tiny random-init GPT-2 / BART / T5."""

import numpy as np
import pytest
import torch

from multiattn import AttentionGrid
from multiattn.adapters.text import TokenOverflowWarning, capture, clean_token
from multiattn.analysis import head_types
from multiattn.zoo._text import load_minilm

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


@pytest.fixture(scope="module")
def byte_bpe():
    """A byte-level BPE tokenizer (GPT-2 / BART style, Ġ markers) trained here on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator([SENTENCE, "a cat sat on the mat", "attention is all you need"] * 5, trainer)
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", pad_token="<pad>",
                                   eos_token="</s>")


def _sentencepiece_words():
    """A word-level tokenizer with SentencePiece-style '▁' markers (T5 style)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>"] + [f"▁{w}" for w in "the cat sat on mat a dog ran".split()]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace()
    core.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def _tiny_bert(vocab_size=30522, max_positions=64):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=max_positions)
    return BertModel(config).eval()


# ---------------------------------------------------------------- MiniLM, real weights


def test_minilm_grid_shape_rows_and_labels(minilm):
    model, tokenizer = minilm
    grid = capture(model, "Tokenization works, mostly.", processor=tokenizer)
    assert isinstance(grid, AttentionGrid)
    labels = grid.query.labels
    assert labels == ("[CLS]", "token", "ization", "works", ",", "mostly", ".", "[SEP]")
    assert grid.shape == (6, 12, len(labels), len(labels))
    assert grid.layers[0] == "layer.0" and grid.layers[-1] == "layer.5"
    assert grid.query.special_mask.tolist() == [True] + [False] * 6 + [True]
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    assert grid.values.std() > 0.01  # not an empty / constant capture
    assert grid.meta["model_class"] == "BertModel" and grid.meta["causal"] is False


def test_minilm_char_spans_point_into_the_text(minilm):
    model, tokenizer = minilm
    text, pair = "Hello World!", "Second part"
    grid = capture(model, (text, pair), processor=tokenizer)
    source = grid.meta["text"]
    assert source == "Hello World!\nSecond part"
    axis = grid.query
    for label, special, (start, end) in zip(axis.labels, axis.special_mask, axis.char_spans):
        if special:
            assert (start, end) == (0, 0)
        else:
            assert source[start:end].lower() == label
    assert grid.query.labels.count("[SEP]") == 2


def test_layer0_matches_manual_softmax_of_query_key(minilm):
    """Independent reference: softmax(QK^T / sqrt(d)) from the model's own layer-0 weights."""
    model, tokenizer = minilm
    grid = capture(model, SENTENCE, processor=tokenizer)
    enc = tokenizer(SENTENCE, return_tensors="pt")
    self_attn = model.encoder.layer[0].attention.self
    with torch.no_grad():
        hidden = model.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
        n_heads, d = 12, 384 // 12

        def split(x):
            return x.view(1, -1, n_heads, d).transpose(1, 2)

        scores = split(self_attn.query(hidden)) @ split(self_attn.key(hidden)).transpose(-1, -2)
        expected = torch.softmax(scores / d**0.5, dim=-1)[0].numpy()
    np.testing.assert_allclose(grid.values[0], expected, atol=1e-5)


def test_attention_implementation_and_training_flag_restored(minilm):
    model, tokenizer = minilm
    before = model.config._attn_implementation
    assert before != "eager"  # transformers 5 default: sdpa, which returns no weights
    model.train()
    try:
        grid_train_mode = capture(model, SENTENCE, processor=tokenizer)
        assert model.training
    finally:
        model.eval()
    assert model.config._attn_implementation == before
    # dropout was off during the capture: same weights as from eval mode
    np.testing.assert_allclose(grid_train_mode.values, capture(model, SENTENCE, processor=tokenizer).values,
                               atol=1e-6)


@pytest.mark.parametrize("sentence", [
    SENTENCE,
    "She sold the old house to a young family from the city.",
    "Researchers measured how often each head looks at the previous word.",
])
def test_minilm_layer0_head2_is_previous_token_head(minilm, sentence):
    model, tokenizer = minilm
    rows = head_types(capture(model, sentence, processor=tokenizer))
    row = next(r for r in rows if r["layer"] == 0 and r["head"] == 2)
    assert row["type"] == "previous_token"
    assert row["score"] > 0.9
    # no other layer-0 head is a previous-token head
    assert all(r["type"] != "previous_token" for r in rows if r["layer"] == 0 and r["head"] != 2)


def test_padding_positions_are_dropped(minilm):
    model, tokenizer = minilm
    ids = tokenizer(SENTENCE)["input_ids"]
    pad = tokenizer.pad_token_id
    padded = capture(model, processor=tokenizer, input_ids=ids + [pad] * 5,
                     attention_mask=[1] * len(ids) + [0] * 5)
    plain = capture(model, processor=tokenizer, input_ids=ids)
    assert padded.shape == plain.shape == (6, 12, len(ids), len(ids))
    np.testing.assert_allclose(padded.values, plain.values, atol=1e-5)
    assert "[PAD]" not in padded.query.labels
    assert padded.query.special_mask[[0, -1]].all()


def test_input_ids_without_tokenizer_label_ids(minilm):
    model, _ = minilm
    grid = capture(model, input_ids=[101, 7592, 2088, 102])
    assert grid.query.labels == ("101", "7592", "2088", "102")
    assert grid.shape == (6, 12, 4, 4)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_rejected(minilm, text):
    model, tokenizer = minilm
    with pytest.raises(ValueError, match="text is empty"):
        capture(model, text, processor=tokenizer)


def test_text_and_input_ids_are_exclusive(minilm):
    model, tokenizer = minilm
    with pytest.raises(ValueError, match="exactly one"):
        capture(model, "hi", processor=tokenizer, input_ids=[101, 102])
    with pytest.raises(ValueError, match="exactly one"):
        capture(model, processor=tokenizer)
    with pytest.raises(ValueError, match="input_ids is empty"):
        capture(model, processor=tokenizer, input_ids=[])
    with pytest.raises(ValueError, match="1-D"):
        capture(model, processor=tokenizer, input_ids=[[101, 102]])
    with pytest.raises(ValueError, match="attention_mask has 1 entries"):
        capture(model, processor=tokenizer, input_ids=[101, 102], attention_mask=[1])


def test_long_text_is_truncated_with_a_warning_stating_the_drop(minilm):
    model, tokenizer = minilm
    n_tokens = len(tokenizer(SENTENCE)["input_ids"])  # 12 with [CLS] and [SEP]
    with pytest.warns(TokenOverflowWarning, match=f"dropped the last {n_tokens - 8} tokens"):
        grid = capture(model, SENTENCE, processor=tokenizer, max_length=8)
    assert grid.shape[-1] == 8
    assert grid.query.labels[-1] == "[SEP]"  # truncation keeps the special tokens


def test_default_limit_is_the_models_position_table(minilm):
    _, tokenizer = minilm
    model = _tiny_bert(max_positions=10)
    with pytest.warns(TokenOverflowWarning, match="at most 10"):
        grid = capture(model, SENTENCE, processor=tokenizer)
    assert grid.shape == (2, 4, 10, 10)


def test_max_length_above_model_maximum_is_an_error(minilm):
    model, tokenizer = minilm
    with pytest.raises(ValueError, match="exceeds the model maximum of 512"):
        capture(model, SENTENCE, processor=tokenizer, max_length=1000)


def test_tokenizer_model_mismatch_is_detected(minilm):
    _, tokenizer = minilm
    small_vocab_model = _tiny_bert(vocab_size=1000)
    with pytest.raises(ValueError, match="does not match BertModel"):
        capture(small_vocab_model, SENTENCE, processor=tokenizer)


def test_model_without_attention_output_is_a_clear_error(minilm, monkeypatch):
    from multiattn.adapters import _grid_attention
    from multiattn.adapters._hf import recorded_attentions

    _, tokenizer = minilm
    model = _tiny_bert()
    # a module that calls no attention function and returns no weights: the in-place forward writes
    # nothing, the eager forward run after it returns nothing either
    for _, _, module, _ in recorded_attentions(model):
        module.forward = lambda hidden_states, *_a, **_k: (torch.zeros_like(hidden_states), None)
    with pytest.raises(RuntimeError, match="returned no self attention weights"):
        capture(model, SENTENCE, processor=tokenizer)
    model = _tiny_bert()
    monkeypatch.setattr(_grid_attention, "writes_in_place", lambda _model: False)  # eager: the hook sees None
    for _, _, module, index in recorded_attentions(model):  # a kernel that never makes the weights
        module.register_forward_hook(lambda _m, _a, out, i=index: (*out[:i], None, *out[i + 1:]))
    with pytest.raises(RuntimeError, match="returned no self attention weights"):
        capture(model, SENTENCE, processor=tokenizer)


def test_non_hf_model_is_rejected(minilm):
    _, tokenizer = minilm
    with pytest.raises(TypeError, match="Hugging Face"):
        capture(torch.nn.Linear(2, 2), SENTENCE, processor=tokenizer)


# ---------------------------------------------------------------- GPT-2, BART, T5 (random init)


def test_gpt2_decoder_is_causal_with_clean_labels(byte_bpe):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(byte_bpe), n_positions=32, n_embd=32, n_layer=3,
                                       n_head=2)).eval()
    grid = capture(model, "the cat sat on the mat", processor=byte_bpe)
    n = len(grid.query)
    assert grid.shape == (3, 2, n, n)
    assert grid.meta["causal"] is True
    assert not np.triu(grid.values, 1).any()
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(grid.values[:, :, 0, 0], 1.0, atol=1e-6)  # first token sees only itself
    assert grid.query.labels[0] == "<s>" and grid.query.labels[-1] == "</s>"
    assert not any("Ġ" in label for label in grid.query.labels)
    assert "cat" in grid.query.labels


def test_bart_returns_encoder_decoder_and_cross_grids(byte_bpe):
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    config = BartConfig(vocab_size=len(byte_bpe), d_model=32, encoder_layers=2, decoder_layers=3,
                        encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
                        eos_token_id=2, decoder_start_token_id=2)
    model = BartForConditionalGeneration(config).eval()
    grids = capture(model, "the cat sat on the mat", processor=byte_bpe, target="a dog ran")
    assert set(grids) == {"encoder", "decoder", "cross"}
    n_src, n_tgt = len(grids["encoder"].query), len(grids["decoder"].query)
    assert grids["encoder"].shape == (2, 4, n_src, n_src)
    assert grids["decoder"].shape == (3, 2, n_tgt, n_tgt)
    assert grids["cross"].shape == (3, 2, n_tgt, n_src)
    assert grids["cross"].kind == "cross" and grids["cross"].key is grids["encoder"].query
    assert grids["encoder"].layers[0] == "encoder.0" and grids["cross"].layers[2] == "cross.2"
    assert grids["decoder"].meta["causal"] is True and grids["encoder"].meta["causal"] is False
    assert grids["decoder"].query.labels[0] == "</s>"  # decoder start token, target shifted right
    assert grids["decoder"].query.special_mask[0]
    for grid in grids.values():
        np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)


def test_t5_labels_drop_sentencepiece_marker_and_target_is_required():
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = _sentencepiece_words()
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = T5ForConditionalGeneration(config).eval()
    grids = capture(model, "the cat sat on the mat", processor=tokenizer, target="a dog ran")
    assert grids["encoder"].query.labels == ("the", "cat", "sat", "on", "the", "mat", "</s>")
    assert grids["decoder"].query.labels == ("<pad>", "a", "dog", "ran")
    assert grids["cross"].shape == (2, 4, 4, 7)
    with pytest.raises(ValueError, match="encoder-decoder: pass target="):
        capture(model, "the cat sat", processor=tokenizer)
    with pytest.raises(ValueError, match="target is empty"):
        capture(model, "the cat sat", processor=tokenizer, target=" ")


@pytest.mark.parametrize("family", ["bart", "t5"])
def test_encoder_decoder_layers_are_written_from_hooks_with_padding_dropped(family):
    """No output_attentions tuple is built: the forward is asked for none and returns none; the
    values (padding dropped from the encoder's queries and keys and the cross keys) equal an
    eager copy's tuple."""
    import copy

    from ._text_tiny import tiny_model, word_tokenizer

    model, tok = tiny_model(family), word_tokenizer()
    ids, mask = [5, 17, 33, 8, 61, 42, 9, 23], [1, 1, 1, 1, 1, 1, 0, 0]
    seen = []
    handle = model.register_forward_hook(
        lambda _m, _a, kwargs, out: seen.append((kwargs.get("output_attentions"), out.encoder_attentions,
                                                 out.decoder_attentions, out.cross_attentions)),
        with_kwargs=True)
    try:
        grids = capture(model, input_ids=ids, attention_mask=mask, processor=tok, target="a dog ran far")
    finally:
        handle.remove()
    assert seen == [(False, None, None, None)]
    ref = type(model)._from_config(copy.deepcopy(model.config), attn_implementation="eager").eval()
    ref.load_state_dict(model.state_dict())
    decoder_ids = [model.config.decoder_start_token_id, *tok(text_target="a dog ran far")["input_ids"][:-1]]
    with torch.no_grad():
        out = ref(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([mask]),
                  decoder_input_ids=torch.tensor([decoder_ids]), output_attentions=True)
    keep = np.array(mask, dtype=bool)
    want = {"encoder": [a[0][:, keep][:, :, keep] for a in out.encoder_attentions],
            "decoder": [a[0] for a in out.decoder_attentions],
            "cross": [a[0][:, :, keep] for a in out.cross_attentions]}
    for name, layers in want.items():
        assert grids[name].shape == (2, 4, *layers[0].shape[1:])
        np.testing.assert_allclose(grids[name].values, np.stack([a.numpy() for a in layers]), atol=1e-6)
    assert grids["encoder"].shape[2:] == (6, 6) and grids["cross"].shape[2:] == (len(decoder_ids), 6)


def test_target_on_an_encoder_is_rejected(minilm):
    model, tokenizer = minilm
    with pytest.raises(ValueError, match="only for encoder-decoder"):
        capture(model, SENTENCE, processor=tokenizer, target="x")


@pytest.mark.parametrize("token, label", [
    ("##ing", "ing"), ("Ġworld", "world"), ("▁the", "the"), ("▁", "␣"), ("Ċ", "\\n"),
    ("[CLS]", "[CLS]"), ("##", "##"), ("", ""),
])
def test_clean_token(token, label):
    assert clean_token(token) == label


@pytest.mark.parametrize("family", ["llama", "gpt2", "bert"])
def test_softmax_written_in_place_equals_eager_and_copies_no_layer(family, monkeypatch):
    """On transformers' attention interface the probabilities go straight into the grid: no layer
    reaches the copying writer, and the values are eager's own numbers (bitwise: same arithmetic)."""
    import copy

    from multiattn.adapters import _grid_attention, _text_grid

    from ._text_tiny import tiny_model

    model, ids = tiny_model(family), [5, 17, 33, 8, 61, 42, 9, 23, 11]
    assert _grid_attention.writes_in_place(model)
    copied = []
    call = _text_grid.LayerWriter.__call__
    monkeypatch.setattr(_text_grid.LayerWriter, "__call__",
                        lambda self, name, weights: (copied.append(name), call(self, name, weights)))
    grid = capture(model, input_ids=ids)
    assert copied == [] and grid.shape == (2, 4, len(ids), len(ids))
    ref = type(model)._from_config(copy.deepcopy(model.config), attn_implementation="eager").eval()
    ref.load_state_dict(model.state_dict())
    with torch.no_grad():
        out = ref(input_ids=torch.tensor([ids]), output_attentions=True)
    np.testing.assert_array_equal(grid.values, np.stack([a[0].numpy() for a in out.attentions]))
    assert grid.meta["causal"] is (family != "bert")
    monkeypatch.setattr(_grid_attention, "writes_in_place", lambda _model: False)
    eager = capture(model, input_ids=ids)
    assert len(copied) == 2  # one copy per layer on the eager path
    np.testing.assert_array_equal(eager.values, grid.values)


def test_writer_slot_hands_out_rows_only_where_a_layer_fits():
    from multiattn.adapters._text_grid import LayerWriter

    full = np.ones(3, bool)
    writer = LayerWriter(None, 2, (full, full), causal=True)
    row = writer.slot(4, 3, 3)
    row[:] = np.tril(np.ones((3, 3), np.float32)) / np.arange(1, 4, dtype=np.float32)[:, None]
    writer.written()
    assert writer.slot(5, 3, 3) is None and writer.slot(4, 3, 2) is None  # other heads / keys: copied
    writer.slot(4, 3, 3)[:] = 1 / 3  # weight above the diagonal: not causal
    writer.written()
    assert writer.slot(4, 3, 3) is None  # every row taken (shared layers beyond capacity are copied)
    assert writer.result().shape == (2, 4, 3, 3) and writer.count == 2 and not writer.causal
    np.testing.assert_allclose(writer.result()[0].sum(-1), 1.0)
    padded = LayerWriter(None, 1, (np.array([True, False, True]), full))
    assert padded.slot(4, 3, 3) is None  # padding to drop: copied
