#!/usr/bin/env python3
"""llama-quantize's per-tensor type choices for every mix shrink defines, as a fixture.

  llama_quantize_plans.py [--imatrix IMATRIX] LLAMA_QUANTIZE BASE.gguf OUT.tsv

Runs `LLAMA_QUANTIZE --dry-run BASE.gguf MIX` for each mix and writes a TSV: a header row
"tensor<TAB>F32<TAB>F16<TAB>..." and one row per tensor of BASE (in llama-quantize's order) with the
type it chose under each mix, spelled as in formats/types.h ("Q4_K", "IQ4_NL", "F32"). BASE should
be an F32 file (`shrink quantize MODEL BASE.gguf --type F32`), so that every matrix is quantized and
llama-quantize prints its target type. The committed fixtures were made with:

  python3 tests/oracles/llama_quantize_plans.py $LQ smollm2-f32.gguf \\
      tests/oracles/fixtures/llama_quantize_plans_smollm2.tsv
  python3 tests/oracles/llama_quantize_plans.py $LQ gemma3-f32.gguf \\
      tests/oracles/fixtures/llama_quantize_plans_gemma3.tsv

with LQ = llama-quantize of llama-cpp-python 0.3.36's vendored llama.cpp and the F32 bases made by
`shrink quantize --type F32` from smollm2-135m-instruct-q4_1.gguf and gemma-3-270m-q4_k_m.gguf.

With --imatrix, llama-quantize plans as for a run with that importance matrix (a few of its rules
depend on whether one is given; the matrix's values do not matter). The *_imatrix.tsv fixtures
were made with imatrices of the same F32 bases by `shrink imatrix -f TEXT --ctx 512 --chunks 4`
(TEXT: the first 200000 bytes of tinyshakespeare):

  python3 tests/oracles/llama_quantize_plans.py --imatrix smollm2.imatrix.gguf $LQ \\
      smollm2-f32.gguf tests/oracles/fixtures/llama_quantize_plans_smollm2_imatrix.tsv
  python3 tests/oracles/llama_quantize_plans.py --imatrix gemma3.imatrix.gguf $LQ \\
      gemma3-f32.gguf tests/oracles/fixtures/llama_quantize_plans_gemma3_imatrix.tsv
"""
import re
import subprocess
import sys

MIXES = ["F32", "F16", "Q4_0", "Q4_1", "Q8_0", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
         "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "BF16"]

# "[  3/ 272] blk.0.attn_k.weight - [ 576, 192, 1, 1], type = f32, size = 0.42 MiB -> 0.07 MiB (q5_0)"
LINE = re.compile(r"^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\S+), size =.*?(?:\((\S+)\))?$")


def plan(llama_quantize, base, mix, imatrix=None):
    args = [llama_quantize, "--dry-run"] + (["--imatrix", imatrix] if imatrix else []) + [base, mix]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{llama_quantize} --dry-run {base} {mix} failed:\n{out.stderr[-2000:]}")
    types = []
    for line in (out.stdout + out.stderr).splitlines():
        m = LINE.match(line.strip())
        if m:
            name, current, new = m.groups()
            types.append((name, (new or current).upper()))
    if not types:
        sys.exit(f"no tensor lines in the output of {mix}")
    return types


def main():
    args = sys.argv[1:]
    imatrix = None
    if args[:1] == ["--imatrix"] and len(args) >= 2:
        imatrix, args = args[1], args[2:]
    if len(args) != 3:
        sys.exit(__doc__)
    llama_quantize, base, out_path = args
    columns = [plan(llama_quantize, base, mix, imatrix) for mix in MIXES]
    names = [name for name, _ in columns[0]]
    for mix, col in zip(MIXES, columns):
        if [name for name, _ in col] != names:
            sys.exit(f"{mix}: tensor list differs from {MIXES[0]}'s")
    with open(out_path, "w") as f:
        f.write("\t".join(["tensor"] + MIXES) + "\n")
        for i, name in enumerate(names):
            f.write("\t".join([name] + [col[i][1] for col in columns]) + "\n")


if __name__ == "__main__":
    main()
