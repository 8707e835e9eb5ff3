#!/usr/bin/env python3
"""Independent numpy oracle for shrink's eval layer (src/eval): perplexity, the llama-perplexity base-logits
file, and the KL-divergence statistics, written from llama.cpp's tools/perplexity protocol description.

It generates random logits for a small "model" (vocab 11: odd, so rows carry a padding word), runs the
perplexity protocol over a token sequence, and writes fixtures under tests/oracles/fixtures/eval/:
  tokens.bin        i32 tokens of the "text"
  logits_base.bin   f32 (n_chunk, n_ctx, vocab): what the base model returns for each chunk
  logits_q.bin      f32 (n_chunk, n_ctx, vocab): what the model under test returns
  base.logits       the base file llama-perplexity --kl-divergence-base would write for logits_base
  expected.txt      the report lines shrink must print (final estimates, KLD table rows and summary)

Float32 steps are done in np.float32 (IEEE single, same as C float); sums in Python float (double) in the
same order as the C++ code; exp of a float32 argument is computed in double and rounded to float32 (glibc's
expf is correctly rounded for all but ~0.2% of inputs within 0.002 ulp of a tie: those leave the printed
digits unchanged). Run: python3 tests/oracles/eval_perplexity_oracle.py
"""
import math
import os
import struct

import numpy as np

F = np.float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "eval")

VOCAB = 11
N_CTX = 32
N_CHUNK = 8  # 8 chunks x 15 scored tokens = 120 >= 100, so the KLD summary is printed
N_TOKENS = N_CTX * N_CHUNK + 5  # a partial chunk at the end is never used
BOS = 1


def expf(x):
    return F(math.exp(float(x)))


def logf(x):
    return F(math.log(x))


def sum_exp(row, mx):
    s = 0.0
    for v in row:
        s += float(expf(F(v - mx)))
    return s


def token_nll_plain(row, tok):
    mx = row.max()
    s = sum_exp(row, mx)
    return -(float(F(row[tok] - mx)) - math.log(s))


def encode_row(row, tok):
    """Returns (nll as float32, row words as uint16 array)."""
    mx = row.max()
    mn = max(row.min(), F(mx - F(16)))
    lse = F(math.log(sum_exp(row, mx)))
    min_log_prob = F(F(mn - mx) - lse)
    scale = F(F(mx - mn) / F(65535))
    words = np.zeros(2 * ((VOCAB + 1) // 2) + 4, dtype=np.uint16)
    words[0:4] = np.frombuffer(struct.pack("<ff", scale, min_log_prob), dtype=np.uint16)
    if scale != 0:
        inv = F(F(1) / scale)
        for i, v in enumerate(row):
            if v > mn:
                words[4 + i] = np.uint16(int(np.rint(F(inv * F(v - mn)))) & 0xFFFF)
    nll = F(F(mx + lse) - row[tok])
    return nll, words


def compare_row(row, words, tok):
    mx = row.max()
    imax = int(np.argmax(row))  # first maximum
    lse = F(math.log(sum_exp(row, mx)))
    scale, min_lp = struct.unpack("<ff", words[0:4].tobytes())
    scale, min_lp = F(scale), F(min_lp)
    q = words[4:4 + VOCAB]
    nll = F(F(mx + lse) - row[tok])
    nll_base = F(-F(F(scale * F(q[tok])) + min_lp))
    log_norm = F(mx + lse)
    kld = 0.0
    imax_base, best = 0, F(0)
    for i in range(VOCAB):
        lp = F(F(scale * F(q[i])) + min_lp)
        if i == 0 or lp > best:
            best, imax_base = lp, i
        if lp > F(-16):
            kld += float(F(expf(lp) * F(F(lp - row[i]) + log_norm)))
    p_diff = F(expf(-nll) - expf(-nll_base))
    return nll, nll_base, kld, p_diff, imax == imax_base


def mean_err(s, s2, n):
    m = s / n
    var = s2 / n - m * m
    return m, (math.sqrt(var / (n - 1)) if var > 0 and n > 10 else 0.0)


def percentile(v, fraction):
    fraction = F(fraction)
    if fraction <= 0:
        return v[0]
    if fraction >= 1:
        return v[-1]
    p = F(fraction * F(len(v) - 1))
    ip = int(p)
    p = F(p - F(ip))
    return F(F(F(1) - p) * v[ip] + F(p * v[min(ip + 1, len(v) - 1)]))


def median(v):
    n = len(v)
    return F(F(0.5) * F(v[n // 2] + v[n // 2 - 1])) if n % 2 == 0 else v[n // 2]


def final_estimate(s, s2, n):
    m = s / n
    var = s2 / n - m * m
    ppl = math.exp(m)
    return "Final estimate: PPL = %.4f +/- %.5f\n" % (ppl, math.sqrt(var / (n - 1)) * ppl)


def main():
    rng = np.random.default_rng(20240601)
    tokens = rng.integers(0, VOCAB, size=N_TOKENS).astype(np.int32)
    tokens[0] = BOS
    # Logits spread over ~20 nats so that some fall below the 16-nat clamp; Q = base + small noise, with
    # an occasional argmax swap so top-1 agreement is not trivially 100%.
    base = (rng.standard_normal((N_CHUNK, N_CTX, VOCAB)) * 4).astype(F)
    base[:, :, 3] -= F(12)
    q = (base + rng.standard_normal(base.shape).astype(F) * F(0.3)).astype(F)
    q[0, 20, :] = q[0, 20, ::-1]  # a row where Q and P disagree completely
    first = N_CTX // 2
    scored = N_CTX - 1 - first

    plain_s = plain_s2 = save_s = save_s2 = 0.0
    n = 0
    file_rows = []
    for c in range(N_CHUNK):
        for r in range(scored):
            row = base[c, first + r]
            tok = int(tokens[c * N_CTX + first + r + 1])
            v = token_nll_plain(row, tok)
            plain_s += v
            plain_s2 += v * v
            nll, words = encode_row(row, tok)
            v = float(nll)
            save_s += v
            save_s2 += v * v
            file_rows.append(words)
            n += 1

    header = b"_logits_" + struct.pack("<iii", N_CTX, VOCAB, N_CHUNK)
    body = tokens[:N_CHUNK * N_CTX].astype("<i4").tobytes() + b"".join(w.astype("<u2").tobytes() for w in file_rows)

    sums = dict(nll=0.0, nll2=0.0, nb=0.0, nb2=0.0, nnb=0.0, kld=0.0, kld2=0.0, pd=0.0, pd2=0.0, pd4=0.0)
    same = 0
    klds, pdiffs = [], []
    lines = []
    count = 0
    for c in range(N_CHUNK):
        for r in range(scored):
            tok = int(tokens[c * N_CTX + first + r + 1])
            nll, nb, kld, pd, top = compare_row(q[c, first + r], file_rows[c * scored + r], tok)
            sums["nll"] += float(nll)
            sums["nll2"] += float(F(nll * nll))
            sums["nb"] += float(nb)
            sums["nb2"] += float(F(nb * nb))
            sums["nnb"] += float(F(nll * nb))
            sums["kld"] += kld
            sums["kld2"] += kld * kld
            sums["pd"] += float(pd)
            pd2 = float(F(pd * pd))
            sums["pd2"] += pd2
            sums["pd4"] += pd2 * pd2
            same += top
            count += 1
            klds.append(F(kld))
            pdiffs.append(pd)
        lines.append(kld_row(c + 1, sums, same, count))
    klds.sort()
    pdiffs.sort()
    summary = kld_summary(sums, same, count, klds, pdiffs)
    kld_final = final_estimate(sums["nll"], sums["nll2"], count)

    os.makedirs(OUT, exist_ok=True)
    tokens.astype("<i4").tofile(os.path.join(OUT, "tokens.bin"))
    base.astype("<f4").tofile(os.path.join(OUT, "logits_base.bin"))
    q.astype("<f4").tofile(os.path.join(OUT, "logits_q.bin"))
    with open(os.path.join(OUT, "base.logits"), "wb") as f:
        f.write(header + body)
    with open(os.path.join(OUT, "expected.txt"), "w", encoding="utf-8") as f:
        f.write("== ppl_plain\n" + final_estimate(plain_s, plain_s2, n))
        f.write("== ppl_save\n" + final_estimate(save_s, save_s2, n))
        f.write("== kld_rows\n" + "".join(lines))
        f.write("== kld_summary\n" + summary)
        f.write("== kld_final\n" + kld_final)
        f.write("== end\n")


def cov(sums, n):
    if n < 10:
        return 0.0
    return (sums["nnb"] / n - (sums["nll"] / n) * (sums["nb"] / n)) / (n - 1)


def kld_row(chunk, sums, same, n):
    lp = mean_err(sums["nll"], sums["nll2"], n)
    lb = mean_err(sums["nb"], sums["nb2"], n)
    c = cov(sums, n)
    ratio_unc = math.sqrt(lp[1] ** 2 + lb[1] ** 2 - 2.0 * c)
    kl = mean_err(sums["kld"], sums["kld2"], n)
    mse = mean_err(sums["pd2"], sums["pd4"], n)
    rms = math.sqrt(mse[0])
    rms_unc = 0.5 / rms * mse[1]
    top = same / n
    top_unc = math.sqrt(top * (1 - top) / (n - 1))
    ppl = math.exp(lp[0])
    return ("%4d" % chunk + "    %9.4f ± %9.4f" % (ppl, ppl * lp[1]) +
            "    %10.5f ± %10.5f" % (lp[0] - lb[0], ratio_unc) + "    %10.5f ± %10.5f" % kl +
            "    %6.3f ± %6.3f %%" % (100 * rms, 100 * rms_unc) +
            "    %6.3f ± %6.3f %%" % (100 * top, 100 * top_unc) + "\n")


def kld_summary(sums, same, n, klds, pd):
    lp = mean_err(sums["nll"], sums["nll2"], n)
    lb = mean_err(sums["nb"], sums["nb2"], n)
    c = cov(sums, n)
    o = ["====== Perplexity statistics ======"]
    ppl, ppl_unc = math.exp(lp[0]), math.exp(lp[0]) * lp[1]
    pb, pb_unc = math.exp(lb[0]), math.exp(lb[0]) * lb[1]
    o.append("Mean PPL(Q)                   : %10.6f ± %10.6f" % (ppl, ppl_unc))
    o.append("Mean PPL(base)                : %10.6f ± %10.6f" % (pb, pb_unc))
    o.append("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%" % (100.0 * c / (lp[1] * lb[1])))
    r, ru = lp[0] - lb[0], math.sqrt(lp[1] ** 2 + lb[1] ** 2 - 2.0 * c)
    o.append("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f" % (r, ru))
    o.append("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f" % (math.exp(r), math.exp(r) * ru))
    pc = ppl * pb * c
    o.append("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f" %
             (ppl - pb, math.sqrt(ppl_unc ** 2 + pb_unc ** 2 - 2.0 * pc)))
    o.append("")
    o.append("====== KL divergence statistics ======")
    o.append("Mean    KLD: %10.6f ± %10.6f" % mean_err(sums["kld"], sums["kld2"], n))
    o.append("Maximum KLD: %10.6f" % klds[-1])
    for label, fr in [("99.9%", 0.999), ("99.0%", 0.990), ("95.0%", 0.950), ("90.0%", 0.900)]:
        o.append("%s   KLD: %10.6f" % (label, percentile(klds, fr)))
    o.append("Median  KLD: %10.6f" % median(klds))
    for label, fr in [("10.0%", 0.100), (" 5.0%", 0.050), (" 1.0%", 0.010), (" 0.1%", 0.001)]:
        o.append("%s   KLD: %10.6f" % (label, percentile(klds, fr)))
    o.append("Minimum KLD: %10.6f" % klds[0])
    o.append("")
    o.append("====== Token probability statistics ======")
    m = mean_err(sums["pd"], sums["pd2"], n)
    o.append("Mean    Δp: %6.3f ± %5.3f %%" % (100 * m[0], 100 * m[1]))
    o.append("Maximum Δp: %6.3f%%" % (100.0 * pd[-1]))
    for label, fr in [("99.9%", 0.999), ("99.0%", 0.990), ("95.0%", 0.950), ("90.0%", 0.900), ("75.0%", 0.750)]:
        o.append("%s   Δp: %6.3f%%" % (label, 100.0 * percentile(pd, fr)))
    o.append("Median  Δp: %6.3f%%" % (100.0 * median(pd)))
    for label, fr in [("25.0%", 0.250), ("10.0%", 0.100), (" 5.0%", 0.050), (" 1.0%", 0.010), (" 0.1%", 0.001)]:
        o.append("%s   Δp: %6.3f%%" % (label, 100.0 * percentile(pd, fr)))
    o.append("Minimum Δp: %6.3f%%" % (100.0 * pd[0]))
    mse = mean_err(sums["pd2"], sums["pd4"], n)
    rms = math.sqrt(mse[0])
    o.append("RMS Δp    : %6.3f ± %5.3f %%" % (100 * rms, 100 * 0.5 / rms * mse[1]))
    top = same / n
    o.append("Same top p: %6.3f ± %5.3f %%" % (100 * top, 100 * math.sqrt(top * (1 - top) / (n - 1))))
    return "\n".join(o) + "\n"


if __name__ == "__main__":
    main()
