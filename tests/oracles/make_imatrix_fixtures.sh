#!/usr/bin/env bash
# Regenerates tests/oracles/fixtures/imatrix/: importance matrices written by llama.cpp's own
# llama-imatrix, the independent reference for shrink's imatrix reader, writer and collector.
#
#   tests/oracles/make_imatrix_fixtures.sh SHRINK_BINARY LLAMA_BIN_DIR [SHARED_DIR]
#
# (from the repository root; SHARED_DIR defaults to ../shared). The committed fixtures were made
# with SHRINK_BINARY = build/release/src/cli/shrink and LLAMA_BIN_DIR =
# ~/.cache/shrink/peers/llama-cpp-python-0.3.36/build/bin (llama-cpp-python 0.3.36's vendored
# llama.cpp), 2 threads.
#
# The model is stories260K (SHARED_DIR/models/stories260K) written as an F32 GGUF by
# `shrink quantize ... --type F32` (its weights exactly, so llama.cpp's forward does not quantize
# activations), the text the first 40000 bytes of tinyshakespeare, saved as
# tinyshakespeare-40k.txt (the dataset name the files record). llama-imatrix runs 4 chunks of 128
# tokens, without perplexity, once per format:
#   stories260k.imatrix.gguf   --output-format gguf (general.type = imatrix, NAME.in_sum2/.counts)
#   stories260k.imatrix.dat    --output-format dat  (the legacy binary)
# and llama-tokenize writes the ids of the 512 tokens the chunks take to stories260k.tokens.txt
# (one line, "[1, 410, ...]"), so a test can tell a tokenizer difference from a forward-pass difference.
# Finally llama-quantize --imatrix stories260k.imatrix.gguf quantizes the F32 GGUF to Q4_0 and Q4_K_M
# (on stories260K's rows of 64 and 172 the latter falls back to block-32 and F16 types), and
# stories260k.llama_quantize.tsv records per tensor its type and the FNV-1a 64 hash of its bytes
# ("MIX<TAB>TENSOR<TAB>TYPE<TAB>HASH", hash in hex), read with gguf-py: the files are too large to
# commit, the hashes say whether ours are byte-identical.
set -euo pipefail
shrink=$(realpath "$1")
bin=$(realpath "$2")
shared=$(realpath "${3:-../shared}")
out=$(realpath tests/oracles/fixtures/imatrix)
stories="$shared/models/stories260K"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

"$shrink" quantize "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" \
  "$work/stories260k-f32.gguf" --type F32 >/dev/null 2>&1
head -c 40000 "$shared/data/tinyshakespeare/input.txt" >"$work/tinyshakespeare-40k.txt"
cd "$work"  # so that the recorded dataset name is the bare file name
for format in gguf dat; do
  "$bin/llama-imatrix" -m stories260k-f32.gguf -f tinyshakespeare-40k.txt \
    -o "$out/stories260k.imatrix.$format" --output-format $format \
    --ctx-size 128 --chunks 4 --no-ppl -t 2 >"$work/log.$format" 2>&1 ||
    { cat "$work/log.$format"; exit 1; }
done
# The ids of the 4 × 128 tokens the chunks take (llama-imatrix then puts BOS first in each chunk).
"$bin/llama-tokenize" -m stories260k-f32.gguf -f tinyshakespeare-40k.txt --ids --log-disable \
  2>/dev/null | tail -n 1 | python3 -c 'import sys; print(sys.stdin.read().strip()[1:-1].split(", ")[:512])' \
  | tr -d "'" >"$out/stories260k.tokens.txt"
for mix in Q4_0 Q4_K_M; do
  "$bin/llama-quantize" --imatrix "$out/stories260k.imatrix.gguf" stories260k-f32.gguf "q-$mix.gguf" \
    $mix >"$work/log.$mix" 2>&1 || { cat "$work/log.$mix"; exit 1; }
done
python3 - q-Q4_0.gguf q-Q4_K_M.gguf >"$out/stories260k.llama_quantize.tsv" <<'PY'
import sys
import gguf

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

for path, mix in zip(sys.argv[1:], ["Q4_0", "Q4_K_M"]):
    for t in gguf.GGUFReader(path).tensors:
        print(f"{mix}\t{t.name}\t{t.tensor_type.name}\t{fnv1a64(t.data.tobytes()):016x}")
PY
ls -l "$out"
