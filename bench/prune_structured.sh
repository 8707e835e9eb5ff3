#!/usr/bin/env bash
# shrink prune, structured (issue 9): file size against PPL/KLD for depth, width and low-rank pruning at
# the same fractions of the parameters removed, as one table, and the best of the three per size.
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on WikiText-2
#     valid (--ctx 512, --chunks) saved once (bench/prune_common.sh; BASE/BASE_LOGITS reuse another's).
#  2. For each fraction f of --removed, every output written F32, calibration tinyshakespeare
#     (--calib-chunks chunks of 512, not the evaluation text):
#       depth: the blocks of least influence on the residual stream (the order --drop-layers uses,
#              measured once), as many as bring the removed parameters closest to f of the base's;
#       width: --method width --target-params (1 − f)·total (per-layer FFN widths and KV groups, Minitron
#              activation scores);
#       svd:   --method svd --target-params (1 − f)·total with whitening from the input Grams (SVD-LLM;
#              plain SVD is far worse: BENCHMARKS.md, "low-rank factors");
#       ffn:   --ffn F, one FFN width for every layer (the uniform width flags; the only width pruning for
#              architectures whose llama.cpp loader takes one width, gemma3), F the multiple of 32 whose
#              removed FFN channels come closest to f·total;
#       mix:   depth then width: the blocks of least influence whose parameters come closest to
#              --mix-depth of f·total dropped first, then --method width --target-params (1 − f)·total
#              on that file (its widths scored on the depth-pruned model), so the same total is
#              removed as by the pure rows (llama models: per-layer widths are written as deci).
#  3. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base
#     log-probs (PPL(Q), mean KLD, top-1 agreement); parameters by `shrink inspect`, file bytes.
#     Depth- and width-pruned files load in stock llama.cpp (the other prune benches run the peer on
#     them); low-rank factors need shrink's runtime.
#
# Usage: bench/prune_structured.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                                  [--calib-chunks N] [--removed "0.1 0.25 0.5"] [--kinds "depth width svd ffn mix"]
#                                  [--mix-depth 0.5]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); BASE, BASE_LOGITS (bench/prune_common.sh);
#        WORK (default a temp folder; ~540 MB base for SmolLM2 and every output kept, at most as large; a
#        rerun with the same WORK reuses the rows already scored)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=10
threads=$(nproc)
calib_chunks=4
removed="0.1 0.25 0.5"
kinds="depth width svd"
mix_depth=0.5
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--calib-chunks N] [--removed \"F...\"] [--kinds \"depth width svd ffn mix\"] [--mix-depth F]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --removed) removed="$2"; shift 2 ;;
    --kinds) kinds="$2"; shift 2 ;;
    --mix-depth) mix_depth="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text
source bench/prune_common.sh
calibration_text
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2
prune_base
total=$(params_of "$base")
[[ -n "$total" ]] || { echo "no parameter count from shrink inspect" >&2; exit 1; }
calib_flags=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)

if [[ " $kinds " == *" depth "* || " $kinds " == *" mix "* ]]; then
  block_order "${calib_flags[@]}"
  # Parameters per block, by block index (gguf-py: an independent reader of the base).
  block_params=($(python3 - "$base" <<'PY'
import re, sys
from collections import defaultdict
from gguf import GGUFReader
count = defaultdict(int)
for t in GGUFReader(sys.argv[1]).tensors:
    m = re.match(r"blk\.(\d+)\.", t.name)
    if m:
        count[int(m.group(1))] += int(t.n_elements)
print(" ".join(str(count[i]) for i in range(max(count) + 1)))
PY
  ))
fi

# ffn_width F: the FFN width, a multiple of 32, whose removed channels (3 matrices of d_model each, in
# every block) come closest to F of $total (gguf-py reads the shapes of the base).
ffn_width() {
  python3 - "$base" "$1" "$total" <<'PY'
import sys
from gguf import GGUFReader
gate = [t for t in GGUFReader(sys.argv[1]).tensors if t.name.endswith("ffn_gate.weight")]
d_model, ffn = (int(x) for x in gate[0].shape[:2])
per_channel = 3 * d_model * len(gate)
keep = ffn - float(sys.argv[2]) * int(sys.argv[3]) / per_channel
print(max(32, min(ffn - 32, 32 * round(keep / 32))))
PY
}

# depth_count F: how many blocks of $order bring the removed parameters closest to F of $total.
depth_count() {
  local target gone=0 n=0 best=0 best_gap
  target=$(echo "$1 * $total / 1" | bc)
  best_gap=$target
  for b in "${order[@]}"; do
    n=$((n + 1))
    gone=$((gone + block_params[b]))
    local gap=$((gone > target ? gone - target : target - gone))
    [[ $gap -lt $best_gap ]] || break
    best=$n best_gap=$gap
  done
  [[ $best -lt ${#order[@]} ]] || best=$((${#order[@]} - 1))  # one block must remain
  echo "$best"
}

rows=()
declare -A best_kld best_what
for f in $removed; do
  pct=$(echo "$f * 100" | bc | sed 's/\.0*$//')
  target=$(echo "$total * (1 - $f) / 1" | bc)
  for kind in $kinds; do
    case $kind in
      depth)
        n=$(depth_count "$f")
        list=$(first_blocks "$n")
        name="depth_$pct" args=(--layers "$list") what="$n blocks dropped ($list)" ;;
      width)
        name="width_$pct" args=(--method width --target-params "$target" "${calib_flags[@]}")
        what="per-layer widths" ;;
      svd)
        name="svd_$pct" args=(--method svd --target-params "$target" "${calib_flags[@]}")
        what="whitened SVD" ;;
      ffn)
        width=$(ffn_width "$f")
        name="ffn_$pct" args=(--ffn "$width" "${calib_flags[@]}") what="FFN width $width in every layer" ;;
      mix)
        n=$(depth_count "$(echo "$f * $mix_depth" | bc -l)")
        list=$(first_blocks "$n")
        name="mix_$pct" args=(--method width --target-params "$target" "${calib_flags[@]}")
        what="$n blocks dropped ($list), then per-layer widths"
        # The depth step's file is the width step's input (reused by a rerun like every row).
        if [[ ! -f "$work/mixdepth_$pct.secs" || ! -f "$work/mixdepth_$pct.gguf" ]] &&
          ! grep -q "Mean    KLD" "$work/$name.kld" 2>/dev/null; then
          echo "== $pct%: mix, depth step ($n blocks)" >&2
          prune_timed "mixdepth_$pct" --layers "$list" >/dev/null
        fi
        prune_input="$work/mixdepth_$pct.gguf" ;;
      *) echo "unknown kind $kind (depth, width, svd, ffn, mix)" >&2; exit 2 ;;
    esac
    echo "== $pct%: $kind ($what)" >&2
    result=$(prune_and_score "$name" --explain "${args[@]}")
    if [[ $kind == mix ]]; then
      unset prune_input
      # The prune seconds of both steps.
      read -r secs rest <<<"$result"
      result="$(echo "$secs + $(cat "$work/mixdepth_$pct.secs")" | bc) $rest"
    fi
    read -r secs ppl kld top <<<"$result"
    size=$(size_of "$name")
    params=$(pruned_params "$name")
    gone=$(echo "scale=1; 100 * ($total - $params) / $total" | bc)
    add_row rows "| $pct% | $kind: $what | $params | $gone% | $size | $(echo "scale=3; $size / $size_base" | bc) | $ppl | $kld | $top | $secs |"
    if [[ -z "${best_kld[$pct]:-}" ]] || (($(echo "$kld < ${best_kld[$pct]}" | bc))); then
      best_kld[$pct]=$kld best_what[$pct]="$kind ($what, $gone% removed, $size bytes): PPL $ppl, KLD $kld"
    fi
  done
done

echo
echo "shrink prune, structured, on $(basename "$model") as F32 (base PPL $ppl_base, $total parameters, $size_base bytes):"
echo "WikiText-2 valid, $chunks chunks of 512; calibration tinyshakespeare, $calib_chunks chunks of 512."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| target removed | pruning | params | removed | file bytes | of base | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
for f in $removed; do
  pct=$(echo "$f * 100" | bc | sed 's/\.0*$//')
  echo "best at $pct%: ${best_what[$pct]}"
done
