#!/usr/bin/env python3
"""Oracle ids for llama2.c's tokenizer (stories260K's tok512.bin): an independent Python transcription
of run.c's encode() (bos=1, eos=0), written to tests/oracles/data/stories260k_tokenizer_ids.txt as
    <text as hex> <id> <id> ...

Usage: python3 tests/oracles/llama2c_tokenize_oracle.py [tok512.bin]
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "..", "shared", "models", "stories260K", "tok512.bin")
VOCAB_SIZE = 512

CASES = [
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "Hello world!",
    "  two leading spaces and\nnewline",
    "caf\u00e9 \u00fcber na\u00efve \u2603 \U0001F999",
    "x",
]


def load(path):
    data = open(path, "rb").read()
    pos = 4
    vocab, scores = [], []
    for _ in range(VOCAB_SIZE):
        score, length = struct.unpack_from("<fi", data, pos)
        pos += 8
        vocab.append(data[pos:pos + length])
        scores.append(score)
        pos += length
    return vocab, scores


def encode(text, vocab, scores):
    index = {}
    for i, t in enumerate(vocab):
        index.setdefault(t, i)
    raw = text.encode("utf-8")
    tokens = [1]
    if raw:
        tokens.append(index[b" "])
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and j - i < 4 and (raw[j] & 0xC0) == 0x80:
            j += 1
        ch = raw[i:j]
        if ch in index:
            tokens.append(index[ch])
        else:
            tokens.extend(b + 3 for b in ch)
        i = j
    while True:
        best = (-1e10, -1, -1)
        for k in range(len(tokens) - 1):
            merged = vocab[tokens[k]] + vocab[tokens[k + 1]]
            tid = index.get(merged, -1)
            if tid != -1 and scores[tid] > best[0]:
                best = (scores[tid], tid, k)
        if best[1] == -1:
            break
        tokens[best[2]:best[2] + 2] = [best[1]]
    return tokens


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    vocab, scores = load(path)
    out = os.path.join(HERE, "data", "stories260k_tokenizer_ids.txt")
    with open(out, "w") as f:
        for text in CASES:
            ids = encode(text, vocab, scores)
            f.write(" ".join([text.encode().hex()] + [str(i) for i in ids]) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()
