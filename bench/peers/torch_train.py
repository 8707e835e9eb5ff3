#!/usr/bin/env python3
"""PyTorch side of bench/train_vs_pytorch.sh: forward + backward + AdamW steps of a Llama GGUF.

The model is the Llama architecture written the way a PyTorch user writes it (HF transformers'
LlamaForCausalLM in miniature): token embedding, per layer RMSNorm -> q/k/v projections ->
RoPE -> causal grouped-query attention (F.scaled_dot_product_attention) -> output projection ->
residual, RMSNorm -> SwiGLU feed-forward -> residual, final RMSNorm and the output projection
(tied to the embedding when the file has no output.weight, as SmolLM2). Config and F32 weights
come from the GGUF through gguf-py (pass the F32 base written by `shrink quantize ... --type F32`).
GGUF stores q/k rows permuted for adjacent-pair RoPE (llama.cpp's "normal" mode), so the rotation
here rotates adjacent pairs (x[2j], x[2j+1]), as shrink's train/ops.h does for llama.

Training step, as shrink's Trainer: mean cross-entropy over the batch's tokens, backward, global
gradient-norm clipping (--clip), AdamW with weight decay on matrices only. torch.set_num_threads
(--threads) is set before anything runs.

Data: --ids is `shrink tokenize --ids` output ("[1, 2, 3]"); step s takes windows of seq+1 tokens
at consecutive offsets. Prints one line per step and then
  torch <mode>: <tokens/s> tokens/s over <n> timed steps (<s> s/step) after <w> warm-up steps
where tokens/s counts batch × seq per step (the warm-up steps, which include torch.compile's
compilation, are not timed).
"""
import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from gguf import GGUFReader


def field(reader, key):
    f = reader.fields[key]
    v = f.parts[f.data[0]]
    return v.tolist()[0] if len(v) == 1 else bytes(v).decode()


def load(path):
    r = GGUFReader(path)
    arch = field(r, "general.architecture")
    cfg = {
        "d": field(r, f"{arch}.embedding_length"),
        "layers": field(r, f"{arch}.block_count"),
        "heads": field(r, f"{arch}.attention.head_count"),
        "kv_heads": field(r, f"{arch}.attention.head_count_kv"),
        "ffn": field(r, f"{arch}.feed_forward_length"),
        "eps": field(r, f"{arch}.attention.layer_norm_rms_epsilon"),
        "theta": field(r, f"{arch}.rope.freq_base") if f"{arch}.rope.freq_base" in r.fields else 1e4,
    }
    weights = {}
    for t in r.tensors:
        if t.tensor_type != 0:  # GGML_TYPE_F32
            sys.exit(f"{path}: tensor {t.name} is not F32; pass the F32 base (shrink quantize --type F32)")
        # gguf-py gives the numpy shape (rows, cols) of ggml's (cols, rows).
        weights[t.name] = torch.from_numpy(np.array(t.data, dtype=np.float32))
    del r
    cfg["vocab"] = weights["token_embd.weight"].shape[0]
    return cfg, weights


class Llama(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        P = lambda name: torch.nn.Parameter(w[name])  # noqa: E731
        self.embd = P("token_embd.weight")
        self.out_norm = P("output_norm.weight")
        self.out = P("output.weight") if "output.weight" in w else None
        self.blocks = torch.nn.ModuleList()
        for i in range(cfg["layers"]):
            b = torch.nn.Module()
            for role in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                         "ffn_gate", "ffn_up", "ffn_down"):
                setattr(b, role, P(f"blk.{i}.{role}.weight"))
            self.blocks.append(b)
        hd = cfg["d"] // cfg["heads"]
        self.hd = hd
        inv = cfg["theta"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        self.inv_freq = inv

    def rope_tables(self, T):
        theta = torch.arange(T, dtype=torch.float64)[:, None] * self.inv_freq[None, :]
        return torch.cos(theta).float(), torch.sin(theta).float()

    @staticmethod
    def rope(x, cos, sin):
        # x: (B, H, T, hd); adjacent pairs (x[2j], x[2j+1]) rotated by position · freq_j.
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

    def forward(self, tokens, targets, cos, sin):
        c = self.cfg
        B, T = tokens.shape
        H, KVH, hd, eps = c["heads"], c["kv_heads"], self.hd, c["eps"]
        x = F.embedding(tokens, self.embd)
        for b in self.blocks:
            h = F.rms_norm(x, (c["d"],), b.attn_norm, eps)
            q = F.linear(h, b.attn_q).view(B, T, H, hd).transpose(1, 2)
            k = F.linear(h, b.attn_k).view(B, T, KVH, hd).transpose(1, 2)
            v = F.linear(h, b.attn_v).view(B, T, KVH, hd).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            k = k.repeat_interleave(H // KVH, dim=1)
            v = v.repeat_interleave(H // KVH, dim=1)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, H * hd), b.attn_output)
            h = F.rms_norm(x, (c["d"],), b.ffn_norm, eps)
            x = x + F.linear(F.silu(F.linear(h, b.ffn_gate)) * F.linear(h, b.ffn_up), b.ffn_down)
        x = F.rms_norm(x, (c["d"],), self.out_norm, eps)
        logits = F.linear(x, self.out if self.out is not None else self.embd)
        return F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="F32 GGUF")
    ap.add_argument("--ids", required=True, help="`shrink tokenize --ids` output")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--compile", action="store_true", help="torch.compile the loss step")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg, w = load(args.base)
    model = Llama(cfg, w)
    del w
    with open(args.ids) as f:
        ids = torch.tensor([int(t) for t in f.read().strip().strip("[]").split(",")],
                           dtype=torch.long)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    norms = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": matrices, "weight_decay": args.weight_decay},
                             {"params": norms, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    cos, sin = model.rope_tables(args.seq)
    step_fn = torch.compile(model) if args.compile else model
    mode = "compile" if args.compile else "eager"
    B, T = args.batch, args.seq
    windows = (len(ids) - 1) // T
    t_start = None
    for s in range(args.warm + args.steps):
        if s == args.warm:
            t_start = time.perf_counter()
        rows = [(s * B + b) % windows for b in range(B)]
        x = torch.stack([ids[r * T:r * T + T] for r in rows])
        y = torch.stack([ids[r * T + 1:r * T + T + 1] for r in rows])
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = step_fn(x, y, cos, sin)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        dt = time.perf_counter() - t0
        print(f"torch {mode}: step {s + 1} loss {loss.item():.4f} grad-norm {norm.item():.3f} "
              f"{B * T / dt:.0f} tokens/s{' (warm-up)' if s < args.warm else ''}", flush=True)
    elapsed = time.perf_counter() - t_start
    print(f"torch {mode}: {B * T * args.steps / elapsed:.1f} tokens/s over {args.steps} timed steps "
          f"({elapsed / args.steps:.2f} s/step) after {args.warm} warm-up steps; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)


if __name__ == "__main__":
    main()
