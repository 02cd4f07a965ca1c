#!/usr/bin/env python3
"""Independent plain-PyTorch float32 reference forward pass for Llama-family checkpoints.

Produces golden logits for the C# runtime's tests. It does NOT use transformers or
safetensors; it re-implements the Hugging Face eager forward for LlamaForCausalLM,
MistralForCausalLM and Qwen2ForCausalLM (full sequence, no KV cache, batch size 1),
computing everything in float32.

Hugging Face code mirrored (huggingface/transformers):
  * src/transformers/models/llama/modeling_llama.py  -- LlamaRMSNorm, LlamaRotaryEmbedding,
    rotate_half, apply_rotary_pos_emb, repeat_kv, LlamaMLP, eager attention, LlamaModel,
    LlamaForCausalLM.
  * src/transformers/models/qwen2/modeling_qwen2.py -- same structure, but q/k/v_proj are
    nn.Linear(..., bias=True) and o_proj has bias=False.
  * src/transformers/models/mistral/modeling_mistral.py -- same structure as Llama, no biases.
  * src/transformers/modeling_rope_utils.py -- _compute_default_rope_parameters,
    _compute_linear_scaling_rope_parameters, _compute_llama3_parameters.

Usage:
  reference_forward.py MODEL_DIR --prompts "1,5,9" "3,4,7" --out golden.json
"""

import argparse
import json
import math
import os
import shlex
import struct
import sys

import numpy as np
import torch


# ----------------------------------------------------------------------------------------
# safetensors reader (format: u64 LE header length, JSON header, raw LE data)
# ----------------------------------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        shape = tuple(info["shape"])
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            # bfloat16 is the upper half of a float32 bit pattern: widen exactly.
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"unsupported dtype {dt} for {name}")
        out[name] = torch.from_numpy(np.array(arr, dtype=np.float32).reshape(shape))
    return out


def load_weights(model_dir):
    single = os.path.join(model_dir, "model.safetensors")
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    weights = {}
    for shard in sorted(set(weight_map.values())):
        part = read_safetensors(os.path.join(model_dir, shard))
        for name, t in part.items():
            assert weight_map.get(name) == shard, f"{name} not mapped to {shard} in index"
            weights[name] = t
    missing = set(weight_map) - set(weights)
    assert not missing, f"tensors listed in index but absent: {sorted(missing)}"
    return weights


# ----------------------------------------------------------------------------------------
# RoPE inverse frequencies (modeling_rope_utils.py)
# ----------------------------------------------------------------------------------------

def default_inv_freq(base, dim):
    # _compute_default_rope_parameters:
    #   inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def compute_inv_freq(cfg, dim):
    base = cfg.get("rope_theta", 10000.0)
    inv_freq = default_inv_freq(base, dim)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv_freq
    # BC in HF: "rope_type" was originally "type".
    rope_type = rs.get("rope_type", rs.get("type", "default"))
    if rope_type == "default":
        return inv_freq
    if rope_type == "linear":
        # _compute_linear_scaling_rope_parameters: `inv_freq /= factor`
        # (equivalent to the older LlamaLinearScalingRotaryEmbedding, which divided
        # position_ids by scaling_factor; identical bits here since factor is a power of 2).
        return inv_freq / rs["factor"]
    if rope_type == "llama3":
        # _compute_llama3_parameters, line for line.
        factor = rs["factor"]
        low_freq_factor = rs["low_freq_factor"]
        high_freq_factor = rs["high_freq_factor"]
        old_context_len = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        # wavelen < high_freq_wavelen: do nothing; wavelen > low_freq_wavelen: divide by factor
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        # otherwise: interpolate between the two, using a smooth factor
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    raise ValueError(f"rope_type {rope_type!r} not implemented in this reference")


def rope_cos_sin(inv_freq, seq_len):
    # LlamaRotaryEmbedding.forward: freqs = (inv_freq[:, None] @ position_ids[None, :]).T in float32,
    # emb = cat((freqs, freqs), -1); cos = emb.cos(); sin = emb.sin().
    # (attention_scaling is 1.0 for default/linear/llama3.)
    position_ids = torch.arange(seq_len, dtype=torch.int64)
    inv_freq_expanded = inv_freq[None, :, None].float()
    position_ids_expanded = position_ids[None, None, :].float()
    freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)[0]  # [seq, dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    # modeling_llama.rotate_half
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    # modeling_llama.apply_rotary_pos_emb with unsqueeze_dim=1 (q, k: [bsz, heads, seq, head_dim])
    cos = cos.unsqueeze(0).unsqueeze(0)
    sin = sin.unsqueeze(0).unsqueeze(0)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(x, n_rep):
    # modeling_llama.repeat_kv: (b, kv_heads, s, d) -> (b, kv_heads * n_rep, s, d), each kv head
    # repeated n_rep times consecutively (== repeat_interleave on dim 1).
    b, nkv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, s, d).reshape(b, nkv * n_rep, s, d)


def rms_norm(x, weight, eps):
    # LlamaRMSNorm.forward (Qwen2RMSNorm / MistralRMSNorm are identical):
    #   variance = x.float().pow(2).mean(-1, keepdim=True); x * rsqrt(variance + eps); weight * x
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return weight * x


def linear(x, w, b=None):
    # nn.Linear: x @ W^T + b
    return torch.nn.functional.linear(x, w, b)


# ----------------------------------------------------------------------------------------
# forward
# ----------------------------------------------------------------------------------------

def forward(cfg, W, input_ids):
    h = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or h // nh  # LlamaAttention: getattr(config, "head_dim", hidden // heads)
    eps = cfg["rms_norm_eps"]
    n_layers = cfg["num_hidden_layers"]
    assert cfg.get("hidden_act", "silu") == "silu"
    seq = len(input_ids)

    # Sliding window (Mistral/Qwen2) would only matter for seq > window; these goldens never reach it.
    sw = cfg.get("sliding_window")
    uses_sw = sw is not None and (cfg.get("model_type") != "qwen2" or cfg.get("use_sliding_window", False))
    assert not uses_sw or seq <= sw, "sliding-window masking not implemented in this reference"

    ids = torch.tensor([input_ids], dtype=torch.int64)
    # LlamaModel.forward: inputs_embeds = self.embed_tokens(input_ids)
    x = torch.nn.functional.embedding(ids, W["model.embed_tokens.weight"])  # [1, seq, h]

    inv_freq = compute_inv_freq(cfg, hd)
    cos, sin = rope_cos_sin(inv_freq, seq)

    # Causal mask as in HF (_prepare_4d_causal_attention_mask / create_causal_mask):
    # 0 on and below the diagonal, finfo(float32).min above it; added to the scores.
    mask = torch.full((seq, seq), torch.finfo(torch.float32).min, dtype=torch.float32).triu(1)
    scaling = hd ** -0.5

    for i in range(n_layers):
        p = f"model.layers.{i}."
        # LlamaDecoderLayer.forward
        residual = x
        xn = rms_norm(x, W[p + "input_layernorm.weight"], eps)

        # LlamaAttention.forward (eager). Biases: Qwen2 q/k/v have bias; Llama with
        # attention_bias=True would also have o_proj bias -- use whatever the checkpoint holds.
        q = linear(xn, W[p + "self_attn.q_proj.weight"], W.get(p + "self_attn.q_proj.bias"))
        k = linear(xn, W[p + "self_attn.k_proj.weight"], W.get(p + "self_attn.k_proj.bias"))
        v = linear(xn, W[p + "self_attn.v_proj.weight"], W.get(p + "self_attn.v_proj.bias"))
        # view(bsz, q_len, -1, head_dim).transpose(1, 2)
        q = q.view(1, seq, nh, hd).transpose(1, 2)
        k = k.view(1, seq, nkv, hd).transpose(1, 2)
        v = v.view(1, seq, nkv, hd).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = repeat_kv(k, nh // nkv)
        v = repeat_kv(v, nh // nkv)
        # eager_attention_forward: matmul(q, k^T) * scaling + causal_mask;
        # softmax(dim=-1, dtype=float32); matmul with v.
        attn = torch.matmul(q, k.transpose(2, 3)) * scaling
        attn = attn + mask
        attn = torch.nn.functional.softmax(attn, dim=-1, dtype=torch.float32)
        o = torch.matmul(attn, v)  # [1, nh, seq, hd]
        o = o.transpose(1, 2).reshape(1, seq, nh * hd)
        o = linear(o, W[p + "self_attn.o_proj.weight"], W.get(p + "self_attn.o_proj.bias"))
        x = residual + o

        residual = x
        xn = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        # LlamaMLP.forward: down_proj(act_fn(gate_proj(x)) * up_proj(x)), act_fn = SiLU
        g = linear(xn, W[p + "mlp.gate_proj.weight"], W.get(p + "mlp.gate_proj.bias"))
        u = linear(xn, W[p + "mlp.up_proj.weight"], W.get(p + "mlp.up_proj.bias"))
        m = linear(torch.nn.functional.silu(g) * u, W[p + "mlp.down_proj.weight"],
                   W.get(p + "mlp.down_proj.bias"))
        x = residual + m

    # LlamaModel: final norm
    x = rms_norm(x, W["model.norm.weight"], eps)
    # LlamaForCausalLM: lm_head; tie_word_embeddings -> lm_head.weight is embed_tokens.weight
    if cfg.get("tie_word_embeddings", False):
        assert "lm_head.weight" not in W, "tied model should not store lm_head.weight"
        head = W["model.embed_tokens.weight"]
    else:
        head = W["lm_head.weight"]
    logits = linear(x, head)
    return logits[0]  # [seq, vocab]


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    return cfg, load_weights(model_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--prompts", nargs="+", required=True, help="comma-separated token ids, one arg per prompt")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(1)  # deterministic reduction order on CPU
    cfg, W = load_model(args.model_dir)
    vocab = cfg["vocab_size"]
    prompts = [[int(t) for t in p.split(",")] for p in args.prompts]
    for p in prompts:
        assert p and all(0 <= t < vocab for t in p), "token id out of range"

    all_logits = []
    with torch.no_grad():
        for p in prompts:
            all_logits.append(forward(cfg, W, p).numpy())

    command = shlex.join([sys.executable] + sys.argv)
    name = os.path.basename(os.path.normpath(args.model_dir))

    # Hand-written JSON so floats are printed with 7 significant digits.
    def fmt_row(row):
        return "[" + ",".join("%.7g" % float(v) for v in row) + "]"

    parts = [
        "{\n",
        f'  "model": {json.dumps(name)},\n',
        f'  "command": {json.dumps(command)},\n',
        f'  "torch_version": {json.dumps(torch.__version__)},\n',
        f'  "numpy_version": {json.dumps(np.__version__)},\n',
        f'  "vocab_size": {vocab},\n',
        f'  "prompts": {json.dumps(prompts)},\n',
        '  "logits": [\n',
    ]
    for pi, lg in enumerate(all_logits):
        rows = ",\n      ".join(fmt_row(r) for r in lg)
        parts.append("    [\n      " + rows + "\n    ]" + ("," if pi + 1 < len(all_logits) else "") + "\n")
    parts.append("  ]\n}\n")
    with open(args.out, "w") as f:
        f.write("".join(parts))
    # Round-trip check that the file is valid JSON with the right shape.
    with open(args.out) as f:
        chk = json.load(f)
    for p, lg in zip(prompts, chk["logits"]):
        assert len(lg) == len(p) and all(len(r) == vocab for r in lg)
    print(f"wrote {args.out}: {len(prompts)} prompts, lengths {[len(p) for p in prompts]}, vocab {vocab}")


if __name__ == "__main__":
    main()
