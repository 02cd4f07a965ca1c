#!/usr/bin/env python3
"""Generate tiny, deterministic, random Hugging Face model folders for golden-logit tests.

Each folder gets a config.json with real Hugging Face field names and weights in the
safetensors format, written by hand (no safetensors/transformers dependency):

    [8-byte little-endian u64 header length N]
    [N bytes of UTF-8 JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}},
     padded with spaces so that 8 + N is a multiple of 8]
    [raw little-endian tensor data; offsets are relative to the start of this region]

Storage dtypes: F32, F16 (IEEE half via numpy) and BF16 (upper 16 bits of the float32
bit pattern, rounded to nearest, ties to even).

Everything is drawn from numpy.random.Generator(PCG64(seed)) with a fixed seed per model,
so re-running this script reproduces byte-identical files.

Usage:  make_models.py [OUTPUT_DIR]        (default: the directory containing this script)
"""

import json
import os
import sys

import numpy as np


# ----------------------------------------------------------------------------------------
# safetensors writer
# ----------------------------------------------------------------------------------------

def f32_to_bf16_bits(a):
    """float32 array -> uint16 array of bfloat16 bit patterns, round-to-nearest-even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    # Round to nearest even on the 16 dropped bits: add 0x7FFF + lsb-of-kept-part.
    lsb = (bits >> 16) & 1
    rounded = (bits + 0x7FFF + lsb) >> 16
    assert np.all(np.isfinite(a)), "NaN/Inf not expected in generated weights"
    return rounded.astype(np.uint16)


def encode_tensor(arr, dtype):
    """Return (raw little-endian bytes, safetensors dtype string)."""
    if dtype == "F32":
        return np.ascontiguousarray(arr, dtype="<f4").tobytes(), "F32"
    if dtype == "F16":
        return np.ascontiguousarray(arr.astype(np.float32).astype("<f2")).tobytes(), "F16"
    if dtype == "BF16":
        return f32_to_bf16_bits(arr).astype("<u2").tobytes(), "BF16"
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: ordered list of (name, float32 ndarray). Returns total data byte count."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name, arr in tensors:
        raw, st_dtype = encode_tensor(arr, dtype)
        header[name] = {"dtype": st_dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - (8 + len(hjson)) % 8) % 8
    hjson += b" " * pad
    with open(path, "wb") as f:
        f.write(np.uint64(len(hjson)).astype("<u8").tobytes())
        f.write(hjson)
        for b in blobs:
            f.write(b)
    return offset


# ----------------------------------------------------------------------------------------
# random weights
# ----------------------------------------------------------------------------------------

def make_weights(cfg, seed, qkv_bias):
    """Ordered list of (HF tensor name, float32 array) for a Llama-family decoder."""
    rng = np.random.Generator(np.random.PCG64(seed))
    h = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", h // nh)
    inter = cfg["intermediate_size"]
    vocab = cfg["vocab_size"]

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm_w():
        return (1.0 + rng.normal(0.0, 0.05, size=(h,))).astype(np.float32)

    out = [("model.embed_tokens.weight", normal((vocab, h), 0.1))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out.append((p + "input_layernorm.weight", norm_w()))
        out.append((p + "self_attn.q_proj.weight", normal((nh * hd, h), 0.08)))
        out.append((p + "self_attn.k_proj.weight", normal((nkv * hd, h), 0.08)))
        out.append((p + "self_attn.v_proj.weight", normal((nkv * hd, h), 0.08)))
        if qkv_bias:
            out.append((p + "self_attn.q_proj.bias", normal((nh * hd,), 0.05)))
            out.append((p + "self_attn.k_proj.bias", normal((nkv * hd,), 0.05)))
            out.append((p + "self_attn.v_proj.bias", normal((nkv * hd,), 0.05)))
        out.append((p + "self_attn.o_proj.weight", normal((h, nh * hd), 0.06)))
        out.append((p + "post_attention_layernorm.weight", norm_w()))
        out.append((p + "mlp.gate_proj.weight", normal((inter, h), 0.06)))
        out.append((p + "mlp.up_proj.weight", normal((inter, h), 0.06)))
        out.append((p + "mlp.down_proj.weight", normal((h, inter), 0.04)))
    out.append(("model.norm.weight", norm_w()))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", normal((vocab, h), 0.1)))
    return out


# ----------------------------------------------------------------------------------------
# model definitions
# ----------------------------------------------------------------------------------------

MODELS = [
    {
        "folder": "llama3-gqa-tied",
        "seed": 1001,
        "dtype": "F32",
        "qkv_bias": False,
        "shards": 1,
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 160,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "vocab_size": 320,
            "max_position_embeddings": 512,
            "rms_norm_eps": 1e-05,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
            "hidden_act": "silu",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "mlp_bias": False,
            "tie_word_embeddings": True,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "initializer_range": 0.02,
            "pretraining_tp": 1,
            "use_cache": True,
            "torch_dtype": "float32",
        },
    },
    {
        "folder": "qwen2-bias",
        "seed": 2002,
        "dtype": "F32",
        "qkv_bias": True,
        "shards": 2,
        "config": {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "hidden_size": 64,
            "intermediate_size": 176,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 336,
            "max_position_embeddings": 1024,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "rope_scaling": None,
            "hidden_act": "silu",
            "attention_dropout": 0.0,
            "use_sliding_window": False,
            "sliding_window": 4096,
            "max_window_layers": 2,
            "tie_word_embeddings": False,
            "bos_token_id": 3,
            "eos_token_id": 4,
            "initializer_range": 0.02,
            "use_cache": True,
            "torch_dtype": "float32",
        },
    },
    {
        "folder": "mistral-bf16",
        "seed": 3003,
        "dtype": "BF16",
        "qkv_bias": False,
        "shards": 1,
        "config": {
            "architectures": ["MistralForCausalLM"],
            "model_type": "mistral",
            "hidden_size": 64,
            "intermediate_size": 160,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "vocab_size": 320,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0,
            "sliding_window": None,
            "hidden_act": "silu",
            "attention_dropout": 0.0,
            "tie_word_embeddings": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "initializer_range": 0.02,
            "use_cache": True,
            "torch_dtype": "bfloat16",
        },
    },
    {
        "folder": "llama2-mha",
        "seed": 4004,
        "dtype": "F16",
        "qkv_bias": False,
        "shards": 1,
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 172,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "vocab_size": 304,
            "max_position_embeddings": 256,
            "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0,
            "rope_scaling": {"type": "linear", "factor": 2.0},
            "hidden_act": "silu",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "tie_word_embeddings": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "initializer_range": 0.02,
            "pretraining_tp": 1,
            "use_cache": True,
            "torch_dtype": "float16",
        },
    },
]


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for m in MODELS:
        d = os.path.join(out_root, m["folder"])
        os.makedirs(d, exist_ok=True)
        cfg = m["config"]
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        tensors = make_weights(cfg, m["seed"], m["qkv_bias"])
        if m["shards"] == 1:
            write_safetensors(os.path.join(d, "model.safetensors"), tensors, m["dtype"],
                              metadata={"format": "pt"})
        else:
            n = m["shards"]
            # Split at a layer boundary-ish point: roughly equal tensor counts per shard.
            per = (len(tensors) + n - 1) // n
            weight_map = {}
            total = 0
            for s in range(n):
                fname = f"model-{s + 1:05d}-of-{n:05d}.safetensors"
                part = tensors[s * per:(s + 1) * per]
                total += write_safetensors(os.path.join(d, fname), part, m["dtype"],
                                           metadata={"format": "pt"})
                for name, _ in part:
                    weight_map[name] = fname
            index = {"metadata": {"total_size": total},
                     "weight_map": dict(sorted(weight_map.items()))}
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump(index, f, indent=2)
                f.write("\n")
        print(f"wrote {d} ({len(tensors)} tensors, {m['dtype']}, {m['shards']} shard(s))")


if __name__ == "__main__":
    main()
