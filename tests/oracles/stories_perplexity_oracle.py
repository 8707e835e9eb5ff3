#!/usr/bin/env python3
"""Independent F64 oracle for `shrink perplexity` on a llama2.c checkpoint (stories260K).

Tokenizes the text with llama2c_tokenize_oracle.encode (run.c's encode, BOS first), runs
llama-perplexity's protocol (chunks of n_ctx tokens, each from an empty cache with its first token
replaced by BOS, scoring positions n_ctx/2 .. n_ctx-2 against the next token, PPL = exp(mean NLL))
with calib_oracle.forward (run.c's forward in numpy float64), and prints

  tokens N            the text's token count (BOS included)
  chunk C PPL         the running PPL after chunk C (llama-perplexity's "[C]PPL," line)
  ppl PPL             the final estimate

The committed fixture tests/oracles/fixtures/stories260k_perplexity.txt was made with
  python3 tests/oracles/stories_perplexity_oracle.py ../shared/models/stories260K/stories260K.bin \\
    ../shared/models/stories260K/tok512.bin --text-head ../shared/data/tinyshakespeare/input.txt 3000 \\
    --ctx 512 --chunks 2 > tests/oracles/fixtures/stories260k_perplexity.txt
(the first 3000 bytes of tinyshakespeare, what tests/cli/perplexity_cli_test.cmake's stories mode scores).
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calib_oracle import forward, read_checkpoint  # noqa: E402
from llama2c_tokenize_oracle import encode, load  # noqa: E402

BOS = 1


class Plain:
    """calib_oracle.forward's recorder, recording nothing: y = x · Wᵀ."""

    def linear(self, name, x, weight):
        return x @ weight.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("tokenizer")
    ap.add_argument("--text-head", nargs=2, metavar=("FILE", "BYTES"), required=True,
                    help="score the first BYTES bytes of FILE")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=-1)
    args = ap.parse_args()

    cfg, w = read_checkpoint(args.model)
    vocab, scores = load(args.tokenizer)
    raw = open(args.text_head[0], "rb").read()[:int(args.text_head[1])]
    text = raw.decode("utf-8")
    if text.endswith("\n"):  # llama-perplexity (and shrink) drop one trailing newline
        text = text[:-1]
    tokens = encode(text, vocab, scores)
    n_ctx = args.ctx
    n_chunk = len(tokens) // n_ctx
    if args.chunks >= 0:
        n_chunk = min(n_chunk, args.chunks)
    first = n_ctx // 2
    print(f"# stories_perplexity_oracle.py (numpy {np.__version__}, F64) on "
          f"{os.path.basename(args.model)}, first {args.text_head[1]} bytes of "
          f"{os.path.basename(args.text_head[0])}, n_ctx {n_ctx}, {n_chunk} chunks")
    print(f"tokens {len(tokens)}")
    nll_sum, count = 0.0, 0
    for c in range(n_chunk):
        chunk = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        chunk[0] = BOS
        logits = forward(cfg, w, np.array(chunk), Plain())  # (n_ctx, V)
        for i in range(first, n_ctx - 1):
            row = logits[i]
            mx = row.max()
            lse = mx + math.log(np.exp(row - mx).sum())
            nll_sum += lse - row[tokens[c * n_ctx + i + 1]]
            count += 1
        print(f"chunk {c + 1} {math.exp(nll_sum / count):.10f}")
    print(f"ppl {math.exp(nll_sum / count):.10f}")


if __name__ == "__main__":
    main()
