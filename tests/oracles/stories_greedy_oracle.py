#!/usr/bin/env python3
"""Independent F64 oracle for stories260K's greedy text: decodes greedily from BOS with
calib_oracle.forward (run.c's forward in numpy float64) and prints the text as run.c's decode()
would (a piece's leading space dropped after BOS, "<0xXX>" pieces as raw bytes).

The golden text that src/model/transformer_test.cc and tests/cli/generate_test.sh expect is also
stated in ../shared/docs/models.md (stories260K row: "Greedy decoding from BOS (token 1), temperature
0, must print exactly: ..."); this script reproduces it without shrink's C++, and reports how close
each greedy choice was (the smallest gap between the top two logits), so a reader can judge that
rounding differences between implementations cannot flip a token.

The committed fixture tests/oracles/fixtures/stories260k_greedy.txt was made with
  python3 tests/oracles/stories_greedy_oracle.py ../shared/models/stories260K/stories260K.bin \\
    ../shared/models/stories260K/tok512.bin 60 > tests/oracles/fixtures/stories260k_greedy.txt
Output: "#" comment lines, then "tokens ID...", then "text TEXT" (the decoded text on one line).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calib_oracle import forward, read_checkpoint  # noqa: E402
from llama2c_tokenize_oracle import load  # noqa: E402

BOS = 1


class Plain:
    """calib_oracle.forward's recorder, recording nothing: y = x · Wᵀ."""

    def linear(self, name, x, weight):
        return x @ weight.T


def piece(vocab, prev, token):
    """run.c's decode(): drop the leading space after BOS; "<0xXX>" is the raw byte."""
    p = vocab[token]
    if prev == BOS and p.startswith(b" "):
        p = p[1:]
    if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
        p = bytes([int(p[3:5], 16)])
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("tokenizer")
    ap.add_argument("steps", type=int)
    args = ap.parse_args()
    cfg, w = read_checkpoint(args.model)
    vocab, _ = load(args.tokenizer)
    tokens = [BOS]
    min_gap = np.inf
    for _ in range(args.steps):
        logits = forward(cfg, w, np.array(tokens), Plain())[-1]  # the last position's row
        top2 = np.sort(logits)[-2:]
        min_gap = min(min_gap, top2[1] - top2[0])
        tokens.append(int(np.argmax(logits)))
    text = b"".join(piece(vocab, a, b) for a, b in zip(tokens, tokens[1:]))
    print(f"# stories_greedy_oracle.py (numpy {np.__version__}, F64) on "
          f"{os.path.basename(args.model)}: {args.steps} greedy steps from BOS; smallest top-2 "
          f"logit gap {min_gap:.4g}")
    print("tokens " + " ".join(str(t) for t in tokens[1:]))
    print("text " + text.decode("utf-8", errors="replace").replace("\n", "\\n"))


if __name__ == "__main__":
    main()
