#!/usr/bin/env bash
# shrink quantize vs llama-quantize, round-to-nearest, one evaluator for both (issue 7, "How to measure").
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32` (SmolLM2-135M-Instruct is
#     shipped as Q4_1, so the base's weights sit on a Q4_1 grid: no claim here is about Q4_1 itself).
#  2. shrink perplexity on the base saves its log-probs (WikiText-2 valid, ctx 512, --chunks N).
#  3. For each type: the base quantized by shrink and by llama-quantize (wall time and peak RSS from
#     /usr/bin/time -v); file sizes (must be equal); both files scored by the same evaluator,
#     `shrink perplexity --kl-divergence` against the base (mean KLD, top-1 agreement, PPL); and
#     llama-perplexity -nr runs shrink's file (and llama's, for its PPL) on a few chunks: the file loads
#     and runs in llama.cpp and both agree on PPL; gguf-py compares the two files tensor by tensor.
#  4. stories260K (llama2.c, when ../shared has it) to Q8_0 by shrink, with metadata made from its Config
#     and tokenizer: llama-perplexity runs it, beside shrink perplexity on the checkpoint itself.
#
# Usage: bench/quantize_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--types "Q8_0 Q4_0 Q5_0"]
#                                       [--chunks N] [--llama-chunks M] [--threads N]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder: the base is
#        ~540 MB for SmolLM2, and the base log-probs ~25 MB per chunk)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
types="Q8_0 Q4_0 Q5_0"
chunks=20
llama_chunks=4
threads=$(nproc)
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --types) types="$2"; shift 2 ;;
    --llama-chunks) llama_chunks="$2"; shift 2 ;;
    *) echo "usage: $0 [--model smollm2|gemma3-270m|PATH] [--types \"T...\"] [--chunks N] [--llama-chunks M] [--threads N]" >&2; exit 2 ;;
  esac
done

bench_setup --text --peer
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); work $work" >&2


echo "== base: $model -> F32" >&2
"$shrink" quantize "$model" "$work/base.gguf" --type F32 --threads "$threads" >"$work/base.txt" 2>&1
echo "== base log-probs ($chunks chunks)" >&2
"$shrink" perplexity -m "$work/base.gguf" -f "$text" --ctx 512 --chunks "$chunks" --threads "$threads" \
  --save-logits "$work/base.logits" >"$work/base_ppl.txt" 2>&1
ppl_base=$(final "$work/base_ppl.txt")

rows=()
identical=()
for type in $types; do
  echo "== $type" >&2
  read -r t_s rss_s <<<"$(measured "$work/shrink_$type.time" "$shrink" quantize "$work/base.gguf" \
                            "$work/shrink_$type.gguf" --type "$type" --threads "$threads")"
  read -r t_l rss_l <<<"$(measured "$work/llama_$type.time" "$bin/llama-quantize" "$work/base.gguf" \
                            "$work/llama_$type.gguf" "$type" "$threads")"
  size_s=$(stat -c %s "$work/shrink_$type.gguf")
  size_l=$(stat -c %s "$work/llama_$type.gguf")
  for who in shrink llama; do
    "$shrink" perplexity -m "$work/${who}_$type.gguf" --kl-divergence "$work/base.logits" \
      --threads "$threads" >"$work/${who}_$type.kld" 2>&1
    "$bin/llama-perplexity" -nr -m "$work/${who}_$type.gguf" -f "$text" -c 512 -t "$threads" \
      --chunks "$llama_chunks" >"$work/${who}_$type.llama_ppl" 2>&1 \
      || { echo "llama-perplexity failed on $work/${who}_$type.gguf" >&2; exit 1; }
  done
  kld_s=$(field "$work/shrink_$type.kld" "Mean    KLD"); kld_l=$(field "$work/llama_$type.kld" "Mean    KLD")
  top_s=$(field "$work/shrink_$type.kld" "Same top p"); top_l=$(field "$work/llama_$type.kld" "Same top p")
  ppl_s=$(field "$work/shrink_$type.kld" "Mean PPL(Q) "); ppl_l=$(field "$work/llama_$type.kld" "Mean PPL(Q) ")
  lppl_s=$(final "$work/shrink_$type.llama_ppl"); lppl_l=$(final "$work/llama_$type.llama_ppl")
  same=$([[ "$size_s" == "$size_l" ]] && echo equal || echo DIFFERENT)
  tensors=$(python3 - "$work/shrink_$type.gguf" "$work/llama_$type.gguf" <<'PY' 2>/dev/null || echo "gguf-py absent"
import sys, gguf
a = {t.name: t for t in gguf.GGUFReader(sys.argv[1]).tensors}
b = {t.name: t for t in gguf.GGUFReader(sys.argv[2]).tensors}
same = sum(1 for n in a if n in b and a[n].tensor_type == b[n].tensor_type
           and a[n].data.tobytes() == b[n].data.tobytes())
print(f"{same}/{len(a)} tensors byte-identical")
PY
)
  identical+=("$type: $tensors")
  rows+=("| $type | $size_s | $size_l ($same) | $kld_s | $kld_l | $(echo "scale=3; $kld_s / $kld_l" | bc) | $top_s | $top_l | $ppl_s | $ppl_l | $lppl_s | $lppl_l | $t_s / $t_l | $rss_s / $rss_l |")
done

# stories260K (llama2.c) -> Q8_0 GGUF by shrink, run by llama-perplexity.
stories() {
  local dir="$shared/models/stories260K" ts="$shared/data/tinyshakespeare/input.txt"
  [[ -f "$dir/stories260K.bin" && -f "$ts" ]] || { echo "stories260K: absent, skipped"; return; }
  head -c 60000 "$ts" >"$work/ts.txt"
  "$shrink" quantize "$dir/stories260K.bin" "$work/stories_q8_0.gguf" --tokenizer "$dir/tok512.bin" \
    --type Q8_0 >"$work/stories_q8_0.txt" 2>&1
  "$shrink" perplexity -m "$dir/stories260K.bin" --tokenizer "$dir/tok512.bin" -f "$work/ts.txt" \
    --ctx 256 >"$work/stories_ckpt.ppl" 2>&1
  "$bin/llama-perplexity" -nr -m "$work/stories_q8_0.gguf" -f "$work/ts.txt" -c 256 -t "$threads" \
    >"$work/stories_llama.ppl" 2>&1 || { echo "stories260K: llama-perplexity FAILED on shrink's Q8_0"; return; }
  echo "stories260K (llama2.c) -> shrink Q8_0 GGUF ($(stat -c %s "$work/stories_q8_0.gguf") bytes): llama-perplexity" \
       "PPL $(final "$work/stories_llama.ppl") (ctx 256, first 60000 bytes of tinyshakespeare);" \
       "shrink on the F32 checkpoint: $(final "$work/stories_ckpt.ppl")"
}

cat <<REPORT

Base: $(basename "$model") dequantized to F32 by shrink (weights on the source's grid); PPL(base) $ppl_base
over $chunks chunks of 512 of WikiText-2 valid. KLD, top-1 and PPL(Q): shrink perplexity --kl-divergence
against the base's log-probs ($chunks chunks). llama PPL: llama-perplexity -nr on the first $llama_chunks chunks.
Time: wall seconds of the quantizer (shrink / llama-quantize, $threads threads); RSS: peak MB.

| type | shrink bytes | llama bytes | KLD shrink | KLD llama | KLD ratio | top-1 % shrink | top-1 % llama | PPL(Q) shrink | PPL(Q) llama | llama-perplexity on shrink's file | on llama's file | time s | peak RSS MB |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Tensor by tensor (gguf-py, same name, type and bytes; the files differ only in the order of keys and tensors:
llama-quantize moves general.file_type and general.quantization_version to the end and sorts tensors by
layer and name, shrink keeps the source's order):
$(printf '  %s\n' "${identical[@]}")
$(stories)

outputs: $work
REPORT
