#!/usr/bin/env python3
"""Independent F64 numpy oracle for shrink's training engine: N AdamW steps of a llama2.c checkpoint.

Written from the formulas, not from shrink's C++: a batched forward pass (RMSNorm, adjacent-pair
RoPE, causal grouped-query attention, SwiGLU, tied output), softmax cross-entropy averaged over
the batch's tokens, the backward pass derived by hand (below), global-norm gradient clipping,
AdamW with decoupled weight decay on matrices only (never on norm vectors), and a linear-warmup +
cosine learning rate:
    lr(s) = lr·(s+1)/warmup                                    for s < warmup
    lr(s) = min + ½(lr - min)(1 + cos(π (s - warmup)/(steps - warmup))),  min = lr·min_ratio
    m = β1 m + (1-β1) g,  v = β2 v + (1-β2) g²,  p -= lr (m/(1-β1^t) / (√(v/(1-β2^t)) + ε) + λ p)

Batches: the first --text-bytes bytes of --text are tokenized with llama2c_tokenize_oracle.encode
(run.c's encode, BOS first), cut into windows of T+1 tokens at offsets 0, T, 2T, ...; step s uses
windows (s·B + b) mod W for b < B (in file order, no shuffling: the C++ test reads the windows
from the golden file, so the data order is not under test here). With --accum A, a step's batch
is split by the C++ side into A micro-batches of B/A sequences whose gradients accumulate; this
oracle computes the step on the whole batch at once (the mean over its tokens is the same).

Output (the golden file): a header of hyperparameters, one `batch S id...` line per step
(B·(T+1) ids, sequence after sequence), then `loss S value` (the batch's mean cross-entropy
before step S's update) and `grad_norm S value` (the global gradient norm before clipping).

The committed tests/data/train/stories260k_golden.txt was made with
  python3 tests/oracles/train_oracle.py ../shared/models/stories260K/stories260K.bin \\
    ../shared/models/stories260K/tok512.bin --text ../shared/data/tinyshakespeare/input.txt \\
    > tests/data/train/stories260k_golden.txt
and its backward pass was checked against central differences with --check-gradients.
With --alpha A [--tau T] the loss is distillation from a frozen copy of the initial weights (the
teacher): A·T²·KL(teacher ‖ student) at temperature T + (1 - A)·cross-entropy, averaged over the
batch's tokens. tests/data/train/stories260k_distill_golden.txt was made with the command above
plus --alpha 0.5 --tau 2.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calib_oracle import read_checkpoint  # noqa: E402  (reads the file; no model code)
from llama2c_tokenize_oracle import encode, load  # noqa: E402

EPS = 1e-5
ROPE_BASE = 10000.0


def rope_tables(T, hs):
    pos = np.arange(T, dtype=np.float64)
    i = np.arange(hs // 2, dtype=np.float64)
    theta = pos[:, None] * ROPE_BASE ** (-2.0 * i / hs)  # (T, hs/2)
    return np.cos(theta)[None, :, None, :], np.sin(theta)[None, :, None, :]


def rotate(x, cos, sin):
    """x: (B, T, heads, hs); pairs (x[2j], x[2j+1]) rotated by θ (sin negated: by -θ)."""
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def rms_forward(x, g):
    r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS)
    return x * r * g, r


def rms_backward(dy, x, g, r):
    # y = x r g, r = (mean(x²) + eps)^(-1/2): dr/dx = -r³ x / C.
    C = x.shape[-1]
    dg = (dy * x * r).reshape(-1, C).sum(axis=0)
    dx = dy * g * r - x * (r ** 3) / C * np.sum(dy * g * x, axis=-1, keepdims=True)
    return dx, dg


def forward_backward(cfg, w, inputs, targets, teacher=None, alpha=0.0, tau=1.0, logits_only=False):
    """Mean loss over inputs (B, T) and its gradient for every tensor of w.

    The loss is cross-entropy, or with teacher logits (B, T, V) the distillation loss
    alpha·tau²·KL(softmax(teacher/tau) ‖ softmax(logits/tau)) + (1 - alpha)·cross-entropy.
    logits_only: return the logits (B, T, V) of the forward pass instead."""
    B, T = inputs.shape
    L, H, KVH, hs, C = cfg["L"], cfg["H"], cfg["KVH"], cfg["hs"], cfg["dim"]
    rep = H // KVH
    cos, sin = rope_tables(T, hs)
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    x = w["token_embedding"][inputs]  # (B, T, C)
    saved = []
    for l in range(L):
        s = {"x": x}
        h, s["r1"] = rms_forward(x, w["rms_att"][l])
        s["h"] = h
        q = rotate((h @ w["wq"][l].T).reshape(B, T, H, hs), cos, sin)
        k = rotate((h @ w["wk"][l].T).reshape(B, T, KVH, hs), cos, sin)
        v = (h @ w["wv"][l].T).reshape(B, T, KVH, hs)
        kk, vv = np.repeat(k, rep, axis=2), np.repeat(v, rep, axis=2)  # (B, T, H, hs)
        scores = np.einsum("bthd,bshd->bhts", q, kk) / math.sqrt(hs)
        scores[:, :, mask] = -np.inf
        p = np.exp(scores - scores.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)  # (B, H, T, T)
        att = np.einsum("bhts,bshd->bthd", p, vv).reshape(B, T, H * hs)
        s.update(q=q, kk=kk, vv=vv, p=p, att=att)
        x = x + att @ w["wo"][l].T
        s["xm"] = x
        h2, s["r2"] = rms_forward(x, w["rms_ffn"][l])
        gate, up = h2 @ w["w1"][l].T, h2 @ w["w3"][l].T
        sig = 1.0 / (1.0 + np.exp(-gate))
        hid = gate * sig * up
        s.update(h2=h2, gate=gate, up=up, sig=sig, hid=hid)
        x = x + hid @ w["w2"][l].T
        saved.append(s)
    xf, rf = rms_forward(x, w["rms_final"])
    logits = xf @ w["wcls"].T  # (B, T, V)
    if logits_only:
        return logits
    mx = logits.max(axis=-1, keepdims=True)
    lse = mx[..., 0] + np.log(np.exp(logits - mx).sum(axis=-1))
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    N = B * T
    loss = float(np.mean(lse - picked))

    g = {name: np.zeros_like(val) for name, val in w.items()}
    dlogits = np.exp(logits - lse[..., None])
    np.put_along_axis(dlogits, targets[..., None],
                      np.take_along_axis(dlogits, targets[..., None], axis=-1) - 1.0, axis=-1)
    if teacher is not None:
        # d(tau² KL(p ‖ q))/dlogits = tau² · (q - p) / tau, with q, p the tempered softmaxes.
        def log_softmax(z):
            z = z - z.max(axis=-1, keepdims=True)
            return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        logq, logp = log_softmax(logits / tau), log_softmax(teacher / tau)
        kl = np.sum(np.exp(logp) * (logp - logq), axis=-1)
        loss = (1.0 - alpha) * loss + alpha * tau * tau * float(np.mean(kl))
        dlogits = (1.0 - alpha) * dlogits + alpha * tau * (np.exp(logq) - np.exp(logp))
    dlogits /= N
    g["wcls"] += dlogits.reshape(N, -1).T @ xf.reshape(N, C)
    dx, dgf = rms_backward(dlogits @ w["wcls"], x, w["rms_final"], rf)
    g["rms_final"] += dgf
    for l in reversed(range(L)):
        s = saved[l]
        # x_out = xm + hid @ w2ᵀ
        dhid = dx @ w["w2"][l]
        g["w2"][l] += dx.reshape(N, C).T @ s["hid"].reshape(N, -1)
        sig, gate, up = s["sig"], s["gate"], s["up"]
        dup = dhid * gate * sig
        dgate = dhid * up * sig * (1.0 + gate * (1.0 - sig))
        g["w1"][l] += dgate.reshape(N, -1).T @ s["h2"].reshape(N, C)
        g["w3"][l] += dup.reshape(N, -1).T @ s["h2"].reshape(N, C)
        dh2 = dgate @ w["w1"][l] + dup @ w["w3"][l]
        dxm, dg2 = rms_backward(dh2, s["xm"], w["rms_ffn"][l], s["r2"])
        g["rms_ffn"][l] += dg2
        dx = dx + dxm
        # xm = x + att @ woᵀ
        datt = (dx @ w["wo"][l]).reshape(B, T, H, hs)
        g["wo"][l] += dx.reshape(N, C).T @ s["att"].reshape(N, -1)
        p, q, kk, vv = s["p"], s["q"], s["kk"], s["vv"]
        dp = np.einsum("bthd,bshd->bhts", datt, vv)
        dvv = np.einsum("bhts,bthd->bshd", p, datt)
        ds = p * (dp - np.sum(p * dp, axis=-1, keepdims=True)) / math.sqrt(hs)
        dq = np.einsum("bhts,bshd->bthd", ds, kk)
        dkk = np.einsum("bhts,bthd->bshd", ds, q)
        # Query heads h·rep .. h·rep+rep-1 share key/value head h: their gradients add.
        dk = dkk.reshape(B, T, KVH, rep, hs).sum(axis=3)
        dv = dvv.reshape(B, T, KVH, rep, hs).sum(axis=3)
        dq = rotate(dq, cos, -sin).reshape(B, T, -1)  # the rotation's transpose is its inverse
        dk = rotate(dk, cos, -sin).reshape(B, T, -1)
        dv = dv.reshape(B, T, -1)
        h = s["h"].reshape(N, C)
        g["wq"][l] += dq.reshape(N, -1).T @ h
        g["wk"][l] += dk.reshape(N, -1).T @ h
        g["wv"][l] += dv.reshape(N, -1).T @ h
        dh = dq @ w["wq"][l] + dk @ w["wk"][l] + dv @ w["wv"][l]
        dxa, dg1 = rms_backward(dh, s["x"], w["rms_att"][l], s["r1"])
        g["rms_att"][l] += dg1
        dx = dx + dxa
    np.add.at(g["token_embedding"], inputs.reshape(-1), dx.reshape(N, C))
    return loss, g


def check_gradients(cfg, params, view):
    """The oracle's own backward pass against F64 central differences, four random coordinates
    per tensor. With h = 1e-5 the truncation error is ~h² times the third derivative (~1e-10) and
    the rounding error ~1e-16·|L|/h (~1e-11), so a right formula agrees to ~1e-6 relative (the
    small gradients dominate); fails above 1e-4."""
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, cfg["V"], (2, 9))
    targets = rng.integers(0, cfg["V"], (2, 9))
    _, g = forward_backward(cfg, view(params), inputs, targets)
    g["token_embedding"] = g["token_embedding"] + g.pop("wcls")
    worst, h = 0.0, 1e-5
    for k, p in params.items():
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            if k == "token_embedding":  # a row the batch uses
                idx = (int(inputs[0, 1]), idx[1])
            old = p[idx]
            p[idx] = old + h
            lp, _ = forward_backward(cfg, view(params), inputs, targets)
            p[idx] = old - h
            lm, _ = forward_backward(cfg, view(params), inputs, targets)
            p[idx] = old
            numeric = (lp - lm) / (2 * h)
            worst = max(worst, abs(numeric - g[k][idx]) / (abs(numeric) + 1e-6))
    print(f"worst relative error of the oracle's gradients: {worst:.3e}")
    return 0 if worst < 1e-4 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("tokenizer")
    ap.add_argument("--text", required=True)
    ap.add_argument("--text-bytes", type=int, default=8000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--accum", type=int, default=2)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--alpha", type=float, default=None,
                    help="distill: weight of the KL term; the teacher is the model's initial weights")
    ap.add_argument("--tau", type=float, default=2.0, help="distill: temperature")
    ap.add_argument("--check-gradients", action="store_true",
                    help="only compare this oracle's backward pass with central differences")
    a = ap.parse_args()

    cfg, w = read_checkpoint(a.model)
    # Tied output: one tensor, its gradient the sum of both uses.
    params = {k: np.array(v) for k, v in w.items()
              if k not in ("wcls", "freq_cis_real", "freq_cis_imag")}

    def view(p):
        out = dict(p)
        out["wcls"] = p["token_embedding"]
        return out

    if a.check_gradients:
        return check_gradients(cfg, params, view)

    vocab, scores = load(a.tokenizer)
    text = open(a.text, "rb").read()[:a.text_bytes].decode("utf-8", errors="ignore")
    ids = np.array(encode(text, vocab, scores), dtype=np.int64)
    T = a.seq
    windows = (len(ids) - 1) // T
    assert windows >= a.batch, "not enough text for one batch"
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    print(f"# train_oracle.py (numpy {np.__version__}, F64) on {os.path.basename(a.model)}: "
          f"first {a.text_bytes} bytes of {os.path.basename(a.text)}, {len(ids)} tokens")
    print(f"config steps {a.steps} batch {a.batch} accum {a.accum} seq {T} lr {a.lr!r} "
          f"warmup {a.warmup} min_lr_ratio {a.min_lr_ratio!r} beta1 {a.beta1!r} "
          f"beta2 {a.beta2!r} eps {a.eps!r} weight_decay {a.weight_decay!r} clip {a.clip!r}"
          + (f" alpha {a.alpha!r} tau {a.tau!r}" if a.alpha is not None else ""))
    teacher = view({k: v.copy() for k, v in params.items()}) if a.alpha is not None else None
    losses, norms = [], []
    for step in range(a.steps):
        rows = [ids[((step * a.batch + b) % windows) * T:][:T + 1] for b in range(a.batch)]
        batch = np.stack(rows)
        print(f"batch {step} " + " ".join(str(int(t)) for t in batch.reshape(-1)))
        if teacher is None:
            loss, grads = forward_backward(cfg, view(params), batch[:, :T], batch[:, 1:])
        else:
            t_logits = forward_backward(cfg, teacher, batch[:, :T], batch[:, 1:], logits_only=True)
            loss, grads = forward_backward(cfg, view(params), batch[:, :T], batch[:, 1:],
                                           teacher=t_logits, alpha=a.alpha, tau=a.tau)
        grads["token_embedding"] = grads["token_embedding"] + grads.pop("wcls")
        norm = math.sqrt(sum(float(np.sum(g * g)) for k, g in grads.items() if k in params))
        if norm > a.clip:
            for k in grads:
                grads[k] = grads[k] * (a.clip / norm)
        if step < a.warmup:
            lr = a.lr * (step + 1) / a.warmup
        else:
            lo = a.lr * a.min_lr_ratio
            prog = (step - a.warmup) / (a.steps - a.warmup)
            lr = lo + 0.5 * (a.lr - lo) * (1.0 + math.cos(math.pi * prog))
        t = step + 1
        for k, p in params.items():
            gk = grads[k]
            m[k] = a.beta1 * m[k] + (1 - a.beta1) * gk
            v2[k] = a.beta2 * v2[k] + (1 - a.beta2) * gk * gk
            mh = m[k] / (1 - a.beta1 ** t)
            vh = v2[k] / (1 - a.beta2 ** t)
            # Norm vectors ((L, dim) stacks of 1-D weights and rms_final) get no decay.
            decay = 0.0 if k.startswith("rms_") else a.weight_decay
            params[k] = p - lr * (mh / (np.sqrt(vh) + a.eps) + decay * p)
        losses.append(loss)
        norms.append(norm)
    for step, loss in enumerate(losses):
        print(f"loss {step} {loss:.10f}")
    for step, norm in enumerate(norms):
        print(f"grad_norm {step} {norm:.10f}")


if __name__ == "__main__":
    sys.exit(main())
