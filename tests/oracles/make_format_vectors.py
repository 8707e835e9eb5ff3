#!/usr/bin/env python3
"""Writes the golden vectors for src/formats/formats_vectors_test.cc into tests/data/formats/.

The oracle is gguf-py (`gguf.quants.dequantize` / `gguf.quants.quantize`, numpy reference code that
mirrors ggml's *_ref functions), an implementation independent of shrink. The only exception is Q8_K,
which gguf-py cannot dequantize: its expected values come from the one-line numpy formula below
(`d * qs`, ggml's dequantize_row_q8_K), again independent of shrink's C++.

Deterministic (fixed numpy seed); rerun after changing it and commit the outputs:
    python3 tests/oracles/make_format_vectors.py
Needs: pip install gguf numpy.

File format of each <direction>_<TYPE>.bin (all little-endian):
    magic      8 bytes  b"SHRKFV01"
    type       u32      ggml type id
    direction  u32      0 = decode (bytes -> expected floats), 1 = encode (floats -> expected bytes),
                        2 = weighted encode (make_ggml_quant_vectors.py: floats are values then
                        importance, n_elements counts both)
    n_elements u64
    n_bytes    u64
    n_cases    u32
    cases      n_cases x (name: 24 bytes, NUL-padded; first_element u64; n_elements u64)
    bytes      n_bytes       the encoded blocks
    floats     n_elements    f32 values
quant_sizes.txt lists `NAME id block_elements block_bytes` from gguf.constants.GGML_QUANT_SIZES.
"""
import os
import struct
import sys
import warnings

import numpy as np

import gguf
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "formats")
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K",
         "Q5_K", "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS"]
ENCODABLE = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]

# Byte offsets of the F16 scale fields inside each block (everything else is random payload).
F16_SCALE_OFFSETS = {
    "Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q2_K": [80, 82],
    "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "IQ4_NL": [0], "IQ4_XS": [0],
}

rng = np.random.default_rng(20250607)


def write(path, type_name, direction, raw, values, cases):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).ravel()
    values = np.ascontiguousarray(values, dtype=np.float32).ravel()
    with open(path, "wb") as f:
        f.write(b"SHRKFV01")
        f.write(struct.pack("<IIQQI", int(T[type_name]), direction, values.size, raw.size, len(cases)))
        for name, first, count in cases:
            f.write(struct.pack("<24sQQ", name.encode(), first, count))
        f.write(raw.tobytes())
        f.write(values.astype("<f4").tobytes())


def f16_bits(values):
    return np.asarray(values, dtype=np.float32).astype(np.float16).view(np.uint16)


def sensible_f16_scales(n):
    """Finite F16 scales of both signs spanning 2^-20 .. 2^4 (normal and subnormal halves)."""
    mags = np.exp2(rng.uniform(-20, 4, n)).astype(np.float32)
    signs = np.where(rng.random(n) < 0.5, -1, 1).astype(np.float32)
    return f16_bits(mags * signs)


def set_scale(blocks, type_name, bits_per_block):
    """bits_per_block: (n_blocks, n_scale_fields) uint16 -> written into the scale fields."""
    for k, off in enumerate(F16_SCALE_OFFSETS[type_name]):
        blocks[:, off:off + 2] = bits_per_block[:, k].astype("<u2").view(np.uint8).reshape(-1, 2)


def decode_cases(type_name):
    block, size = GGML_QUANT_SIZES[T[type_name]]
    if type_name in ("F32", "F16", "BF16"):
        n = 4096
        raw = rng.integers(0, 256, n * size, dtype=np.uint8)
        if type_name == "F32":
            return raw, [("random_bits", 0, n)]
        # Random 16-bit patterns (NaN, inf, subnormals included) plus every special explicitly.
        special = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00,
                            0x7c01, 0x7e00, 0x7fff, 0xfe00, 0xffff, 0x3c00, 0x7f80, 0xff80, 0x7fc0,
                            0x7f81, 0x0080, 0x007f], dtype="<u2")
        raw[:special.size * 2] = special.view(np.uint8)
        return raw, [("specials", 0, special.size), ("random_bits", special.size, n - special.size)]
    n_random = 128 if block == 32 else 12
    cases = []
    chunks = []

    def add(name, blocks):
        first = sum(c.shape[0] for c in chunks) * block
        chunks.append(blocks)
        cases.append((name, first, blocks.shape[0] * block))

    n_scales = 1 if type_name == "Q8_K" else len(F16_SCALE_OFFSETS[type_name])

    def make(n, scale_bits=None, q8k_d=None):
        b = rng.integers(0, 256, (n, size), dtype=np.uint8)
        if type_name == "Q8_K":
            b[:, 0:4] = np.asarray(q8k_d, dtype="<f4").reshape(n, 1).view(np.uint8)
        else:
            set_scale(b, type_name, scale_bits)
        return b

    if type_name == "Q8_K":
        d = (np.exp2(rng.uniform(-20, 4, n_random)) * rng.choice([-1, 1], n_random)).astype(np.float32)
        add("random", make(n_random, q8k_d=d))
        add("zero_scale", make(2, q8k_d=[0.0, -0.0]))
        add("tiny_scale", make(1, q8k_d=[1e-40]))  # an f32 subnormal
        add("large_scale", make(1, q8k_d=[3e36]))
    else:
        add("random", make(n_random, np.stack([sensible_f16_scales(n_random)
                                                for _ in range(n_scales)], axis=1)))
        add("zero_scale", make(1, np.zeros((1, n_scales), np.uint16)))
        add("negative_zero_scale", make(1, np.full((1, n_scales), 0x8000, np.uint16)))
        add("subnormal_scale", make(1, np.full((1, n_scales), 0x0003, np.uint16)))
        add("max_scale", make(1, np.array([[0x7bff, 0xfbff][:n_scales]], np.uint16)))
        allsame = make(1, np.stack([sensible_f16_scales(1) for _ in range(n_scales)], axis=1))
        allsame[:, [i for i in range(size) if all(i not in (o, o + 1)
                                                  for o in F16_SCALE_OFFSETS[type_name])]] = 0xA5
        add("equal_payload", allsame)
    return np.concatenate(chunks, axis=0), cases


def dequantize(raw, type_name):
    if type_name == "Q8_K":  # not in gguf-py: ggml's formula y = d * qs, in float32
        blocks = raw.reshape(-1, 292)
        d = blocks[:, 0:4].copy().view("<f4").astype(np.float32)
        qs = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * qs).ravel()
    return gguf.quants.dequantize(raw, T[type_name]).ravel()


def encode_inputs(type_name):
    block = GGML_QUANT_SIZES[T[type_name]][0]
    if block == 1:
        return float_encode_inputs(type_name)
    b = 32
    cases, chunks = [], []

    def add(name, values):
        values = np.asarray(values, dtype=np.float32).reshape(-1, b)
        cases.append((name, sum(c.size for c in chunks), values.size))
        chunks.append(values)

    add("normal", rng.standard_normal((24, b)) * np.exp2(rng.uniform(-8, 8, (24, 1))))
    add("uniform", rng.uniform(-1, 1, (16, b)))
    add("positive", rng.uniform(0.1, 3, (4, b)))
    add("negative", rng.uniform(-3, -0.1, (4, b)))
    add("all_zero", np.zeros((1, b)))
    add("all_negative_zero", np.full((1, b), -0.0))
    if type_name not in ("Q4_1", "Q5_1"):
        # Mixed-sign zeros: for Q4_1/Q5_1 numpy's min/max of +0/-0 depends on its SIMD reduction
        # order (not a defined result), so those two formats only get single-sign zero blocks.
        mixed = np.zeros((2, b))
        mixed[0, 0] = -0.0
        mixed[1, 1:] = -0.0
        add("mixed_sign_zeros", mixed)
    add("all_equal", np.array([[0.37] * b, [-2.5] * b, [1e-3] * b]))
    outlier = rng.standard_normal((6, b))
    outlier[np.arange(6), rng.integers(0, b, 6)] = [1e4, -1e4, 3e5, -3e5, 1e6, -7e7]
    add("huge_outlier", outlier)
    add("tiny", rng.standard_normal((4, b)) * 1e-6)
    add("large", rng.standard_normal((4, b)) * 3e4)
    add("abs_max_tie", np.concatenate([[3.0, -3.0], rng.uniform(-2, 2, b - 2)]).reshape(1, b))
    add("abs_max_tie_neg_first", np.concatenate([[-3.0, 3.0], rng.uniform(-2, 2, b - 2)]).reshape(1, b))
    # Rounding ties: pick d exactly representable so x * id lands exactly on .5 boundaries.
    k = np.arange(b, dtype=np.float32)
    if type_name == "Q8_0":
        ties = np.stack([np.concatenate([[127.0], (k[1:] - 16) + 0.5]),          # d = 1: round(2.5) = 3
                         np.concatenate([[-127.0], -(k[1:] - 16) - 0.5]),
                         np.concatenate([[63.5], ((k[1:] - 16) + 0.5) / 2])])    # d = 0.5
    elif type_name in ("Q4_0", "Q5_0"):
        lv = 8.0 if type_name == "Q4_0" else 16.0
        ties = np.stack([np.concatenate([[-lv], np.linspace(-lv + 0.5, lv - 0.5, b - 1)]),   # d = 1
                         np.concatenate([[lv], np.linspace(-lv + 0.5, lv - 0.5, b - 1)]),    # d = -1
                         np.concatenate([[-lv / 4], np.linspace(-lv + 0.5, lv - 0.5, b - 1) / 4])])
    else:
        lv = 15.0 if type_name == "Q4_1" else 31.0
        ties = np.stack([np.concatenate([[0.0, lv], np.linspace(0.5, lv - 0.5, b - 2)]),     # d = 1
                         np.concatenate([[-2.0, lv - 2.0], np.linspace(0.5, lv - 0.5, b - 2) - 2.0]),
                         np.concatenate([[1.0, 1.0 + lv / 8], 1.0 + np.linspace(0.5, lv - 0.5, b - 2) / 8])])
    add("rounding_ties", ties)
    add("fma_sensitive", fma_sensitive_blocks(type_name, 8))
    return np.concatenate(chunks, axis=0).ravel(), cases


def fma_sensitive_blocks(type_name, count):
    """Blocks in which x * id + offset rounds differently when fused into an FMA than with two
    roundings (gguf-py and ggml round twice); they catch a compiler contracting the expression."""
    b = 32
    levels = {"Q8_0": 127, "Q4_0": 8, "Q5_0": 16, "Q4_1": 15, "Q5_1": 31}[type_name]
    symmetric = type_name in ("Q4_0", "Q5_0", "Q8_0")
    found = []
    while len(found) < count:
        n = 4096
        scale = np.exp2(rng.uniform(-4, 4, (n, 1))).astype(np.float32)
        x = np.empty((n, b), np.float32)
        k = rng.integers(0, levels, (n, b)).astype(np.float32)
        nudge = rng.integers(-3, 4, (n, b))
        if symmetric:
            x[:, :1] = -levels * scale if type_name != "Q8_0" else levels * scale  # the abs max
            d = (x[:, :1] / np.float32(-levels)) if type_name != "Q8_0" else x[:, :1] / np.float32(127)
            idv = (np.float32(1) / d).astype(np.float32)
            base, offset = np.float32(0), np.float32(levels + 0.5)
            target = (k - levels + np.float32(0.5)) / idv if type_name != "Q8_0" else (k - 63.5) / idv
        else:
            x[:, :1] = -scale
            x[:, 1:2] = -scale + levels * scale * np.float32(1.5)
            d = ((x[:, 1:2] - x[:, :1]) / np.float32(levels)).astype(np.float32)
            idv = (np.float32(1) / d).astype(np.float32)
            base, offset = x[:, :1], np.float32(0.5)
            target = base + (k + np.float32(0.5)) / idv
        target = target.astype(np.float32)
        target = target.view(np.int32) + nudge.astype(np.int32)
        start = 1 if symmetric else 2
        x[:, start:] = target.view(np.float32)[:, start:]
        if type_name == "Q8_0":
            break  # Q8_0 rounds x * id alone: no add to fuse
        lhs = (x - base).astype(np.float32) if not symmetric else x
        separate = np.trunc((lhs * idv).astype(np.float32) + offset)
        fused = np.trunc((lhs.astype(np.float64) * idv.astype(np.float64) + offset).astype(np.float32))
        inside = (np.abs(x) <= np.abs(x[:, :1])).all(axis=1) if symmetric else \
            ((x >= x[:, :1]) & (x <= x[:, 1:2])).all(axis=1)
        hits = np.nonzero(((separate != fused).any(axis=1)) & inside)[0]
        found.extend(x[i] for i in hits[:count - len(found)])
    return np.array(found[:count] if found else x[:count], dtype=np.float32)


def float_encode_inputs(type_name):
    cases, chunks = [], []

    def add(name, values):
        values = np.asarray(values, dtype=np.float32).ravel()
        cases.append((name, sum(c.size for c in chunks), values.size))
        chunks.append(values)

    bits = rng.integers(0, 2**32, 2048, dtype=np.uint64).astype(np.uint32)
    if type_name == "F16":
        # F16 from numpy: only quiet NaNs (signalling-NaN quieting differs between numpy's software
        # path and F16C hardware); our rule (quiet bit forced) agrees with both on quiet NaNs.
        nan = (bits & 0x7fffffff) > 0x7f800000
        bits = np.where(nan, bits | 0x00400000, bits).astype(np.uint32)
        add("random_bits", bits.view(np.float32))
        add("normal", rng.standard_normal(512) * np.exp2(rng.uniform(-30, 17, 512)))
        h = np.arange(0, 0x7c00, 37, dtype=np.uint16)          # every 37th finite half
        lo = h.view(np.float16).astype(np.float32)
        hi = (h + 1).view(np.float16).astype(np.float32)        # next half up (0x7c00 = inf for the last)
        mid = ((lo.astype(np.float64) + hi.astype(np.float64)) / 2).astype(np.float32)  # exact ties
        add("ties", np.concatenate([mid, -mid]))
        add("ties_nudged", np.concatenate([np.nextafter(mid, np.float32(np.inf)),
                                           np.nextafter(mid, np.float32(0))]))
        add("edges", [65504.0, 65519.99, 65520.0, 65536.0, 1e30, -65520.0, 2.0**-24, 2.0**-25,
                      np.nextafter(np.float32(2.0**-25), np.float32(1)), 3 * 2.0**-26, 2.0**-14,
                      2.0**-14 - 2.0**-25, 1e-45, -1e-40, 0.0, -0.0, np.inf, -np.inf,
                      np.float32(np.nan), -np.float32(np.nan)])
    else:
        add("random_bits", bits.view(np.float32))  # every NaN payload is defined for BF16
        add("normal", rng.standard_normal(512) * np.exp2(rng.uniform(-130, 127, 512)))
        b = rng.integers(0, 2**16, 1024, dtype=np.uint32) << 16
        add("ties", np.concatenate([(b | 0x8000), (b | 0x7fff), (b | 0x8001)]).astype(np.uint32).view(np.float32))
        add("edges", np.array([0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, 0xff7fffff, 0x00000001, 0x00008000,
                               0x00018000, 0x80000000, 0x7f800000, 0x7f800001, 0xff800001, 0x7fffffff,
                               0x7fc00000], dtype=np.uint32).view(np.float32))
    return np.concatenate(chunks), cases


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("ignore")  # NaN/overflow casts in the float cases are intended
    with open(os.path.join(OUT, "quant_sizes.txt"), "w") as f:
        f.write("# gguf.constants.GGML_QUANT_SIZES: name ggml_id block_elements block_bytes\n")
        for name in TYPES:
            block, size = GGML_QUANT_SIZES[T[name]]
            f.write(f"{name} {int(T[name])} {block} {size}\n")
    for name in TYPES:
        raw, cases = decode_cases(name)
        write(os.path.join(OUT, f"decode_{name}.bin"), name, 0, raw, dequantize(raw.ravel(), name), cases)
    for name in ENCODABLE:
        values, cases = encode_inputs(name)
        if name == "F16":
            encoded = gguf.quants.quantize(values, T.F16).view(np.uint8)
        else:
            encoded = gguf.quants.quantize(values.reshape(-1, GGML_QUANT_SIZES[T[name]][0]), T[name])
        write(os.path.join(OUT, f"encode_{name}.bin"), name, 1, encoded.view(np.uint8), values, cases)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
