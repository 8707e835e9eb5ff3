#!/usr/bin/env python3
"""Independent F64 numpy forward pass of a llama2.c checkpoint that records calibration statistics.

For every linear product y = x · Wᵀ of the forward pass (x: (T, C_in)) it prints the per-column sum of
squares Σ_t x[t][j]² and the row count T (what llama.cpp's imatrix stores as <tensor>.in_sum2 and
<tensor>.counts), and for the tensors named with --xtx the Gram matrix XᵀX (the GPTQ Hessian is
2·XᵀX/T). The C++ tests in src/calib/ compare shrink's collectors against this output.

Usage: calib_oracle.py [--xtx TENSOR]... MODEL.bin TOKEN_ID... > fixture.txt

The committed fixture tests/oracles/fixtures/calib_stories260k.txt was made with
  python3 tests/oracles/calib_oracle.py --xtx blk.1.attn_q.weight \\
    ../shared/models/stories260K/stories260K.bin \\
    1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 \\
    292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 \\
    267 337 335 312 432 398 312 286 267 414 270 333 415 \\
    > tests/oracles/fixtures/calib_stories260k.txt
(the ids are tok512.bin's encoding of the first 61 tokens of "Once upon a time, there was a little girl
named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play
with it, but it was too high", from llama2c_tokenize_oracle.encode).

Output, one record per line ("#" lines are comments):
  tokens ID...
  sum_sq NAME ROWS C_IN S_0 ... S_{C_IN-1}
  xtx NAME ROWS C_IN G_00 G_01 ... G_0,C-1 G_11 ... (upper triangle, row by row)
NAME is the GGUF tensor name ("blk.3.attn_q.weight", "output.weight"); records follow the order of
the forward pass. All tokens go through the model as one causal sequence from position 0, and every
position's logits are computed, so the output projection sees every row.

The checkpoint layout (run.c's, read here with numpy alone): 7 int32 (dim, hidden_dim, n_layers,
n_heads, n_kv_heads, vocab_size (negative: separate classifier), seq_len), then float32 arrays
token_embedding (V, dim), rms_att (L, dim), wq (L, dim, dim), wk (L, kv_dim, dim), wv (L, kv_dim, dim),
wo (L, dim, dim), rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden), w3 (L, hidden, dim),
rms_final (dim), freq_cis_real and freq_cis_imag (seq_len, head_size/2, skipped), then wcls (V, dim)
when the classifier is separate. The forward is run.c's: RMSNorm with eps 1e-5, RoPE on adjacent
pairs (x[2i], x[2i+1]) by pos·10000^(-2i/head_size), causal softmax attention scaled by
1/sqrt(head_size) with grouped KV heads, SwiGLU FFN w2(silu(w1 x) · w3 x).
"""
import argparse
import sys

import numpy as np

EPS = 1e-5
ROPE_BASE = 10000.0


def read_checkpoint(path):
    raw = open(path, "rb").read()
    dim, hidden, L, H, KVH, vocab, seq_len = (int(v) for v in np.frombuffer(raw, np.int32, 7))
    shared = vocab > 0
    V = abs(vocab)
    hs = dim // H
    kv = KVH * hs
    f = np.frombuffer(raw, np.float32, offset=28).astype(np.float64)
    shapes = [
        ("token_embedding", (V, dim)),
        ("rms_att", (L, dim)),
        ("wq", (L, dim, dim)),
        ("wk", (L, kv, dim)),
        ("wv", (L, kv, dim)),
        ("wo", (L, dim, dim)),
        ("rms_ffn", (L, dim)),
        ("w1", (L, hidden, dim)),
        ("w2", (L, dim, hidden)),
        ("w3", (L, hidden, dim)),
        ("rms_final", (dim,)),
        ("freq_cis_real", (seq_len, hs // 2)),
        ("freq_cis_imag", (seq_len, hs // 2)),
    ]
    if not shared:
        shapes.append(("wcls", (V, dim)))
    w, pos = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        w[name] = f[pos:pos + n].reshape(shape)
        pos += n
    if pos != f.size:
        sys.exit(f"{path}: {f.size} floats after the header, the header implies {pos}")
    if shared:
        w["wcls"] = w["token_embedding"]
    return dict(dim=dim, hidden=hidden, L=L, H=H, KVH=KVH, V=V, hs=hs), w


class Recorder:
    """Prints Σx² per column and the row count of every linear input, and XᵀX for chosen tensors."""

    def __init__(self, xtx_names):
        self.xtx_names = set(xtx_names)
        self.seen = set()

    def linear(self, name, x, weight):
        self.seen.add(name)
        rows, cols = x.shape
        s = (x * x).sum(axis=0)
        print(f"sum_sq {name} {rows} {cols} " + " ".join(f"{v:.12e}" for v in s))
        if name in self.xtx_names:
            g = x.T @ x
            upper = g[np.triu_indices(cols)]
            print(f"xtx {name} {rows} {cols} " + " ".join(f"{v:.10e}" for v in upper))
        return x @ weight.T


def forward(cfg, w, tokens, rec):
    T, H, KVH, hs = len(tokens), cfg["H"], cfg["KVH"], cfg["hs"]

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS) * g

    pos = np.arange(T, dtype=np.float64)
    i = np.arange(hs // 2, dtype=np.float64)
    theta = pos[:, None] * ROPE_BASE ** (-2.0 * i / hs)  # (T, hs/2)
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]

    def rope(x):  # x: (T, heads, hs)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    causal = np.triu(np.full((T, T), -np.inf), 1)
    x = w["token_embedding"][tokens]
    for l in range(cfg["L"]):
        p = f"blk.{l}."
        h = rms(x, w["rms_att"][l])
        q = rope(rec.linear(p + "attn_q.weight", h, w["wq"][l]).reshape(T, H, hs))
        k = rope(rec.linear(p + "attn_k.weight", h, w["wk"][l]).reshape(T, KVH, hs))
        v = rec.linear(p + "attn_v.weight", h, w["wv"][l]).reshape(T, KVH, hs)
        att = np.empty((T, H, hs))
        for head in range(H):
            g = head // (H // KVH)
            s = q[:, head, :] @ k[:, g, :].T / np.sqrt(hs) + causal
            s = np.exp(s - s.max(axis=1, keepdims=True))
            att[:, head, :] = (s / s.sum(axis=1, keepdims=True)) @ v[:, g, :]
        x = x + rec.linear(p + "attn_output.weight", att.reshape(T, H * hs), w["wo"][l])
        h = rms(x, w["rms_ffn"][l])
        gate = rec.linear(p + "ffn_gate.weight", h, w["w1"][l])
        up = rec.linear(p + "ffn_up.weight", h, w["w3"][l])
        x = x + rec.linear(p + "ffn_down.weight", gate / (1.0 + np.exp(-gate)) * up, w["w2"][l])
    return rec.linear("output.weight", rms(x, w["rms_final"]), w["wcls"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xtx", action="append", default=[], help="tensor whose XᵀX to print")
    ap.add_argument("model")
    ap.add_argument("tokens", nargs="+", type=int)
    args = ap.parse_args()
    cfg, w = read_checkpoint(args.model)
    print(f"# calib_oracle.py (numpy {np.__version__}, F64) on {args.model.split('/')[-1]}")
    print("tokens " + " ".join(str(t) for t in args.tokens))
    rec = Recorder(args.xtx)
    forward(cfg, w, np.array(args.tokens), rec)
    missing = rec.xtx_names - rec.seen
    if missing:
        sys.exit(f"--xtx names no linear tensor of this model: {sorted(missing)}")


if __name__ == "__main__":
    main()
