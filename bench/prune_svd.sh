#!/usr/bin/env bash
# shrink prune --method svd: file size and quality against parameters removed by low-rank factors
# (issue 9, low rank), plain SVD and calibration-whitened SVD (SVD-LLM), on one F32 base.
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on
#     WikiText-2 valid (--ctx 512, --chunks) saved once; its parameter count from `shrink inspect`.
#  2. For each fraction in --removed: `shrink prune --method svd --target-params (1 − f)·total`, the
#     ranks chosen greedily by singular-value energy, factors written F32; plain, and whitened with
#     the input Grams over tinyshakespeare (--calib-chunks chunks of 512, not the evaluation text).
#  3. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base
#     log-probs, on the first --score-chunks of them (PPL(Q), mean KLD, top-1 agreement); file size.
#  4. The llama.cpp peer: llama-perplexity runs the base on --llama-chunks chunks beside shrink's PPL
#     over as many, and is given one factored file: it must refuse it (llama.cpp has no low-rank
#     tensors; `shrink inspect` says so).
#
# Usage: bench/prune_svd.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                           [--score-chunks N] [--llama-chunks N] [--calib-chunks N]
#                           [--removed "0.25 0.5 0.1"] [--no-whiten]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); BASE, BASE_LOGITS (bench/prune_common.sh);
#        WORK (default a temp folder; the base is ~540 MB for SmolLM2 and every output at most as large)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=20
threads=$(nproc)
score_chunks=
llama_chunks=4
calib_chunks=8
removed="0.25 0.5 0.1"
whiten=1
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--score-chunks N] [--llama-chunks N] [--calib-chunks N] [--removed \"F...\"] [--no-whiten]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --score-chunks) score_chunks="$2"; shift 2 ;;
    --llama-chunks) llama_chunks="$2"; shift 2 ;;
    --removed) removed="$2"; shift 2 ;;
    --no-whiten) whiten=0; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text --peer
source bench/prune_common.sh
calibration_text
score_chunks="${score_chunks:-$chunks}"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2

prune_base  # log-probs over --chunks
log_chunks=$chunks
chunks=$score_chunks  # scored over the first --score-chunks of them
ppl_base=$(base_ppl_at "$chunks")
total=$(params_of "$base")
[[ -n "$total" ]] || { echo "no parameter count from shrink inspect" >&2; exit 1; }

rows=()
kinds=(plain)
[[ $whiten == 1 ]] && kinds+=(whitened)
first=""
for f in $removed; do
  target=$(echo "$total * (1 - $f) / 1" | bc)
  for kind in "${kinds[@]}"; do
    name="svd_${kind}_$f"
    echo "== $kind, $f of $total parameters removed (target $target)" >&2
    extra=()
    [[ $kind == whitened ]] && extra=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)
    result=$(prune_and_score "$name" --method svd --explain --target-params "$target" "${extra[@]}")
    read -r secs ppl kld top <<<"$result"
    size=$(size_of "$name")
    params=$(pruned_params "$name")
    # The per-linear lines of --explain ("  blk.N.NAME rank R of F ... energy E"), not its header.
    factored=$(grep -cE '^  blk\..* energy ' "$work/$name.txt" || true)
    add_row rows "| $kind | $(echo "$f * 100" | bc | sed 's/\.0*$//')% | $params | $factored | $size | $(echo "scale=3; $size / $size_base" | bc) | $ppl | $kld | $top | $secs |"
    [[ -z "$first" ]] && first="$name" || rm -f "$work/$name.gguf"
  done
done

echo "== llama.cpp peer: the base, and a factored file ($first)" >&2
llama_ppl "$work/base.llama_ppl" -m "$base" -f "$text" -c 512 -t "$threads" --chunks "$llama_chunks" \
  || { echo "llama-perplexity failed on the base" >&2; exit 1; }
if "$bin/llama-perplexity" -nr -m "$work/$first.gguf" -f "$text" -c 512 -t "$threads" --chunks 1 \
  >"$work/$first.llama_ppl" 2>&1; then
  refused="llama.cpp LOADED $first (unexpected)"
else
  refused="llama.cpp refuses $first: $(grep -m1 -oE "(error loading model|missing tensor).*" "$work/$first.llama_ppl" || tail -1 "$work/$first.llama_ppl")"
fi
runtimes=$("$shrink" inspect "$work/$first.gguf" | grep '^runtimes:')

echo
echo "shrink prune --method svd on $(basename "$model") as F32 (base PPL $ppl_base, $total parameters, $size_base bytes):"
echo "WikiText-2 valid, $score_chunks chunks of 512 (base log-probs over $log_chunks); whitening calibration: tinyshakespeare, $calib_chunks chunks of 512."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| SVD | params removed | params | linears factored | file bytes | of base | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "base over $llama_chunks chunks: shrink PPL $(base_ppl_at "$llama_chunks"), llama-perplexity PPL $(final "$work/base.llama_ppl")"
echo "$refused"
echo "shrink inspect: $runtimes"
