#!/usr/bin/env bash
# shrink prune: quality against sparsity (magnitude vs Wanda, unstructured and 2:4) and against layers
# dropped (depth), on one F32 base (issue 9, first slice).
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32` (SmolLM2's weights sit on the
#     grid of its shipped Q4_1 file); its log-probs on WikiText-2 valid (--ctx 512, --chunks) saved once.
#  2. Unstructured: `shrink prune --method magnitude|wanda --sparsity S` for each of --sparsities, and
#     --pattern 2:4, on every linear inside the blocks (embeddings and output kept), written F32; Wanda
#     calibrates on tinyshakespeare (--calib-chunks chunks of 512, not the evaluation text).
#  3. Depth: the blocks' influence on the residual stream over the same calibration text, measured once
#     (`shrink prune --dry-run --explain`); for N in 1..--max-drop the N least influential dropped (what
#     --drop-layers N picks, given as --layers so one calibration pass serves the sweep); file size.
#  4. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base
#     log-probs (PPL(Q), mean KLD, top-1 agreement); the llama.cpp peer's llama-perplexity runs the
#     50% Wanda file and the 4-layers-dropped file on the same chunks (it loads them; its PPL beside
#     ours).
#
# Usage: bench/prune_unstructured.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                                    [--calib-chunks N] [--sparsities "0.1 0.3 0.5 0.7"] [--max-drop N]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); BASE, BASE_LOGITS (bench/prune_common.sh);
#        WORK (default a temp folder; the base is ~540 MB for SmolLM2 and every output about as large)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=20
threads=$(nproc)
calib_chunks=4
sparsities="0.1 0.3 0.5 0.7"
max_drop=8
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--calib-chunks N] [--sparsities \"S...\"] [--max-drop N]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --sparsities) sparsities="$2"; shift 2 ;;
    --max-drop) max_drop="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text --peer
source bench/prune_common.sh
calibration_text
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2

# The base and its log-probs are kept in $work: a rerun with the same WORK and --chunks reuses them.
prune_base
calib_flags=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)

rows=()
for method in magnitude wanda; do
  for s in $sparsities 2:4; do
    if [[ "$s" == *:* ]]; then what=(--pattern "$s"); label="2:4"; else what=(--sparsity "$s"); label="$(echo "$s * 100" | bc | sed 's/\..*//')%"; fi
    name="${method}_${s/:/of}"
    echo "== $method $label" >&2
    extra=()
    [[ $method == wanda ]] && extra=("${calib_flags[@]}")
    result=$(prune_and_score "$name" --method "$method" "${what[@]}" "${extra[@]}")
    read -r secs ppl kld top <<<"$result"
    add_row rows "| $method | $label | $ppl | $kld | $top | $secs |"
    [[ "$name" == wanda_0.5 ]] || [[ "$name" == magnitude_0.5 ]] || rm -f "$work/$name.gguf"
  done
done

# Depth: the influence of every block, measured once (--dry-run --explain); --drop-layers N drops the N
# lowest, so each N is the first N of that order and one calibration pass serves the sweep.
block_order "${calib_flags[@]}"
depth_rows=()
for n in $(seq 1 "$max_drop"); do
  echo "== drop $n layers" >&2
  name="drop_$n"
  list=$(first_blocks "$n")
  result=$(prune_and_score "$name" --layers "$list")
  read -r secs ppl kld top <<<"$result"
  size=$(size_of "$name")
  add_row depth_rows "| $n | $list | $size | $(echo "scale=3; $size / $size_base" | bc) | $ppl | $kld | $top | $secs |"
  [[ $n == 4 ]] || rm -f "$work/$name.gguf"
done

echo "== llama-perplexity on wanda_0.5 and drop_4 ($chunks chunks)" >&2
peer=()
for name in wanda_0.5 drop_4; do
  llama_ppl "$work/$name.llama_ppl" -m "$work/$name.gguf" -f "$text" -c 512 -t "$threads" --chunks "$chunks" \
    || { echo "llama-perplexity failed on $name (see $work/$name.llama_ppl)" >&2; exit 1; }
  peer+=("$name: llama-perplexity PPL $(final "$work/$name.llama_ppl"), shrink PPL(Q) $(field "$work/$name.kld" "Mean PPL(Q) ")")
done

echo
echo "shrink prune on $(basename "$model") as F32 (base PPL $ppl_base, $size_base bytes): WikiText-2 valid, $chunks chunks of 512;"
echo "calibration (Wanda, depth): tinyshakespeare, $calib_chunks chunks of 512. CPU: $(cpu_model); threads $threads; $(date -u +%F);"
echo "load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| method | sparsity | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "| layers dropped | which | file bytes | of base | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${depth_rows[@]}"
echo
printf '%s\n' "${peer[@]}"
