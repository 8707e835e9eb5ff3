#!/usr/bin/env bash
# Calibrated quantization: shrink (imatrix, GPTQ, GPTQ + imatrix) vs llama-imatrix + llama-quantize on
# the same F32 base, calibration text and evaluator (issue 7, "With calibration ... at most 0.75x").
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32` (SmolLM2's weights sit on its
#     Q4_1 grid); its log-probs on WikiText-2 valid (--eval-chunks chunks of 512) saved by shrink.
#  2. Calibration on tinyshakespeare (not the evaluation text), --chunks chunks of 512 in every method:
#     llama-imatrix and shrink imatrix each write an imatrix.
#  3. For each of --types, four files: llama-quantize --imatrix (llama's imatrix), shrink quantize
#     --imatrix (shrink's), shrink --method gptq, shrink --method gptq --imatrix (shrink's imatrix
#     weights each block's scale choice); quantize wall time and peak RSS from /usr/bin/time -v.
#  4. ONE evaluator for all: shrink perplexity --kl-divergence against the base's log-probs (mean KLD,
#     top-1 agreement, PPL(Q)); KLD ratio = file's KLD / llama's KLD (the issue's target: <= 0.75).
#  5. llama-perplexity -nr on every shrink file (the same --eval-chunks): it loads and runs; its PPL is
#     printed beside shrink's PPL(Q) for that file with the relative difference (should be within 0.5%).
#
# Usage: bench/quantize_calibrated_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--chunks N]
#          [--eval-chunks M] [--threads N] [--types "Q4_0 Q4_K_M Q3_K_M Q2_K"] [--methods "..."]
#   --methods: a subset of "imatrix gptq gptq+imatrix" (default all three).
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED, WORK (bench/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=32
eval_chunks=20
threads=$(nproc)
types="Q4_0 Q4_K_M Q3_K_M Q2_K"
methods="imatrix gptq gptq+imatrix"
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--eval-chunks M] [--threads N] [--types \"T...\"] [--methods \"M...\"]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --eval-chunks) eval_chunks="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done

bench_setup --text --peer
calib="$shared/data/tinyshakespeare/input.txt"
require_file "$calib" "the shared/ folder beside the repository"
shrink=$(realpath "$shrink")
load_start=$(load_average)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_start; work $work" >&2

echo "== base: $model -> F32; base log-probs ($eval_chunks chunks)" >&2
"$shrink" quantize "$model" "$work/base.gguf" --type F32 --threads "$threads" >"$work/base.txt" 2>&1
"$shrink" perplexity -m "$work/base.gguf" -f "$text" --ctx 512 --chunks "$eval_chunks" \
  --threads "$threads" --save-logits "$work/base.logits" >"$work/base_ppl.txt" 2>&1
cp "$calib" "$work/calibration.txt"

echo "== imatrix: llama-imatrix and shrink imatrix ($chunks chunks of 512)" >&2
read -r ti_l rssi_l <<<"$(cd "$work" && measured "$work/llama_imatrix.time" "$bin/llama-imatrix" \
  -m base.gguf -f calibration.txt -o llama.imatrix.gguf --ctx-size 512 --chunks "$chunks" --no-ppl \
  -t "$threads")"
read -r ti_s rssi_s <<<"$(cd "$work" && measured "$work/shrink_imatrix.time" "$shrink" imatrix \
  -m base.gguf -f calibration.txt -o shrink.imatrix.gguf --ctx 512 --chunks "$chunks" --threads "$threads")"

# quantize_with METHOD TYPE OUT: one quantizer run; prints "wall_s peak_rss_mb".
quantize_with() {
  local method="$1" type="$2" out="$3"
  case "$method" in
    llama) measured "$out.time" "$bin/llama-quantize" --imatrix "$work/llama.imatrix.gguf" \
             "$work/base.gguf" "$out" "$type" "$threads" ;;
    imatrix) measured "$out.time" "$shrink" quantize "$work/base.gguf" "$out" --type "$type" \
               --imatrix "$work/shrink.imatrix.gguf" --threads "$threads" ;;
    gptq) measured "$out.time" "$shrink" quantize "$work/base.gguf" "$out" --type "$type" \
            --method gptq --calibration "$work/calibration.txt" --ctx 512 --chunks "$chunks" \
            --threads "$threads" ;;
    gptq+imatrix) measured "$out.time" "$shrink" quantize "$work/base.gguf" "$out" --type "$type" \
                    --method gptq --calibration "$work/calibration.txt" --ctx 512 --chunks "$chunks" \
                    --imatrix "$work/shrink.imatrix.gguf" --threads "$threads" ;;
  esac
}

rows=()
for type in $types; do
  kld_llama=""
  for method in llama $methods; do
    echo "== $type: $method" >&2
    out="$work/${method}_$type.gguf"
    read -r t rss <<<"$(quantize_with "$method" "$type" "$out")"
    size=$(stat -c %s "$out")
    "$shrink" perplexity -m "$out" --kl-divergence "$work/base.logits" --threads "$threads" \
      >"$out.kld" 2>&1 || { echo "shrink perplexity failed on $out" >&2; exit 1; }
    kld=$(field "$out.kld" "Mean    KLD"); top=$(field "$out.kld" "Same top p")
    ppl=$(field "$out.kld" "Mean PPL(Q) ")
    [[ "$method" == llama ]] && kld_llama="$kld" && size_llama="$size"
    ratio=$(echo "scale=3; $kld / $kld_llama" | bc)
    lppl="-"
    if [[ "$method" != llama ]]; then
      "$bin/llama-perplexity" -nr -m "$out" -f "$text" -c 512 -t "$threads" --chunks "$eval_chunks" \
        >"$out.llama_ppl" 2>&1 || { echo "llama-perplexity FAILED to run $out" >&2; exit 1; }
      l=$(final "$out.llama_ppl")
      lppl="$l ($(echo "scale=3; 100 * ($l - $ppl) / $ppl" | bc)%)"
    fi
    same=$([[ "$size" == "$size_llama" ]] && echo "=" || echo "≠")
    rows+=("| $type | $method | $size $same | $kld | $ratio | $top | $ppl | $lppl | $t | $rss |")
    echo "row: ${rows[-1]}" >&2  # partial results survive an interrupted run
    [[ "$method" == llama ]] || rm -f "$out"
  done
done

cat <<REPORT

Calibrated quantization, $(basename "$model") dequantized to F32 by shrink (weights on the source's grid;
Q4_1 itself is in no claim). Calibration: $chunks chunks of 512 tokens of tinyshakespeare for every
method. Evaluation: shrink perplexity --kl-divergence against the base's log-probs, WikiText-2 valid,
$eval_chunks chunks of 512 (PPL(base) $(grep -o "PPL = [0-9.]*" "$work/base_ppl.txt" | tail -1 | awk '{print $3}')). llama-perplexity -nr on the
same chunks on each shrink file, relative to shrink's PPL(Q) of that file. Size "=": equal to llama's
file. KLD ratio: the row's KLD / llama's (target <= 0.75). Time: wall s of the quantizer alone (the
imatrix runs are separate: llama-imatrix ${ti_l} s / ${rssi_l} MB, shrink imatrix ${ti_s} s / ${rssi_s} MB).
CPU: $(cpu_model); threads $threads; $(date -u +%F); load average at start $load_start, at end $(load_average).

| type | method | bytes | KLD | KLD ratio vs llama | top-1 % | PPL(Q) | llama-perplexity (vs PPL(Q)) | quantize s | peak RSS MB |
|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

outputs: $work
REPORT
