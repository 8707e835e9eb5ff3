#!/usr/bin/env python3
"""gguf-py oracle for `shrink quantize` (pip install gguf numpy).

  quantize_oracle.py QUANT.gguf DECODED.gguf [BASE.gguf]

QUANT is a file `shrink quantize` wrote; DECODED is QUANT written again by `shrink quantize
--type F32`, i.e. every tensor as shrink's decoder sees it. Checks, tensor by tensor:
  - gguf-py reads QUANT, and gguf.quants.dequantize of each tensor gives bit for bit the F32 values
    in DECODED (our decoder agrees with gguf-py's on our encoder's output);
  - with BASE (the F32 file QUANT was made from): gguf.quants.quantize of BASE's tensor in QUANT's
    type gives exactly QUANT's bytes (our encoder agrees with gguf-py's), and a tensor QUANT keeps
    in F32 has BASE's bytes. gguf-py cannot encode the k-quants: for those only the decode is
    checked here (their encoders are tested byte for byte against ggml's in format_vectors_test).
Prints one line per difference and a summary; exits 1 on any difference.
"""
import sys

import numpy as np
import gguf
from gguf.quants import dequantize, quantize


def tensors(path):
    return {t.name: t for t in gguf.GGUFReader(path).tensors}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    quant = tensors(sys.argv[1])
    decoded = tensors(sys.argv[2])
    base = tensors(sys.argv[3]) if len(sys.argv) == 4 else None
    errors = []
    types = {}
    no_quantizer = set()  # types gguf-py cannot encode (k-quants): ggml's vectors test those
    for name, t in quant.items():
        qtype = gguf.GGMLQuantizationType(int(t.tensor_type))
        types[qtype.name] = types.get(qtype.name, 0) + 1
        raw = np.asarray(t.data)
        ours = np.asarray(decoded[name].data, dtype=np.float32).reshape(-1)
        theirs = dequantize(raw, qtype).astype(np.float32).reshape(-1)
        if ours.shape != theirs.shape or not np.array_equal(ours.view(np.uint32),
                                                            theirs.view(np.uint32)):
            n = int(np.sum(ours.view(np.uint32) != theirs.view(np.uint32))) \
                if ours.shape == theirs.shape else -1
            errors.append(f"{name} ({qtype.name}): gguf-py decodes {n} values differently")
        if base is not None and qtype.name not in no_quantizer:
            x = np.asarray(base[name].data, dtype=np.float32)
            rows = x.reshape(-1, int(t.shape[0]))
            try:
                want = rows.tobytes() if qtype == gguf.GGMLQuantizationType.F32 else \
                    np.asarray(quantize(rows, qtype)).tobytes()
            except NotImplementedError:
                no_quantizer.add(qtype.name)
                continue
            if raw.tobytes() != want:
                errors.append(f"{name} ({qtype.name}): gguf-py encodes the base to other bytes")
    for e in errors:
        print("quantize oracle: " + e)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(types.items()))
    print(f"quantize oracle: {len(quant)} tensors ({summary}) checked"
          f"{' against the base' if base is not None else ''}, {len(errors)} differences")
    if base is not None and no_quantizer:
        print(f"quantize oracle: gguf-py has no quantizer for {', '.join(sorted(no_quantizer))}: "
              "those tensors' decode was checked, their encode is tested against ggml's vectors "
              "(tests/data/formats/encode_<type>.bin)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
