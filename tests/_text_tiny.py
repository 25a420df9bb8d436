"""Random-init tiny Hugging Face text models (hidden 32, 2 layers, vocab 100) for the text tests.

No downloads: every model is built from its config class.  ``FAMILIES`` maps a ``model_type``
to the config keywords that make it tiny (on top of ``COMMON``).
"""

from __future__ import annotations

import torch

COMMON = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              vocab_size=100, pad_token_id=0, bos_token_id=1, eos_token_id=2, max_position_embeddings=64)
_SEQ2SEQ = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, decoder_start_token_id=2)
_KV = dict(num_key_value_heads=2)
FAMILIES: dict[str, dict] = {
    "bert": {}, "roberta": {}, "distilbert": dict(dim=32, n_layers=2, n_heads=4, hidden_dim=64),
    "albert": dict(embedding_size=16), "electra": dict(embedding_size=16), "deberta-v2": {},
    "modernbert": dict(global_attn_every_n_layers=2, local_attention=4, cls_token_id=1, sep_token_id=2),
    "xlnet": dict(d_model=32, n_layer=2, n_head=4, d_inner=64),
    "longformer": dict(attention_window=4),
    "gpt2": {}, "gpt_neox": {}, "gptj": dict(rotary_dim=4), "bloom": {}, "falcon": {},
    "opt": dict(ffn_dim=64, word_embed_proj_dim=32),
    "mpt": dict(d_model=32, n_heads=4, n_layers=2), "phi": {}, "phi3": _KV,
    "llama": _KV, "mistral": _KV, "qwen2": _KV, "qwen3": dict(_KV, head_dim=8),
    "gemma": dict(_KV, head_dim=8), "gemma2": dict(_KV, head_dim=8, sliding_window=4),
    "gemma3_text": dict(_KV, head_dim=8, sliding_window=4),
    "gpt_oss": dict(_KV, head_dim=8, num_local_experts=4, num_experts_per_tok=2, sliding_window=4),
    "qwen3_next": dict(_KV, head_dim=8, layer_types=["linear_attention", "full_attention"], num_experts=4,
                       num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=16,
                       linear_num_key_heads=2, linear_num_value_heads=2, linear_key_head_dim=8,
                       linear_value_head_dim=8),
    "lfm2": dict(_KV, layer_types=["conv", "full_attention"]),
    "t5": dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0),
    "bart": _SEQ2SEQ, "mbart": _SEQ2SEQ, "pegasus": _SEQ2SEQ,
    "mamba": dict(state_size=4),
    "funnel": dict(d_model=32, n_head=4, d_head=8, d_inner=64, block_sizes=[1, 1]),
    # more families people bring
    "deberta": {}, "megatron-bert": {}, "camembert": {}, "xlm-roberta": {},
    "mobilebert": dict(embedding_size=16, intra_bottleneck_size=32, true_hidden_size=32),
    "convbert": dict(embedding_size=32, head_ratio=1), "roformer": dict(embedding_size=32),
    "big_bird": dict(attention_type="original_full"), "ctrl": dict(n_embd=32, n_layer=2, n_head=4, dff=64),
    "biogpt": {}, "codegen": dict(n_embd=32, n_layer=2, n_head=4, rotary_dim=4),
    "gpt_neo": dict(attention_types=[[["global", "local"], 1]], num_layers=2, window_size=4),
    "gpt_bigcode": {}, "stablelm": _KV, "starcoder2": _KV, "olmo": _KV, "olmo2": _KV, "cohere": _KV,
    "granite": _KV, "mixtral": dict(_KV, num_local_experts=4, num_experts_per_tok=2),
    "qwen2_moe": dict(_KV, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                      shared_expert_intermediate_size=16),
    "deepseek_v3": dict(num_key_value_heads=4, kv_lora_rank=16, q_lora_rank=16, qk_rope_head_dim=4,
                        qk_nope_head_dim=4, v_head_dim=8, n_routed_experts=4, num_experts_per_tok=2,
                        moe_intermediate_size=16, first_k_dense_replace=1, n_group=1, topk_group=1),
    "jamba": dict(_KV, attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1,
                  num_experts=2, mamba_d_state=4, mamba_d_conv=2, mamba_expand=1, mamba_dt_rank=4,
                  use_mamba_kernels=False),
    "recurrent_gemma": dict(num_key_value_heads=1, lru_width=32, block_types=["recurrent", "attention"],
                            attention_window_size=8, head_dim=8),
    "mt5": dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0),
    "umt5": dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0),
    "switch_transformers": dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                                decoder_start_token_id=0, num_experts=2, num_sparse_encoder_layers=1,
                                num_sparse_decoder_layers=1),
    "longt5": dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0,
                   local_radius=2),
    "marian": _SEQ2SEQ, "m2m_100": _SEQ2SEQ, "blenderbot": _SEQ2SEQ, "plbart": _SEQ2SEQ, "mvp": _SEQ2SEQ,
    "led": dict(_SEQ2SEQ, attention_window=4),
    "bigbird_pegasus": dict(_SEQ2SEQ, attention_type="original_full"),
    "nllb-moe": dict(_SEQ2SEQ, num_experts=2),
    "falcon_mamba": dict(state_size=4), "rwkv": dict(attention_hidden_size=32, context_length=64),
    "squeezebert": dict(embedding_size=32), "nystromformer": dict(num_landmarks=4, segment_means_seq_len=8),
    "canine": {},
}
#: Keys some config classes refuse (funnel sets layers through block_sizes).
_REFUSED = {"funnel": ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"),
            "xlnet": ("max_position_embeddings",)}


def tiny_config(model_type: str, **extra):
    """The tiny config of ``model_type`` (``FAMILIES``), its implementation left at the default."""
    from transformers import AutoConfig

    keys = {k: v for k, v in COMMON.items() if k not in _REFUSED.get(model_type, ())}
    return AutoConfig.for_model(model_type, **{**keys, **FAMILIES[model_type], **extra})


def tiny_model(model_type: str, cls=None, seed: int = 0, **extra):
    """A random-init model of ``model_type`` in eval mode (``cls`` default: the base model)."""
    config = tiny_config(model_type, **extra)
    torch.manual_seed(seed)
    return (cls or _base_class(config))(config).eval()


def _base_class(config):
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    name = MODEL_MAPPING_NAMES[config.model_type]
    return getattr(transformers, name if isinstance(name, str) else name[0])


WORDS = "the cat sat on a mat dog ran far away big red".split()


def word_tokenizer():
    """A word-level tokenizer over ``WORDS`` (ids 3..) with <pad>=0, <s>=1, </s>=2: fits vocab 100."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "<s>", "</s>", "<unk>", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                        special_tokens=[("<s>", 1), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>")
