#!/usr/bin/env python3
"""Independent F64 numpy forward pass of a GGUF "llama" model (weights dequantized by gguf-py).

Usage: llama_forward_oracle.py MODEL.gguf TOKEN_ID... > fixture.txt
Prints the input tokens (line 1), the arg max at every position (line 2), then the 64 largest logits of the
last position as "id logit" lines, so a C++ test can compare shrink's forward pass against it.
The committed fixture tests/oracles/fixtures/smollm2_forward.txt was made with
  llama_forward_oracle.py smollm2-135m-instruct-q4_1.gguf 504 3575 282 4649 314 7042 30 198 198 504 Follows llama.cpp's llama graph: RMSNorm (eps from
metadata), RoPE "norm" mode (adjacent pairs) with theta_j = pos * base^(-2j/n_rot), causal softmax
attention scaled by 1/sqrt(head_dim) with grouped KV heads, SwiGLU FFN, final norm, output = token_embd
when output.weight is absent.
"""
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main():
    path, tokens = sys.argv[1], [int(t) for t in sys.argv[2:]]
    r = GGUFReader(path)
    kv = {f.name: f for f in r.fields.values()}

    def scalar(key):
        f = kv[key]
        return f.parts[f.data[0]][0].item()

    L = scalar("llama.block_count")
    C = scalar("llama.embedding_length")
    H = scalar("llama.attention.head_count")
    KVH = scalar("llama.attention.head_count_kv")
    eps = scalar("llama.attention.layer_norm_rms_epsilon")
    base = scalar("llama.rope.freq_base")
    hd = C // H
    W = {}
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        W[t.name] = a.reshape([int(d) for d in reversed(t.shape)])  # (rows, cols)

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    j = np.arange(hd // 2, dtype=np.float64)
    theta = pos[:, None] * base ** (-2.0 * j / hd)  # (T, hd/2)
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]

    def rope(x):  # x: (T, heads, hd), adjacent pairs
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    x = W["token_embd.weight"][tokens]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        p = f"blk.{l}."
        h = rms(x, W[p + "attn_norm.weight"])
        q = rope((h @ W[p + "attn_q.weight"].T).reshape(T, H, hd))
        k = rope((h @ W[p + "attn_k.weight"].T).reshape(T, KVH, hd))
        v = (h @ W[p + "attn_v.weight"].T).reshape(T, KVH, hd)
        att = np.empty((T, H, hd))
        for hh in range(H):
            g = hh // (H // KVH)
            s = q[:, hh, :] @ k[:, g, :].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att[:, hh, :] = s @ v[:, g, :]
        x = x + att.reshape(T, C) @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"])
        g = h @ W[p + "ffn_gate.weight"].T
        u = h @ W[p + "ffn_up.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ W[p + "ffn_down.weight"].T
    out = W.get("output.weight", W["token_embd.weight"])
    logits = rms(x, W["output_norm.weight"]) @ out.T
    print(" ".join(str(t) for t in tokens))
    print(" ".join(str(int(i)) for i in logits.argmax(axis=1)))
    last = logits[-1]
    for i in np.argsort(-last)[:64]:
        print(int(i), repr(float(last[i])))


if __name__ == "__main__":
    main()
