#!/usr/bin/env python3
"""Oracle ids for SmolLM2's tokenizer (byte-level BPE, pre-tokenizer "smollm"), from llama.cpp.

Runs llama.cpp's llama-tokenize (built by bench/peers/llama_cpp.sh) on each case and writes
tests/oracles/data/smollm2_tokenizer_ids.txt, one case per line:
    <parse_special 0|1> <add_special 0|1> <text as hex> <id> <id> ...
The text is passed with -f (read verbatim) and --no-escape; --no-bos when add_special is 0 (SmolLM2's
add_bos_token is false anyway, so add_special changes nothing for this vocabulary).
llama-tokenize always parses special tokens (it has no switch to turn that off), so every case has
parse_special = 1.

Usage: python3 tests/oracles/smollm2_tokenize_oracle.py [LLAMA_TOKENIZE] [MODEL.gguf]
"""
import ast
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TOOL = os.path.expanduser(
    "~/.cache/shrink/peers/llama-cpp-python-0.3.36/build/bin/llama-tokenize")
DEFAULT_MODEL = os.path.expanduser("~/.cache/shrink/models/smollm2-135m-instruct-q4_1.gguf")

CASES = [
    (1, 0, "<|im_start|>user\nHello<|im_end|>\n"),
    (1, 1, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
           "Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
           "<|im_start|>assistant\n"),
    (1, 0, "Hello world! It's 2024, and we've got 12345 apples... don't we?"),
    (1, 0, "  leading spaces,\ttabs\n\n\nand   runs of   spaces   "),
    (1, 0, "<|endoftext|>text between<|endoftext|><|im_end|><|im_start|>"),
    (1, 0, "Ünïcödé: Ελληνικά, русский, 日本語, emoji 🦙🚀, math ∑∫√ ½ ²³ ٣٤٥"),
    (1, 0, " = Valkyria Chronicles III = \n Senjō no Valkyria 3 : Unrecorded Chronicles ( Japanese : "
           "戦場のヴァルキュリア3 , lit . Valkyria of the Battlefield 3 ) , commonly referred to as "
           "Valkyria Chronicles III outside Japan , is a tactical role @-@ playing video game ."),
    (1, 0, "def f(x):\n    return x**2  # comment\n\n\tprint(f'{x:>10}')\r\n"),
    (1, 0, "<reponame>shrink<filename>a.py<|im_end|>"),
]


def run(tool, model, parse_special, add_special, text):
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(text.encode("utf-8"))
        path = f.name
    try:
        cmd = [tool, "-m", model, "-f", path, "--ids", "--no-escape", "--log-disable"]
        if not add_special:
            cmd.append("--no-bos")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    line = [l for l in out.splitlines() if l.startswith("[")][-1]
    return ast.literal_eval(line)


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TOOL
    model = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_MODEL
    lines = []
    for parse_special, add_special, text in CASES:
        assert parse_special == 1
        ids = run(tool, model, parse_special, add_special, text)
        lines.append(" ".join([str(parse_special), str(add_special), text.encode().hex()] +
                              [str(i) for i in ids]))
    out = os.path.join(HERE, "data", "smollm2_tokenizer_ids.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} cases to {out}")


if __name__ == "__main__":
    main()
