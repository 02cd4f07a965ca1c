#!/usr/bin/env python3
"""Sanity checks for reference_forward.py and the generated golden files.

Run from this folder:  /usr/bin/python3 check_reference.py
Exits non-zero if any check fails.

Checks:
 1. safetensors writer: BF16/F16 values read back equal torch's own float32->bfloat16/half
    conversion (round-to-nearest-even) of the regenerated float32 weights.
 2. Causal consistency: logits for a prefix of a prompt equal the first positions of the
    full prompt's logits (|diff| <= 1e-5).
 3. An independent float64 numpy forward (per-head loops, GQA via head // n_rep, RoPE
    written per pair (i, i + d/2)) agrees with the float32 reference (|diff| <= 1e-4).
 4. golden.json equals a fresh reference run (within 7-significant-digit rounding) and its
    recorded command / prompts / shapes are consistent.
 5. llama3 rope scaling really changes inv_freq for llama3-gqa-tied (prints both), and the
    linear-scaled cos/sin equal the "positions / factor" formulation.
 6. Logits are not saturated (prints std / max |logit| / max softmax prob).
 7. Sensitivity: typical implementation mistakes move the logits far more than any sane
    test tolerance (prints max|diff| for each deliberate mistake).
"""

import json
import math
import os
import sys

import numpy as np
import torch

import make_models
import reference_forward as ref

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDERS = ["llama3-gqa-tied", "qwen2-bias", "mistral-bf16", "llama2-mha"]
failures = []


def check(cond, msg):
    print(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        failures.append(msg)


def numpy_forward64(cfg, W, ids):
    """Independent float64 forward with explicit loops (slow but simple)."""
    Wn = {k: v.numpy().astype(np.float64) for k, v in W.items()}
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or h // nh
    eps = cfg["rms_norm_eps"]
    rep = nh // nkv
    T = len(ids)
    inv = ref.compute_inv_freq(cfg, hd).numpy().astype(np.float64)  # rope params shared on purpose

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(v, pos):  # v: [hd]; pair (i, i + hd/2) rotated by angle pos * inv[i]
        out = np.empty_like(v)
        half = hd // 2
        for i in range(half):
            a = pos * inv[i]
            c, s = math.cos(a), math.sin(a)
            out[i] = v[i] * c - v[i + half] * s
            out[i + half] = v[i + half] * c + v[i] * s
        return out

    x = Wn["model.embed_tokens.weight"][ids]
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        xn = rms(x, Wn[p + "input_layernorm.weight"])

        def proj(name):
            y = xn @ Wn[p + f"self_attn.{name}.weight"].T
            b = Wn.get(p + f"self_attn.{name}.bias")
            return y + b if b is not None else y

        q = proj("q_proj").reshape(T, nh, hd)
        k = proj("k_proj").reshape(T, nkv, hd)
        v = proj("v_proj").reshape(T, nkv, hd)
        for t in range(T):
            for hh in range(nh):
                q[t, hh] = rope(q[t, hh], t)
            for hh in range(nkv):
                k[t, hh] = rope(k[t, hh], t)
        o = np.zeros((T, nh, hd))
        for hh in range(nh):
            kvh = hh // rep
            for t in range(T):
                s = np.array([q[t, hh] @ k[u, kvh] for u in range(t + 1)]) / math.sqrt(hd)
                e = np.exp(s - s.max())
                pr = e / e.sum()
                o[t, hh] = sum(pr[u] * v[u, kvh] for u in range(t + 1))
        x = x + o.reshape(T, nh * hd) @ Wn[p + "self_attn.o_proj.weight"].T
        xn = rms(x, Wn[p + "post_attention_layernorm.weight"])
        g = xn @ Wn[p + "mlp.gate_proj.weight"].T
        u = xn @ Wn[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ Wn[p + "mlp.down_proj.weight"].T
    x = rms(x, Wn["model.norm.weight"])
    head = Wn["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else Wn["lm_head.weight"]
    return x @ head.T


def main():
    torch.set_num_threads(1)
    print("torch", torch.__version__, "numpy", np.__version__)

    # 1. dtype round trip of the writer
    print("[1] safetensors writer vs torch dtype conversion")
    for m in make_models.MODELS:
        cfg, W = ref.load_model(os.path.join(HERE, m["folder"]))
        src = dict(make_models.make_weights(m["config"], m["seed"], m["qkv_bias"]))
        check(set(src) == set(W), f"{m['folder']}: tensor names match generator ({len(W)})")
        tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[m["dtype"]]
        same = all(torch.equal(torch.from_numpy(a).to(tdt).float(), W[n]) for n, a in src.items())
        check(same, f"{m['folder']}: {m['dtype']} values read back == torch .to({tdt}) of generator float32")

    for folder in FOLDERS:
        print(f"[{folder}]")
        cfg, W = ref.load_model(os.path.join(HERE, folder))
        with open(os.path.join(HERE, folder, "golden.json")) as f:
            g = json.load(f)
        long_p = g["prompts"][1]
        with torch.no_grad():
            full = ref.forward(cfg, W, long_p)
            # 2. causal consistency
            for n in (1, 11, 20):
                pre = ref.forward(cfg, W, long_p[:n])
                d = (pre - full[:n]).abs().max().item()
                check(d <= 1e-5, f"prefix {n} of long prompt vs full: max|diff| = {d:.2e}")
        # 3. independent float64 forward
        np64 = numpy_forward64(cfg, W, long_p)
        d = np.abs(np64 - full.numpy().astype(np.float64)).max()
        check(d <= 1e-4, f"float64 numpy loop forward vs reference: max|diff| = {d:.2e}")
        # 4. golden file == fresh run
        check(g["model"] == folder and len(g["prompts"]) == 2
              and [len(p) for p in g["prompts"]] == [11, 37], "golden.json: model name and prompt lengths 11, 37")
        check(g["command"].split()[1:3] == ["reference_forward.py", folder], "golden.json: command recorded")
        for pi, p in enumerate(g["prompts"]):
            with torch.no_grad():
                fresh = ref.forward(cfg, W, p).numpy()
            gl = np.array(g["logits"][pi], dtype=np.float64)
            check(gl.shape == (len(p), cfg["vocab_size"]), f"golden logits shape {gl.shape}")
            rel = np.abs(gl - fresh).max() / np.abs(fresh).max()
            check(rel <= 1e-6, f"golden prompt {pi} matches fresh run (max rel-to-max diff {rel:.1e})")
        # 6. saturation
        probs = torch.softmax(full, -1)
        print(f"  info logits std {full.std().item():.3f}, max|logit| {full.abs().max().item():.3f}, "
              f"max softmax prob {probs.max().item():.3f}, mean top prob {probs.max(-1).values.mean().item():.3f}")
        check(probs.max().item() < 0.9, "logits not saturated (max prob < 0.9)")

    # 5. rope scaling
    print("[rope]")
    cfg, _ = ref.load_model(os.path.join(HERE, "llama3-gqa-tied"))
    scaled = ref.compute_inv_freq(cfg, 16)
    unscaled = ref.default_inv_freq(cfg["rope_theta"], 16)
    torch.set_printoptions(precision=9)
    print("  llama3 unscaled inv_freq:", unscaled)
    print("  llama3 scaled   inv_freq:", scaled)
    print("  ratio unscaled/scaled   :", unscaled / scaled)
    wl = 2 * math.pi / unscaled
    print("  wavelengths             :", wl, "(high_freq_wavelen 16, low_freq_wavelen 64)")
    check(not torch.equal(scaled, unscaled), "llama3 scaling changes inv_freq")
    r = (unscaled / scaled)
    check(abs(r[0].item() - 1) < 1e-7 and 1.01 < r[1].item() < 7.99 and torch.allclose(r[2:], torch.tensor(8.0)),
          "llama3: dim0 unchanged (high freq), dim1 smoothed (medium), dims 2..7 divided by 8 (low freq)")

    cfg2, _ = ref.load_model(os.path.join(HERE, "llama2-mha"))
    inv_lin = ref.compute_inv_freq(cfg2, 16)
    base_inv = ref.default_inv_freq(cfg2["rope_theta"], 16)
    check(torch.equal(inv_lin, base_inv / 2.0), "linear: inv_freq == default / 2")
    t = torch.arange(37).float()
    freqs_pos = torch.outer(t / 2.0, base_inv)  # older HF: position_ids / scaling_factor
    cos_a, _ = ref.rope_cos_sin(inv_lin, 37)
    d = (cos_a - torch.cat((freqs_pos, freqs_pos), -1).cos()).abs().max().item()
    check(d <= 1e-6, f"linear: inv_freq/factor == positions/factor formulation (max|diff| {d:.1e})")

    # 7. sensitivity to deliberate mistakes
    print("[sensitivity]")
    import copy

    def run(folder, cfg_edit=None, w_edit=None, patch=None):
        cfg, W = ref.load_model(os.path.join(HERE, folder))
        with open(os.path.join(HERE, folder, "golden.json")) as f:
            p = json.load(f)["prompts"][1]
        with torch.no_grad():
            base = ref.forward(cfg, W, p)
            c2 = copy.deepcopy(cfg)
            if cfg_edit:
                cfg_edit(c2)
            W2 = w_edit(W) if w_edit else W
            if patch:  # swap a reference helper for a deliberately wrong one, for this run only
                attr, fn = patch
                orig = getattr(ref, attr)
                setattr(ref, attr, fn)
            try:
                return (ref.forward(c2, W2, p) - base).abs().max().item()
            finally:
                if patch:
                    setattr(ref, attr, orig)

    def no_scaling(c):
        c["rope_scaling"] = None

    def eps_1e6(c):
        c["rms_norm_eps"] = 1e-6

    def drop_bias(W):
        return {k: v for k, v in W.items() if not k.endswith(".bias")}

    def rotate_interleaved(x):
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((-x2, x1), -1).flatten(-2)

    cases = [
        ("llama3-gqa-tied: llama3 rope scaling ignored", run("llama3-gqa-tied", no_scaling)),
        ("llama3-gqa-tied: GQA heads tiled instead of repeat_kv", run(
            "llama3-gqa-tied", patch=("repeat_kv", lambda x, n: x.repeat(1, n, 1, 1)))),
        ("llama3-gqa-tied: GPT-J interleaved rotary instead of rotate_half", run(
            "llama3-gqa-tied", patch=("rotate_half", rotate_interleaved))),
        ("llama3-gqa-tied: rms_norm_eps 1e-6 instead of 1e-5", run("llama3-gqa-tied", eps_1e6)),
        ("qwen2-bias: q/k/v biases ignored", run("qwen2-bias", w_edit=drop_bias)),
        ("llama2-mha: linear rope scaling ignored", run("llama2-mha", no_scaling)),
    ]
    for name, d in cases:
        check(d > 1e-4, f"{name}: max|diff| = {d:.2e}")

    print("\nFAILURES:" if failures else "\nALL CHECKS PASSED")
    for f in failures:
        print("  -", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
