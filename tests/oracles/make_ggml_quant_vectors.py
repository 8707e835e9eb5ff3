#!/usr/bin/env python3
"""Writes golden vectors for shrink's k-quant, IQ4 and importance-weighted encoders, made by llama.cpp.

gguf-py has no quantizer for the k-quants or IQ4_NL/IQ4_XS, and none takes an importance matrix, so
the oracle here is llama.cpp's ggml itself: ggml_quantize_oracle.c (beside this script) is linked
against the peer's libggml-base.a (bench/peers/llama_cpp.sh builds it) and calls
ggml_quantize_chunk, the function llama-quantize calls. Its reference quantizers are built without
-march flags, so no FMA contraction: the same arithmetic shrink's -ffp-contract=off encoders do.

Writes into tests/data/formats/ (format: see make_format_vectors.py; direction 2 is new here):
    encode_<T>.bin           direction 1: floats -> ggml's bytes with no imatrix (k-quants, IQ4)
    encode_weighted_<T>.bin  direction 2: the floats region holds the n encoded values followed by
                             n importance weights (header n_elements = 2n; one imatrix row of ROW
                             elements, repeated for each row); bytes are ggml's with that imatrix
Deterministic (fixed seed); rerun after changing it and commit the outputs:
    python3 tests/oracles/make_ggml_quant_vectors.py [TYPE...]   (no types: every fixture)
Needs: pip install gguf numpy; gcc; the llama.cpp peer (bench/peers/llama_cpp.sh).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_format_vectors import OUT, write  # noqa: E402

ROW = 512  # elements per row: two k-quant super-blocks, sixteen 32-element blocks
UNWEIGHTED = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]
WEIGHTED = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
            "IQ4_XS"]

rng = np.random.default_rng(20261127)


def build_oracle(tmp):
    cache = os.environ.get("SHRINK_CACHE", os.path.expanduser("~/.cache/shrink"))
    peer = os.path.join(cache, "peers", "llama-cpp-python-0.3.36")
    lib = os.path.join(peer, "build", "ggml", "src", "libggml-base.a")
    include = os.path.join(peer, "src", "vendor", "llama.cpp", "ggml", "include")
    if not os.path.exists(lib):
        sys.exit(f"{lib} is missing: run bench/peers/llama_cpp.sh first")
    exe = os.path.join(tmp, "ggml_quantize_oracle")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ggml_quantize_oracle.c")
    subprocess.run(["gcc", "-O2", src, "-I", include, lib, "-lm", "-fopenmp", "-lpthread",
                    "-lstdc++", "-o", exe], check=True)
    return exe


def ggml_quantize(exe, type_name, x, importance=None):
    x = np.ascontiguousarray(x, dtype="<f4").reshape(-1, ROW)
    payload = x.tobytes()
    if importance is not None:
        payload += np.ascontiguousarray(importance, dtype="<f4").tobytes()
    out = subprocess.run([exe, str(int(T[type_name])), str(ROW), str(x.shape[0]),
                          "1" if importance is not None else "0"],
                         input=payload, capture_output=True, check=True).stdout
    _, block_bytes = GGML_QUANT_SIZES[T[type_name]]
    return np.frombuffer(out, dtype=np.uint8)


def rows(name_and_values):
    """[(case name, values)] -> (all values as (rows, ROW), cases with element ranges)."""
    cases, chunks, first = [], [], 0
    for name, v in name_and_values:
        v = np.asarray(v, dtype=np.float32).reshape(-1, ROW)
        cases.append((name, first, v.size))
        chunks.append(v)
        first += v.size
    return np.concatenate(chunks, axis=0), cases


def inputs():
    """Rows that exercise the scale searches: weight-like Gaussians over decades of scale, skewed
    and one-signed rows (the min of Q*_K/Q4_1/Q5_1), sub-blocks of very different magnitude (the
    6-bit sub-block scales), outliers, zeros, constants, and heavy tails."""
    cases = [
        ("normal", rng.standard_normal((6, ROW)) * np.exp2(rng.uniform(-10, 4, (6, 1)))),
        ("uniform", rng.uniform(-1, 1, (2, ROW))),
        ("positive", rng.uniform(0.1, 3, (1, ROW))),
        ("negative", rng.uniform(-3, -0.1, (1, ROW))),
        ("skewed", rng.standard_normal((2, ROW)) * 0.02 + 0.05),
        ("heavy_tail", rng.standard_t(2.5, (2, ROW)) * 0.03),
    ]
    # Each 16-element group at its own magnitude: the sub-block scales span several decades.
    ranged = rng.standard_normal((2, ROW)) * np.repeat(np.exp2(rng.uniform(-12, 2, (2, ROW // 16))), 16, 1)
    cases.append(("subblock_magnitudes", ranged))
    sparse = rng.standard_normal((1, ROW)) * (rng.random((1, ROW)) < 0.1)
    cases.append(("sparse", sparse))
    outlier = rng.standard_normal((2, ROW)) * 0.05
    outlier[0, rng.integers(0, ROW, 3)] = [4.0, -6.0, 9.0]
    outlier[1, rng.integers(0, ROW, 1)] = -3e4
    cases.append(("outliers", outlier))
    zero_block = rng.standard_normal((1, ROW))
    zero_block[0, 256:] = 0.0
    zero_block[0, 32:48] = 0.0
    cases.append(("zero_parts", zero_block))
    cases.append(("all_zero", np.zeros((1, ROW))))
    cases.append(("all_equal", np.concatenate([np.full(256, 0.37), np.full(256, -2.5)]).reshape(1, ROW)))
    cases.append(("tiny", rng.standard_normal((1, ROW)) * 1e-7))
    cases.append(("large", rng.standard_normal((1, ROW)) * 3e3))
    cases.append(("half_ties", half_ties()))
    return rows(cases)


def half_ties():
    """Rounding ties: multiples of 1/2 whose 16-element groups have a power-of-two extreme E in
    {4, 8, 16, 32}, so that the searches' first reciprocal step (-nmax / E: nmax 4 for Q3_K, 8 for
    Q4_0, 16 for Q5_0, 32 for Q6_K) is a power of two, the products are exact and land on .5: the
    rounding must be half to even there, as ggml's nearest_int. Own generator, so that the other
    cases' values (and the importance row) stay as they were."""
    tie_rng = np.random.default_rng(20261128)
    groups = 2 * ROW // 16
    extreme = tie_rng.choice([4.0, 8.0, 16.0, 32.0], groups)
    values = 0.5 * np.round(tie_rng.uniform(-2, 2, (groups, 16)) * extreme[:, None])
    values[np.arange(groups), tie_rng.integers(0, 16, groups)] = extreme * tie_rng.choice([-1, 1], groups)
    return (values.reshape(2, ROW) * np.array([[1.0], [2.0 ** -6]])).astype(np.float32)


def importance_row():
    """An imatrix-like row: mean squares spread over decades, a few dead columns (0), a few
    dominant ones."""
    w = np.exp(rng.normal(-3, 1.5, ROW)).astype(np.float32)
    w[rng.integers(0, ROW, 8)] = 0.0
    w[rng.integers(0, ROW, 4)] *= 200
    return w


def main():
    # Optional type names: rewrite only those fixtures (the others keep their bytes).
    only = set(sys.argv[1:])
    unknown = only - set(UNWEIGHTED) - set(WEIGHTED)
    if unknown:
        sys.exit(f"unknown types {sorted(unknown)}; known: {UNWEIGHTED + WEIGHTED}")
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_oracle(tmp)
        x, cases = inputs()
        n_rows = x.shape[0]
        for name in UNWEIGHTED:
            if only and name not in only:
                continue
            raw = ggml_quantize(exe, name, x)
            path = os.path.join(OUT, f"encode_{name}.bin")
            write(path, name, 1, raw, x, cases)
            print(f"wrote {path}: {x.size} elements, {raw.size} bytes")
        w = importance_row()
        tiled = np.tile(w, n_rows)
        for name in WEIGHTED:
            if only and name not in only:
                continue
            raw = ggml_quantize(exe, name, x, w)
            path = os.path.join(OUT, f"encode_weighted_{name}.bin")
            write(path, name, 2, raw, np.concatenate([x.ravel(), tiled]), cases)
            print(f"wrote {path}: {x.size} elements (+ importance), {raw.size} bytes")


if __name__ == "__main__":
    main()
