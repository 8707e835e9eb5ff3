#!/usr/bin/env bash
# shrink prune, structured width (issue 9): file size against PPL/KLD for uniform and per-layer widths
# at ~10/25/50% of the parameters removed, and the llama.cpp peer loading, generating from and measuring
# the ~25% per-layer model.
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on WikiText-2
#     valid (ctx 512, --chunks) saved once.
#  2. Width pruning, Minitron activation scores from tinyshakespeare (--calib-chunks chunks of 512, not
#     the evaluation text), written F32:
#       uniform:   --ffn F [--heads 6 --kv-heads 2] (every layer alike), and one --hidden variant;
#       per-layer: --method width --target-params P (FFN widths and KV groups per layer, greedy by score
#                  per parameter), P = 90/75/50% of the base's parameters.
#  3. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base log-probs.
#  4. The per-layer 25% file (architecture "deci" with per-layer arrays): llama-completion generates from
#     it, and llama-perplexity (-nr, same chunks) measures its PPL beside shrink's (the ratio printed).
#
# Usage: bench/prune_width_vs_llama_cpp.sh [--model smollm2|PATH] [--chunks N] [--threads N]
#                                          [--calib-chunks N] [--removed "25 10 50"]
#        (the uniform rows' widths are SmolLM2's; --removed picks which of the three fractions run, in
#        that order; the llama.cpp check runs with the 25% row)
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); BASE, BASE_LOGITS (bench/prune_common.sh);
#        WORK (default a temp folder; ~540 MB base)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=20
threads=$(nproc)
calib_chunks=8
removed="25 10 50"
source bench/common.sh
usage="usage: $0 [--model smollm2|PATH] [--chunks N] [--threads N] [--calib-chunks N] [--removed \"25 10 50\"]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --removed) removed="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text --peer
source bench/prune_common.sh
calibration_text
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2

prune_base
params_base=$(params_of "$base")
calib_flags=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)
rows=()
run() {  # NAME KIND ARGS...: prune, score, add a row
  local name=$1 kind=$2; shift 2
  echo "== $name: $*" >&2
  local result secs size params ppl kld top
  result=$(prune_and_score "$name" "${calib_flags[@]}" --explain "$@")
  read -r secs ppl kld top <<<"$result"
  size=$(size_of "$name")
  params=$(pruned_params "$name")
  add_row rows "| $kind | \`$*\` | $(echo "scale=1; 100 * ($params_base - $params) / $params_base" | bc)% | $size | $ppl | $kld | $top |"
}

# 25% first, then the peer on its per-layer file, then 10% and 50% (a long run on a loaded machine
# leaves the figures that matter most in $work/rows.md first).
peer_check() {
  echo "== llama.cpp on perlayer_25 ($chunks chunks)" >&2
  "$bin/llama-completion" -m "$work/perlayer_25.gguf" -p "The capital of France is" -n 16 -no-cnv \
    --temp 0 -t "$threads" >"$work/perlayer_25.completion" 2>&1 \
    || { echo "llama-completion failed (see $work/perlayer_25.completion)" >&2; exit 1; }
  llama_ppl "$work/perlayer_25.llama_ppl" -m "$work/perlayer_25.gguf" -f "$text" -c 512 -t "$threads" \
    --chunks "$chunks" || { echo "llama-perplexity failed (see $work/perlayer_25.llama_ppl)" >&2; exit 1; }
  ppl_peer=$(final "$work/perlayer_25.llama_ppl")
  ppl_ours=$(field "$work/perlayer_25.kld" "Mean PPL(Q) ")
  echo "perlayer_25: llama-perplexity $ppl_peer, shrink $ppl_ours" | tee -a "$work/rows.md" >&2
}
for pct in $removed; do
  [[ " 25 10 50 " == *" $pct "* ]] || { echo "--removed: 25, 10 or 50, got $pct" >&2; exit 2; }
  target=$(( params_base * (100 - pct) / 100 ))
  run "perlayer_$pct" per-layer --method width --target-params "$target"
  case $pct in
    10) run "uniform_$pct" uniform --ffn 1280 ;;
    25) run "uniform_$pct" uniform --ffn 1024 --heads 6 --kv-heads 2
        peer_check
        run "hidden_$pct" "uniform+hidden" --hidden 512 --ffn 1152 ;;
    50) run "uniform_$pct" uniform --ffn 384 --heads 6 --kv-heads 2 ;;
  esac
done

echo
echo "shrink prune (width) on $(basename "$model") as F32 (base PPL $ppl_base, $params_base parameters, $size_base bytes):"
echo "WikiText-2 valid, $chunks chunks of 512; calibration tinyshakespeare, $calib_chunks chunks of 512."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| widths | flags | params removed | file bytes | PPL(Q) | mean KLD | top-1 % |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
[[ -f "$work/perlayer_25.llama_ppl" ]] || exit 0
# The architecture from the file (gguf-py): this llama.cpp's tools no longer print the model's metadata.
arch=$(python3 -c 'import sys; from gguf import GGUFReader; f = GGUFReader(sys.argv[1]).fields["general.architecture"]; print(bytes(f.parts[f.data[0]]).decode())' "$work/perlayer_25.gguf")
echo "perlayer_25 in llama.cpp: architecture $arch"
echo "  llama-perplexity PPL $ppl_peer, shrink PPL(Q) $ppl_ours, ratio $(echo "scale=5; $ppl_peer / $ppl_ours" | bc)"
echo "  llama-completion: $(grep -v '^$' "$work/perlayer_25.completion" | grep -F "The capital of France" | head -1)"
