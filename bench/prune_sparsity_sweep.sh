#!/usr/bin/env bash
# shrink prune: quality against sparsity for magnitude, Wanda and SparseGPT, unstructured and 2:4 (issue 9).
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on WikiText-2
#     valid (--ctx 512, --chunks) saved once (kept in $WORK for reruns).
#  2. For each method of --methods and each of --sparsities (a fraction, or N:M for --pattern N:M):
#     `shrink prune --method M --sparsity S` on every linear inside the blocks, written F32 (method
#     sparsegpt-row: --method sparsegpt --mask-scope row). Wanda and SparseGPT calibrate on
#     tinyshakespeare (--calib-chunks chunks of 512, not the evaluation text; the same chunks for both).
#  3. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base log-probs
#     (PPL(Q), mean KLD, top-1 agreement); the llama.cpp peer's llama-perplexity runs the SparseGPT 50%
#     file on the same chunks (it loads it; its PPL beside ours).
#
# Run it under nice on a shared machine (every step is CPU-bound).
#
# Usage: bench/prune_sparsity_sweep.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#          [--calib-chunks N] [--sparsities "0.1 0.3 0.5 0.7 2:4"] [--methods "magnitude wanda sparsegpt sparsegpt-row"]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); BASE, BASE_LOGITS (bench/prune_common.sh);
#        WORK (default a temp folder; the base is ~540 MB for SmolLM2, ~1.1 GB for Gemma-3-270M, and every
#        output about as large; outputs other than the 50% ones are deleted once scored; a rerun with the
#        same WORK reuses the rows already scored)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=20
threads=$(nproc)
calib_chunks=32
sparsities="0.1 0.3 0.5 0.7 2:4"
methods="magnitude wanda sparsegpt"
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--calib-chunks N] [--sparsities \"S...\"] [--methods \"M...\"]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --sparsities) sparsities="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text
source bench/prune_common.sh
calibration_text
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2
prune_base

calib_flags=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)
rows=()
for method in $methods; do
  for s in $sparsities; do
    if [[ "$s" == *:* ]]; then
      what=(--pattern "$s"); label="$s"
    else
      what=(--sparsity "$s"); label="$(echo "$s * 100" | bc | sed 's/\..*//')%"
    fi
    name="${method}_${s/:/of}"
    extra=()
    [[ $method == magnitude ]] || extra=("${calib_flags[@]}")
    flag_method=$method
    # sparsegpt-row: SparseGPT with --mask-scope row (a row's removals not forced equal per block).
    [[ $method == sparsegpt-row ]] && flag_method=sparsegpt extra+=(--mask-scope row)
    echo "== $method $label" >&2
    result=$(prune_and_score "$name" --method "$flag_method" "${what[@]}" "${extra[@]}")
    read -r secs ppl kld top <<<"$result"
    add_row rows "| $method | $label | $ppl | $kld | $top | $secs |"
    [[ "$s" == 0.5 ]] || rm -f "$work/$name.gguf"
  done
done

peer_line=""
if [[ -f "$work/sparsegpt_0.5.gguf" ]]; then
  echo "== llama-perplexity on sparsegpt_0.5 ($chunks chunks)" >&2
  bin="$(bench/peers/llama_cpp.sh | tail -n 1)"  # only when there is a file to run (a build when absent)
  llama_ppl "$work/sparsegpt_0.5.llama_ppl" -m "$work/sparsegpt_0.5.gguf" -f "$text" -c 512 \
    -t "$threads" --chunks "$chunks" \
    || { echo "llama-perplexity failed (see $work/sparsegpt_0.5.llama_ppl)" >&2; exit 1; }
  peer_line="sparsegpt 50%: llama-perplexity PPL $(final "$work/sparsegpt_0.5.llama_ppl"), shrink PPL(Q) $(field "$work/sparsegpt_0.5.kld" "Mean PPL(Q) ")"
fi

echo
echo "shrink prune on $(basename "$model") as F32 (base PPL $ppl_base): WikiText-2 valid, $chunks chunks of 512;"
echo "calibration (Wanda, SparseGPT): tinyshakespeare, $calib_chunks chunks of 512. CPU: $(cpu_model); threads $threads;"
echo "$(date -u +%F); load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| method | sparsity | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "$peer_line"
