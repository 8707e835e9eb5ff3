#!/usr/bin/env bash
# Size budgets vs llama.cpp's uniform types, with calibration on both sides (issue 7 item 6).
#
#  1. The base: the model dequantized to F32 (shrink quantize --type F32; SmolLM2-135M-Instruct ships as
#     Q4_1, so the base's weights sit on a Q4_1 grid); its log-probs on WikiText-2 valid (ctx 512, --chunks).
#  2. Calibration on tinyshakespeare (not the evaluation text), --imatrix-chunks chunks of 512: shrink
#     imatrix --process-output for shrink, llama-imatrix (its defaults) for llama-quantize.
#  3. llama-quantize --imatrix: each of --types (uniform llama.cpp file types, their own mixes).
#  4. shrink quantize --imatrix with a budget: each of --bpws (--target-bpw; a budget below the model's
#     smallest possible file is reported with that minimum), and --target-size equal to the size of each
#     llama file of --same-size (the same-size comparison).
#  5. Every file scored by ONE evaluator: shrink perplexity --kl-divergence against the base's log-probs
#     (mean KLD, top-1 agreement, PPL(Q)); llama-perplexity -nr runs every shrink file (--llama-chunks):
#     llama.cpp loads and runs it.
#  6. For each shrink file, the KLD ratio against every llama file of equal or larger size.
#
# Usage: bench/quantize_budget_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--chunks N]
#          [--imatrix-chunks N] [--llama-chunks M] [--threads N] [--bpws "3.0 3.5 4.5"] [--types "T..."]
#          [--same-size "T..." (default: every --types entry; "" for none)] [--budget-types "T,T,..."] (default: every candidate but Q4_1)
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED, WORK (bench/common.sh; the base is ~540 MB for SmolLM2)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=20
imatrix_chunks=20
llama_chunks=4
threads=$(nproc)
bpws="3.0 3.5 4.5"
types="Q2_K Q3_K_S Q3_K_M Q4_0 IQ4_NL IQ4_XS Q4_K_S Q4_K_M"
same_size="$types"
# Every candidate but Q4_1: SmolLM2's base sits exactly on a Q4_1 grid, so Q4_1 is lossless there and a
# budget would buy it for free; no claim here is about Q4_1.
budget_types="Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ4_XS,Q4_0,IQ4_NL,Q5_0,Q5_1,Q8_0,F16"
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --imatrix-chunks) imatrix_chunks="$2"; shift 2 ;;
    --llama-chunks) llama_chunks="$2"; shift 2 ;;
    --bpws) bpws="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    --same-size) same_size="$2"; shift 2 ;;
    --budget-types) budget_types="$2"; shift 2 ;;
    *) echo "usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--imatrix-chunks N] [--llama-chunks M] [--threads N] [--bpws \"B...\"] [--types \"T...\"] [--same-size \"T...\"] [--budget-types \"T,...\"]" >&2; exit 2 ;;
  esac
done
bench_setup --text --peer
calib="$shared/data/tinyshakespeare/input.txt"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load0; work $work" >&2

make_base "$threads"
base_logits "$chunks" "$threads"
params=$(python3 -c "import sys, gguf, numpy as np; print(sum(int(np.prod(t.shape)) for t in gguf.GGUFReader(sys.argv[1]).tensors))" "$work/base.gguf")
cp "$calib" "$work/calibration.txt"
if [[ ! -f "$work/shrink.imatrix.gguf" ]]; then
  echo "== shrink imatrix / llama-imatrix ($imatrix_chunks chunks)" >&2
  (cd "$work" && "$shrink" imatrix -m base.gguf -f calibration.txt -o shrink.imatrix.gguf --ctx 512 \
    --chunks "$imatrix_chunks" --process-output --threads "$threads" >imatrix_shrink.txt 2>&1)
  (cd "$work" && "$bin/llama-imatrix" -m base.gguf -f calibration.txt -o llama.imatrix.gguf \
    --ctx-size 512 --chunks "$imatrix_chunks" --no-ppl -t "$threads" >imatrix_llama.txt 2>&1)
fi

rows=()     # "bytes|who|label|kld|top1|ppl|llama_ppl|seconds"
notes=()
bpw_of() { echo "scale=3; 8 * $1 / $params" | bc; }

for type in $types; do
  echo "== llama-quantize $type" >&2
  f="$work/llama_$type.gguf"
  if [[ -f "$f.kld" ]] && grep -q "Mean    KLD" "$f.kld"; then  # from an earlier run in this WORK
    t=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$f.time" \
        | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    read -r kld top1 ppl <<<"$(field "$f.kld" "Mean    KLD") $(field "$f.kld" "Same top p") $(field "$f.kld" "Mean PPL(Q) ")"
  else
    read -r t _ <<<"$(measured "$f.time" "$bin/llama-quantize" --imatrix "$work/llama.imatrix.gguf" \
                      "$work/base.gguf" "$f" "$type" "$threads")"
    read -r kld top1 ppl <<<"$(kld_of "$f" "$threads")"
  fi
  rows+=("$(stat -c %s "$f")|llama|$type (llama-imatrix)|$kld|$top1|$ppl|-|$t")
done

# shrink_budget LABEL ARGS...: a budget run; a refused budget becomes a note.
shrink_budget() {
  local label="$1"; shift
  local f="$work/shrink_${label// /_}.gguf"
  echo "== shrink quantize $*" >&2
  if ! /usr/bin/time -v "$shrink" quantize "$work/base.gguf" "$f" "$@" --imatrix \
      "$work/shrink.imatrix.gguf" --budget-types "$budget_types" --threads "$threads" >"$f.time" 2>&1; then
    notes+=("shrink quantize $*: $(grep -a -m1 'shrink: error' "$f.time" || tail -1 "$f.time")")
    return
  fi
  local t kld top1 ppl
  t=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$f.time" \
      | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  read -r kld top1 ppl <<<"$(kld_of "$f" "$threads")"
  "$bin/llama-perplexity" -nr -m "$f" -f "$text" -c 512 -t "$threads" --chunks "$llama_chunks" \
    >"$f.llama_ppl" 2>&1 || { echo "llama-perplexity failed on $f" >&2; exit 1; }
  rows+=("$(stat -c %s "$f")|shrink|$label|$kld|$top1|$ppl|$(final "$f.llama_ppl")|$t")
}
for b in $bpws; do shrink_budget "--target-bpw $b" --target-bpw "$b"; done
for type in $same_size; do
  size=$(stat -c %s "$work/llama_$type.gguf")
  shrink_budget "--target-size $size (= $type)" --target-size "$size"
done

echo
echo "Size budgets vs llama.cpp uniform types: $(basename "$model") dequantized to F32 by shrink (weights"
echo "on the source's Q4_1 grid; no claim about Q4_1 itself). Calibration: $imatrix_chunks chunks of 512 of"
echo "tinyshakespeare (shrink imatrix --process-output / llama-imatrix). KLD, top-1, PPL(Q): shrink perplexity"
echo "--kl-divergence against the base's log-probs, $chunks chunks of 512 of WikiText-2 valid (PPL(base)"
echo "$ppl_base). llama PPL: llama-perplexity -nr on shrink's file, first $llama_chunks chunks. Budget types:"
echo "$budget_types (Q4_1 left out: the base is exact in it)."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | bytes | file bpw | mean KLD | top-1 % | PPL(Q) | llama-perplexity | time s | KLD / KLD of every llama file >= its size |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}" | sort -t'|' -k1,1n | while IFS='|' read -r bytes who label kld top1 ppl lppl t; do
  ratios=""
  if [[ $who == shrink ]]; then
    while IFS='|' read -r b2 w2 l2 k2 _; do
      [[ $w2 == llama && $b2 -ge $bytes ]] || continue
      ratios+="${l2%% *} $(echo "scale=3; $kld / $k2" | bc), "
    done < <(printf '%s\n' "${rows[@]}")
  fi
  echo "| $who $label | $bytes | $(bpw_of "$bytes") | $kld | $top1 | $ppl | $lppl | $t | ${ratios%, } |"
done
[[ ${#notes[@]} -eq 0 ]] || printf '\n%s\n' "${notes[@]}"
echo "outputs: $work"
