#!/usr/bin/env bash
# shrink prune, structured (issue 9): file size against PPL/KLD for depth, width and low-rank pruning at
# the same fractions of the parameters removed, as one table, and the best of the three per size.
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on WikiText-2
#     valid (--ctx 512, --chunks) saved once (bench/prune_common.sh; BASE/BASE_LOGITS reuse another's).
#  2. For each fraction f of --removed, the parameters to remove R = f·total, or with --of blocks
#     f·(the parameters inside the blocks: Gemma-3-270M's tied 262,144 × 640 embedding is 63% of its
#     parameters and no structured pruning here touches it); every output written F32, calibration
#     tinyshakespeare (--calib-chunks chunks of 512, not the evaluation text):
#       depth: the blocks of least influence on the residual stream (the order --drop-layers uses,
#              measured once), as many as bring the removed parameters closest to R;
#       width: --method width --target-params total − R (per-layer FFN widths and KV groups, Minitron
#              activation scores; llama models only: per-layer widths are written as deci);
#       svd:   --method svd --target-params total − R with whitening from the input Grams (SVD-LLM);
#       svdplain: the same without whitening (plain SVD);
#       ffn:   --ffn F, one FFN width for every layer (the uniform width flags; the only width pruning for
#              architectures whose llama.cpp loader takes one width, gemma3), F the multiple of 32 whose
#              removed FFN channels come closest to R;
#       mix:   depth then width: the blocks of least influence whose parameters come closest to
#              --mix-depth of R dropped first, then on that file (its widths scored on the depth-pruned
#              model) the width pruning that brings the total removed closest to R: --method width
#              --target-params total − R for llama models, else one FFN width --ffn F as in ffn.
#  3. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base
#     log-probs (PPL(Q), mean KLD, top-1 agreement); parameters by `shrink inspect`, file bytes.
#     Depth- and width-pruned files load in stock llama.cpp (the other prune benches run the peer on
#     them); low-rank factors need shrink's runtime.
#
# Usage: bench/prune_structured.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                                  [--calib-chunks N] [--removed "0.1 0.25 0.5"] [--kinds "depth width svd ffn mix"]
#                                  [--mix-depth 0.5] [--of total|blocks]
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
of=total
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--calib-chunks N] [--removed \"F...\"] [--kinds \"depth width svd svdplain ffn mix\"] [--mix-depth F] [--of total|blocks]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --removed) removed="$2"; shift 2 ;;
    --kinds) kinds="$2"; shift 2 ;;
    --mix-depth) mix_depth="$2"; shift 2 ;;
    --of) of="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $of == total || $of == blocks ]] || { echo "--of: expected total or blocks, got $of" >&2; exit 2; }
bench_setup --text
source bench/prune_common.sh
calibration_text
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2
prune_base
total=$(params_of "$base")
[[ -n "$total" ]] || { echo "no parameter count from shrink inspect" >&2; exit 1; }
calib_flags=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)

# Parameters per block, by block index, and the architecture (gguf-py: an independent reader of the base).
read -r arch block_line < <(python3 - "$base" <<'PY'
import re, sys
from collections import defaultdict
from gguf import GGUFReader
reader = GGUFReader(sys.argv[1])
field = reader.fields["general.architecture"]
arch = bytes(field.parts[field.data[0]]).decode()
count = defaultdict(int)
for t in reader.tensors:
    m = re.match(r"blk\.(\d+)\.", t.name)
    if m:
        count[int(m.group(1))] += int(t.n_elements)
print(arch, " ".join(str(count[i]) for i in range(max(count) + 1)))
PY
)
[[ -n "${block_line:-}" ]] || { echo "no block parameters from gguf-py on $base" >&2; exit 1; }
block_params=($block_line)
block_total=0
for p in "${block_params[@]}"; do block_total=$((block_total + p)); done
denom=$total
[[ $of == blocks ]] && denom=$block_total
if [[ " $kinds " == *" depth "* || " $kinds " == *" mix "* ]]; then
  block_order "${calib_flags[@]}"
fi

# ffn_width FILE R: the FFN width, a multiple of 32, whose removed channels (3 matrices of d_model each,
# in every block of FILE) come closest to R parameters (gguf-py reads the shapes of FILE).
ffn_width() {
  python3 - "$1" "$2" <<'PY'
import sys
from gguf import GGUFReader
gate = [t for t in GGUFReader(sys.argv[1]).tensors if t.name.endswith("ffn_gate.weight")]
d_model, ffn = (int(x) for x in gate[0].shape[:2])
per_channel = 3 * d_model * len(gate)
keep = ffn - float(sys.argv[2]) / per_channel
print(max(32, min(ffn - 32, 32 * round(keep / 32))))
PY
}

# depth_count F: how many blocks of $order bring the removed parameters closest to F of $denom.
depth_count() {
  local target gone=0 n=0 best=0 best_gap
  target=$(echo "$1 * $denom / 1" | bc)
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
  remove=$(echo "$f * $denom / 1" | bc)
  target=$((total - remove))
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
      svdplain)
        name="svdplain_$pct" args=(--method svd --target-params "$target") what="plain SVD" ;;
      ffn)
        width=$(ffn_width "$base" "$remove")
        name="ffn_$pct" args=(--ffn "$width" "${calib_flags[@]}") what="FFN width $width in every layer" ;;
      mix)
        n=$(depth_count "$(echo "$f * $mix_depth" | bc -l)")
        [[ $n -gt 0 ]] || { echo "== $pct%: mix skipped: no block comes closer to --mix-depth of it than none" >&2; continue; }
        list=$(first_blocks "$n")
        name="mix_$pct"
        # The depth step's file is the width step's input (reused by a rerun like every row).
        if [[ ! -f "$work/mixdepth_$pct.secs" || ! -f "$work/mixdepth_$pct.gguf" ]] &&
          ! grep -q "Mean    KLD" "$work/$name.kld" 2>/dev/null; then
          echo "== $pct%: mix, depth step ($n blocks)" >&2
          prune_timed "mixdepth_$pct" --layers "$list" >/dev/null
        fi
        prune_input="$work/mixdepth_$pct.gguf"
        if [[ $arch == llama ]]; then
          args=(--method width --target-params "$target" "${calib_flags[@]}")
          what="$n blocks dropped ($list), then per-layer widths"
        else
          # One FFN width (the architecture's llama.cpp loader takes no per-layer widths), for what
          # the depth step left of R; kept beside the row for a rerun that reuses it.
          [[ -f "$work/$name.ffn" ]] ||
            ffn_width "$prune_input" "$((remove - (total - $(pruned_params "mixdepth_$pct"))))" \
              >"$work/$name.ffn"
          width=$(cat "$work/$name.ffn")
          args=(--ffn "$width" "${calib_flags[@]}")
          what="$n blocks dropped ($list), then FFN width $width in every layer"
        fi ;;
      *) echo "unknown kind $kind (depth, width, svd, svdplain, ffn, mix)" >&2; exit 2 ;;
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
    gone_blocks=$(echo "scale=1; 100 * ($total - $params) / $block_total" | bc)
    add_row rows "| $pct% | $kind: $what | $params | $gone% | $gone_blocks% | $size | $(echo "scale=3; $size / $size_base" | bc) | $ppl | $kld | $top | $secs |"
    if [[ -z "${best_kld[$pct]:-}" ]] || (($(echo "$kld < ${best_kld[$pct]}" | bc))); then
      best_kld[$pct]=$kld best_what[$pct]="$kind ($what, $gone% removed, $size bytes): PPL $ppl, KLD $kld"
    fi
  done
done

echo
echo "shrink prune, structured, on $(basename "$model") ($arch) as F32 (base PPL $ppl_base, $total parameters, $block_total inside the blocks, $size_base bytes);"
echo "target removed: fractions of the parameters $([[ $of == blocks ]] && echo "inside the blocks" || echo "in all")."
echo "WikiText-2 valid, $chunks chunks of 512; calibration tinyshakespeare, $calib_chunks chunks of 512."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| target removed | pruning | params | removed (of all) | of the blocks | file bytes | of base | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
for f in $removed; do
  pct=$(echo "$f * 100" | bc | sed 's/\.0*$//')
  echo "best at $pct%: ${best_what[$pct]}"
done
