#!/usr/bin/env bash
# Pruning against quantization at the same file size (issue 9): does "quantization outperforms pruning in
# most cases" hold on these models, and where not?
#
#  1. The base: the model dequantized to F32 (`shrink quantize --type F32`); its log-probs on WikiText-2
#     valid (--ctx 512, --chunks) saved once; every file below scored against them by one evaluator,
#     `shrink perplexity --kl-divergence` (PPL(Q), mean KLD, top-1 agreement).
#  2. Depth + quantization vs quantization: for each (pruned type, reference type) pair in --pairs, the
#     reference is `shrink quantize --type REF` (round to nearest, as llama-quantize without an imatrix); the
#     pruned file drops the fewest least-influential blocks (block influence over tinyshakespeare, the order
#     `--drop-layers` uses) that bring `shrink prune --type PRUNED`'s file to at most the reference's bytes.
#  3. FFN width + quantization vs quantization (--ffn-pairs, none by default): for each (pruned type,
#     reference type) pair, the widest uniform FFN width (`--ffn F`, F a multiple of the pruned type's block
#     size: 256 for K types, else 32) whose `shrink prune --ffn F --type PRUNED` file is at most the
#     reference's bytes (sizes by `--dry-run`), channels by activation scores over tinyshakespeare. The
#     width pruning that architectures whose llama.cpp loader takes one FFN width (gemma3) allow.
#  4. 2:4 and 50% unstructured Wanda + Q8_0 vs Q4_0 (--sparse): GGUF stores the zeros, so the pruned file is Q8_0's
#     size; the table also gives the size a sparse store would need (kept values at Q8_0's 8.5 bits plus the
#     positions: log2(C(4,2)) = 2.58 bits per group of four for 2:4, a 1-bit mask per weight unstructured) —
#     a hypothetical no stock runtime reads, labelled as such.
#
# Usage: bench/prune_vs_quantize.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                                   [--calib-chunks N] [--pairs "Q5_K_M:Q4_K_M Q6_K:Q5_K_M Q4_K_M:Q3_K_M"]
#                                   [--ffn-pairs "Q5_K_M:Q4_K_M"] [--sparse "2:4 0.5"]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder; BASE=PATH of an
#        F32 base and BASE_LOGITS=PATH of its saved log-probs over >= --chunks chunks skip step 1:
#        bench/prune_common.sh); a rerun with the same WORK reuses the files already scored (their .kld)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=10
threads=$(nproc)
calib_chunks=4
pairs="Q5_K_M:Q4_K_M Q6_K:Q5_K_M Q8_0:Q6_K Q4_K_M:Q3_K_M"
ffn_pairs=""
sparse="2:4 0.5"
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--calib-chunks N] [--pairs \"PRUNED:REF ...\"] [--ffn-pairs \"PRUNED:REF ...\"] [--sparse \"2:4 0.5\"]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --ffn-pairs) ffn_pairs="$2"; shift 2 ;;
    --sparse) sparse="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text
source bench/prune_common.sh
calibration_text
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $(load_average); work $work" >&2
prune_base

# dry_size ARGS...: the file size `shrink prune --dry-run ARGS` reports.
dry_size() {
  "$shrink" prune "$base" "$@" --dry-run 2>&1 | sed -n 's/.*file \([0-9]*\) bytes.*/\1/p'
}
quantize() {
  local type=$1 out="$work/q_$1.gguf"
  [[ -f "$out" ]] || nice "$shrink" quantize "$base" "$out" --type "$type" --threads "$threads" \
    >"$work/q_$type.txt" 2>&1 || { echo "quantize $type failed (see $work/q_$type.txt)" >&2; exit 1; }
  echo "$out"
}
# scored FILE: score FILE, or the fields of its .kld when an earlier run with this WORK scored it.
scored() {
  if grep -q "Mean    KLD" "${1%.gguf}.kld" 2>/dev/null; then kld_fields "${1%.gguf}.kld"; else score "$1"; fi
}

calib_flags=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)
# Width pruning needs calibration even for --dry-run; the sizes do not depend on it, so the size
# search calibrates on one short chunk.
head -c 4000 "$calib" >"$work/size_calib.txt"
size_calib=(--calibration "$work/size_calib.txt" --chunks 1 --ctx 64)
if [[ -n "$pairs" ]]; then
  block_order "${calib_flags[@]}"
  n_layers=${#order[@]}
fi

rows=()
row() { add_row rows "$1"; }
for pair in $pairs; do
  pruned_type=${pair%%:*} ref_type=${pair##*:}
  echo "== $pruned_type with dropped blocks vs $ref_type" >&2
  ref=$(quantize "$ref_type")
  ref_size=$(stat -c %s "$ref")
  read -r ppl kld top <<<"$(scored "$ref")"
  row "| $ref_type (quantized only) | $ref_size | 1.000 | $ppl | $kld | $top |"
  list="" n=0
  while :; do
    n=$((n + 1))
    [[ $n -lt $n_layers ]] || { echo "no depth fits $ref_size bytes at $pruned_type" >&2; continue 2; }
    list=$(first_blocks "$n")
    size=$(dry_size --layers "$list" --type "$pruned_type")
    [[ -n "$size" ]] || { echo "no size from prune --dry-run --layers $list" >&2; exit 1; }
    [[ $size -gt $ref_size ]] || break
  done
  out="$work/drop${n}_$pruned_type.gguf"
  nice "$shrink" prune "$base" "$out" --layers "$list" --type "$pruned_type" >"$work/drop${n}_$pruned_type.txt" 2>&1
  size=$(stat -c %s "$out")
  read -r ppl kld top <<<"$(score "$out")"
  row "| $n blocks dropped ($list) + $pruned_type | $size | $(echo "scale=3; $size / $ref_size" | bc) | $ppl | $kld | $top |"
  rm -f "$out"
done

ffn_refs=""
for pair in $ffn_pairs; do
  pruned_type=${pair%%:*} ref_type=${pair##*:}
  echo "== $pruned_type with a narrower FFN vs $ref_type" >&2
  ref=$(quantize "$ref_type")
  ref_size=$(stat -c %s "$ref")
  read -r ppl kld top <<<"$(scored "$ref")"
  [[ " $pairs $ffn_refs " == *":$ref_type "* ]] ||  # an earlier pair gave its row already
    row "| $ref_type (quantized only) | $ref_size | 1.000 | $ppl | $kld | $top |"
  ffn_refs+=" :$ref_type"
  ffn=$(python3 - "$base" <<'PY'
import sys
from gguf import GGUFReader
print(next(int(t.shape[1]) for t in GGUFReader(sys.argv[1]).tensors if t.name.endswith("ffn_gate.weight")))
PY
  )
  step=32
  [[ $pruned_type == *_K* ]] && step=256
  # Binary search over the multiples of step below ffn (the file grows with the width): the widest
  # whose file fits, 0 when none does.
  lo=0 hi=$((ffn / step - 1))
  while [[ $lo -lt $hi ]]; do
    mid=$(((lo + hi + 1) / 2))
    size=$(dry_size --ffn "$((mid * step))" --type "$pruned_type" "${size_calib[@]}")
    [[ -n "$size" ]] || { echo "no size from prune --dry-run --ffn $((mid * step)) --type $pruned_type" >&2; exit 1; }
    if [[ $size -le $ref_size ]]; then lo=$mid; else hi=$((mid - 1)); fi
  done
  width=$((lo * step))
  [[ $width -gt 0 ]] || { echo "no FFN width fits $ref_size bytes at $pruned_type" >&2; continue; }
  out="$work/ffn${width}_$pruned_type.gguf"
  if ! grep -q "Mean    KLD" "${out%.gguf}.kld" 2>/dev/null; then
    nice "$shrink" prune "$base" "$out" --ffn "$width" --type "$pruned_type" "${calib_flags[@]}" \
      --threads "$threads" >"${out%.gguf}.txt" 2>&1 || { echo "prune failed (see ${out%.gguf}.txt)" >&2; exit 1; }
    stat -c %s "$out" >"${out%.gguf}.size"
  fi
  size=$(cat "${out%.gguf}.size")
  read -r ppl kld top <<<"$(scored "$out")"
  row "| FFN $width of $ffn in every layer + $pruned_type | $size | $(echo "scale=3; $size / $ref_size" | bc) | $ppl | $kld | $top |"
  rm -f "$out"
done

if [[ -n "$sparse" ]]; then
  echo "== Wanda $sparse + Q8_0 vs Q4_0" >&2
  ref=$(quantize Q4_0)
  ref_size=$(stat -c %s "$ref")
  read -r ppl kld top <<<"$(scored "$ref")"
  row "| Q4_0 (quantized only) | $ref_size | 1.000 | $ppl | $kld | $top |"
  # Weights in the pruned linears (every weight matrix inside the blocks), from the base's tensor list.
  linear_weights=$(python3 - "$base" <<'PY'
import re, sys
from gguf import GGUFReader
print(sum(int(t.n_elements) for t in GGUFReader(sys.argv[1]).tensors
          if re.fullmatch(r"blk\.\d+\.(attn_(q|k|v|output)|ffn_(gate|up|down))\.weight", t.name)))
PY
  )
fi
for what in $sparse; do
  if [[ $what == 2:4 ]]; then flags=(--pattern 2:4); label="2:4"; index_bits=$(echo "2.585 / 4" | bc -l)
  else flags=(--sparsity 0.5); label="50%"; index_bits=1; fi
  out="$work/wanda_${what/:/of}_Q8_0.gguf"
  if ! grep -q "Mean    KLD" "${out%.gguf}.kld" 2>/dev/null; then
    nice "$shrink" prune "$base" "$out" --method wanda "${flags[@]}" "${calib_flags[@]}" --threads "$threads" --type Q8_0 \
      >"$work/wanda_${what/:/of}.txt" 2>&1 || { echo "prune failed (see $work/wanda_${what/:/of}.txt)" >&2; exit 1; }
    stat -c %s "$out" >"${out%.gguf}.size"
  fi
  size=$(cat "${out%.gguf}.size")
  read -r ppl kld top <<<"$(scored "$out")"
  row "| Wanda $label + Q8_0, zeros stored (GGUF) | $size | $(echo "scale=3; $size / $ref_size" | bc) | $ppl | $kld | $top |"
  sparse_size=$(echo "$size - $linear_weights * (8.5 / 2 - $index_bits) / 8" | bc -l | cut -d. -f1)
  row "| Wanda $label + Q8_0, hypothetical sparse store | $sparse_size | $(echo "scale=3; $sparse_size / $ref_size" | bc) | $ppl | $kld | $top |"
  rm -f "$out"
done

echo
echo "$model, WikiText-2 valid, ctx 512, $chunks chunks; $(cpu_model); $(date -u +%F); load $(load_average)"
echo
echo "| file | bytes | of the reference | PPL(Q) | mean KLD | top-1 % |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
