#!/usr/bin/env python3
"""Independent F64 numpy forward pass of a GGUF "gemma3" model (weights dequantized by gguf-py).

Usage: gemma3_forward_oracle.py MODEL.gguf TOKEN_ID... > fixture.txt
Prints the input tokens (line 1), the arg max at every position (line 2), then the 64 largest logits of the
last position as "id logit" lines, so a C++ test can compare shrink's forward pass against it.
The committed fixture tests/oracles/fixtures/gemma3_forward.txt was made with
  gemma3_forward_oracle.py gemma-3-270m-q4_k_m.gguf 2 818 4083 529 506 10995 23436 6074 1056
(the ids are llama-tokenize's for "The history of the Roman Empire began when", BOS first).

Written from the Gemma 3 technical report and the Hugging Face model description, not from any
implementation's code:
  x = embed(tokens) * sqrt(d_model)
  per layer: h = RMSNorm(x) * attn_norm; q, k, v = h Wq^T, h Wk^T, h Wv^T (per head);
             q, k = RMSNorm_head(q) * q_norm, RMSNorm_head(k) * k_norm; RoPE on q, k with the halves
             pairing (x[j], x[j + hd/2]), base 1e6 on global layers and 1e4 on local (sliding-window)
             layers; scores q k^T / sqrt(head_dim) (query_pre_attn_scalar = head_dim), causal, local
             layers see only the last `sliding_window` positions; x += RMSNorm(att Wo^T) * post_attention_norm;
             h = RMSNorm(x) * ffn_norm; x += RMSNorm((gelu_tanh(h Wg^T) * h Wu^T) Wd^T) * post_ffw_norm
  logits = RMSNorm(x) * output_norm @ token_embd^T (tied).
GGUF stores Gemma's norm weights with the +1 of Gemma's (1 + w) convention already added, so they multiply
directly. Local layers: five of every six (layer l is global when l % 6 == 5), the default pattern.
"""
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main():
    path, tokens = sys.argv[1], [int(t) for t in sys.argv[2:]]
    r = GGUFReader(path)
    kv = {f.name: f for f in r.fields.values()}

    def scalar(key, default=None):
        if key not in kv:
            return default
        f = kv[key]
        return f.parts[f.data[0]][0].item()

    L = scalar("gemma3.block_count")
    C = scalar("gemma3.embedding_length")
    H = scalar("gemma3.attention.head_count")
    KVH = scalar("gemma3.attention.head_count_kv")
    hd = scalar("gemma3.attention.key_length")
    eps = scalar("gemma3.attention.layer_norm_rms_epsilon")
    base_global = scalar("gemma3.rope.freq_base")
    base_local = scalar("gemma3.rope.freq_base_swa", 10000.0)
    window = scalar("gemma3.attention.sliding_window")

    W = {}
    for t in r.tensors:
        if t.name == "token_embd.weight":
            continue  # 262,144 rows: dequantized on demand below
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        W[t.name] = a.reshape([int(d) for d in reversed(t.shape)])  # (rows, cols)
    embd = next(t for t in r.tensors if t.name == "token_embd.weight")
    E = dequantize(embd.data, embd.tensor_type).reshape(-1, C)  # F32 (vocab, C)

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    j = np.arange(hd // 2, dtype=np.float64)

    def rope(x, base):  # x: (T, heads, hd), halves pairing
        theta = pos[:, None] * base ** (-2.0 * j / hd)
        cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        a, b = x[..., : hd // 2], x[..., hd // 2 :]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

    def gelu_tanh(g):
        return 0.5 * g * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (g + 0.044715 * g**3)))

    x = E[tokens].astype(np.float64) * np.sqrt(C)
    for l in range(L):
        p = f"blk.{l}."
        local = l % 6 != 5
        base = base_local if local else base_global
        i, k_pos = np.arange(T)[:, None], np.arange(T)[None, :]
        visible = (k_pos <= i) & ((i - k_pos < window) if local else True)
        mask = np.where(visible, 0.0, -np.inf)
        h = rms(x, W[p + "attn_norm.weight"])
        q = (h @ W[p + "attn_q.weight"].T).reshape(T, H, hd)
        k = (h @ W[p + "attn_k.weight"].T).reshape(T, KVH, hd)
        v = (h @ W[p + "attn_v.weight"].T).reshape(T, KVH, hd)
        q = rope(rms(q, W[p + "attn_q_norm.weight"]), base)
        k = rope(rms(k, W[p + "attn_k_norm.weight"]), base)
        att = np.empty((T, H, hd))
        for hh in range(H):
            g = hh // (H // KVH)
            s = q[:, hh, :] @ k[:, g, :].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att[:, hh, :] = s @ v[:, g, :]
        x = x + rms(att.reshape(T, H * hd) @ W[p + "attn_output.weight"].T, W[p + "post_attention_norm.weight"])
        h = rms(x, W[p + "ffn_norm.weight"])
        f = gelu_tanh(h @ W[p + "ffn_gate.weight"].T) * (h @ W[p + "ffn_up.weight"].T)
        x = x + rms(f @ W[p + "ffn_down.weight"].T, W[p + "post_ffw_norm.weight"])
    logits = rms(x, W["output_norm.weight"]) @ E.T.astype(np.float64)
    print(" ".join(str(t) for t in tokens))
    print(" ".join(str(int(i)) for i in logits.argmax(axis=1)))
    last = logits[-1]
    for i in np.argsort(-last)[:64]:
        print(int(i), repr(float(last[i])))


if __name__ == "__main__":
    main()
