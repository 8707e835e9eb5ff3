#!/usr/bin/env bash
# Calibrated quantization: shrink (imatrix, exact rounding, GPTQ, AWQ, combined) vs llama-imatrix + llama-quantize on
# the same F32 base, calibration text and evaluator (issue 7, "With calibration ... at most 0.75x").
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32` (SmolLM2's weights sit on its
#     Q4_1 grid); its log-probs on WikiText-2 valid (--eval-chunks chunks of 512) saved by shrink.
#  2. Calibration on tinyshakespeare (not the evaluation text), --chunks chunks of 512 in every method:
#     llama-imatrix and shrink imatrix each write an imatrix.
#  3. For each of --types: llama-quantize --imatrix (llama's imatrix) and one shrink file per
#     --methods entry, each a '+'-joined list of parts: imatrix (--imatrix, shrink's), exact
#     (--rounding exact), gptq (--method gptq), awq (--method awq; awq+gptq with gptq), ao
#     (--act-order), pdX (--percdamp X), cN (--chunks N for this method's own calibration pass; the
#     imatrix keeps --chunks), gN (--awq-grid N), rN (--awq-rows N), e.g. "imatrix+exact awq+imatrix gptq+ao+pd0.3
#     awq+gptq+ao+pd0.1+imatrix"; quantize wall time and peak RSS from /usr/bin/time -v.
#  4. ONE evaluator for all: shrink perplexity --kl-divergence against the base's log-probs (mean KLD,
#     top-1 agreement, PPL(Q)); KLD ratio = file's KLD / llama's KLD (the issue's target: <= 0.75).
#  5. llama-perplexity -nr on every shrink file (the same --eval-chunks): it loads and runs; its PPL is
#     printed beside shrink's PPL(Q) for that file with the relative difference (should be within 0.5%).
#
# Usage: bench/quantize_calibrated_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--chunks N]
#          [--eval-chunks M] [--threads N] [--types "Q4_0 Q4_K_M Q3_K_M Q2_K"] [--methods "..."]
#   --methods: shrink recipes as in 3. (default "imatrix gptq gptq+imatrix").
#   Files already in WORK are reused: base.gguf, base.logits (+ base_ppl.txt), the two imatrix files,
#   llama_T.gguf with its .kld and .time (so a rerun adds recipes without redoing llama's side).
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

make_base "$threads"
base_logits "$eval_chunks" "$threads"
[[ -f "$work/calibration.txt" ]] || cp "$calib" "$work/calibration.txt"

# time_of FILE.time: "wall_s peak_rss_mb" of an earlier measured run.
time_of() {
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" \
         | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$1")
  echo "$wall $(echo "scale=1; $rss / 1024" | bc)"
}

echo "== imatrix: llama-imatrix and shrink imatrix ($chunks chunks of 512)" >&2
if [[ -f "$work/llama.imatrix.gguf" && -f "$work/llama_imatrix.time" ]]; then
  read -r ti_l rssi_l <<<"$(time_of "$work/llama_imatrix.time")"
else
  read -r ti_l rssi_l <<<"$(cd "$work" && measured "$work/llama_imatrix.time" "$bin/llama-imatrix" \
    -m base.gguf -f calibration.txt -o llama.imatrix.gguf --ctx-size 512 --chunks "$chunks" --no-ppl \
    -t "$threads")"
fi
if [[ -f "$work/shrink.imatrix.gguf" && -f "$work/shrink_imatrix.time" ]]; then
  read -r ti_s rssi_s <<<"$(time_of "$work/shrink_imatrix.time")"
else
  read -r ti_s rssi_s <<<"$(cd "$work" && measured "$work/shrink_imatrix.time" "$shrink" imatrix \
    -m base.gguf -f calibration.txt -o shrink.imatrix.gguf --ctx 512 --chunks "$chunks" \
    --threads "$threads")"
fi

# recipe_flags RECIPE: shrink quantize flags of a '+'-joined recipe (see 3. above).
recipe_flags() {
  local part awq=0 gptq=0 flags=() own_chunks="$chunks"
  IFS=+ read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    case "$part" in
      imatrix) flags+=(--imatrix "$work/shrink.imatrix.gguf") ;;
      exact) flags+=(--rounding exact) ;;
      gptq) gptq=1 ;;
      awq) awq=1 ;;
      ao) flags+=(--act-order) ;;
      pd*) flags+=(--percdamp "${part#pd}") ;;
      c[0-9]*) own_chunks="${part#c}" ;;
      g[0-9]*) flags+=(--awq-grid "${part#g}") ;;
      r[0-9]*) flags+=(--awq-rows "${part#r}") ;;
      *) echo "unknown recipe part '$part' in '$1'" >&2; exit 2 ;;
    esac
  done
  local method=""
  ((awq && gptq)) && method=awq+gptq
  ((awq && !gptq)) && method=awq
  ((!awq && gptq)) && method=gptq
  [[ -n "$method" ]] && flags+=(--method "$method" --calibration "$work/calibration.txt" --ctx 512
                                --chunks "$own_chunks")
  echo "${flags[@]}"
}

# quantize_with METHOD TYPE OUT: one quantizer run; prints "wall_s peak_rss_mb".
quantize_with() {
  local method="$1" type="$2" out="$3"
  if [[ "$method" == llama ]]; then
    measured "$out.time" "$bin/llama-quantize" --imatrix "$work/llama.imatrix.gguf" \
      "$work/base.gguf" "$out" "$type" "$threads"
  else
    # shellcheck disable=SC2046  # the recipe's flags are words without spaces
    measured "$out.time" "$shrink" quantize "$work/base.gguf" "$out" --type "$type" \
      $(recipe_flags "$method") --threads "$threads"
  fi
}

rows=()
for type in $types; do
  kld_llama=""
  for method in llama $methods; do
    echo "== $type: $method" >&2
    out="$work/${method}_$type.gguf"
    if [[ "$method" == llama && -f "$out" && -f "$out.kld" && -f "$out.time" ]]; then
      read -r t rss <<<"$(time_of "$out.time")"  # reused from an earlier run in $work
    else
      read -r t rss <<<"$(quantize_with "$method" "$type" "$out")"
      "$shrink" perplexity -m "$out" --kl-divergence "$work/base.logits" --threads "$threads" \
        >"$out.kld" 2>&1 || { echo "shrink perplexity failed on $out" >&2; exit 1; }
    fi
    size=$(stat -L -c %s "$out")
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

Calibrated quantization, $(basename "$model") dequantized to F32 by shrink (weights on the source's grid:
the source's own type, Q4_1 for SmolLM2 and Q4_K_M for Gemma-3, is in no claim). Calibration: $chunks chunks of 512 tokens of tinyshakespeare for every
method. Evaluation: shrink perplexity --kl-divergence against the base's log-probs, WikiText-2 valid,
$eval_chunks chunks of 512 (PPL(base) $ppl_base). llama-perplexity -nr on the
same chunks on each shrink file, relative to shrink's PPL(Q) of that file. Size "=": equal to llama's
file. KLD ratio: the row's KLD / llama's (target <= 0.75). Time: wall s of the quantizer alone (the
imatrix runs are separate: llama-imatrix ${ti_l} s / ${rssi_l} MB, shrink imatrix ${ti_s} s / ${rssi_s} MB).
CPU: $(cpu_model); threads $threads; $(date -u +%F); load average at start $load_start, at end $(load_average).

| type | method | bytes | KLD | KLD ratio vs llama | top-1 % | PPL(Q) | llama-perplexity (vs PPL(Q)) | quantize s | peak RSS MB |
|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

outputs: $work
REPORT
