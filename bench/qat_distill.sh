#!/usr/bin/env bash
# Quantization-aware distillation vs the best post-training quantization (issue 10, must-show "QAT"):
# SmolLM2-135M distilled into --type (Q4_0, Q2_K, ...) from its own F32 base, scored against the base.
#
#  1. The base: the model dequantized to F32; its log-probs on WikiText-2 valid (--ctx 512, --chunks)
#     are the reference every KLD is measured against (one evaluator: shrink perplexity
#     --kl-divergence).
#  2. The start: AWQ scales searched for --type on the training text (`quantize --method awq
#     --awq-fold-only`, with an imatrix of the base) and folded into the F32 model, which keeps the
#     base's function (its KLD is ~0) but rounds better; then an imatrix of that folded model.
#     `start` = PTQ of the folded model with its imatrix: exactly the grid the QAT run's first
#     forward pass reads (the type's importance-weighted encoder), i.e. QAT's step 0.
#  3. QAT: `shrink distill --teacher base --student awq_f32 --quantize T --imatrix awq.imatrix`,
#     pure KL to the F32 teacher (--alpha 1 --temperature 1), no weight decay, --tokens tokens of
#     the training text in batches of --batch × --seq; the file holds exactly the grid it trained on.
#     --train-text shakespeare (default): tinyshakespeare. --train-text wiki-split: WikiText-2 valid
#     without its first --chunks × 512 × 10 bytes (the scored chunks, with a 2x margin on the bytes per
#     token) and without its last 40,000 bytes (the validation text below): in-domain text disjoint from
#     everything scored. The AWQ search, the imatrices and the PTQ best are calibrated on the same text,
#     so PTQ and QAT see the same data. Use one WORK per training text.
#  4. The PTQ reference: the best PTQ recipe of the quantization issue (`quantize --method awq
#     --imatrix --rounding exact`, 4 calibration chunks, --awq-grid 10) when --ptq-best is given,
#     else any WORK/ptq_best_T.gguf.kld already there (e.g. copied from the calibrated bench's run).
#     With --rounding exact the start and the QAT run use exact one-scale steps (`quantize
#     --rounding exact`, `distill --rounding exact`: Q4_0/Q5_0 blocks get the exactly optimal
#     imatrix-weighted step, searched once and kept in training), the PTQ best's rounding; files
#     are then named start_T_exact / qat_T_exact.
#  5. Scores: mean KLD, top-1 agreement, PPL; recovery = 1 − KLD(QAT) / KLD(PTQ best) (the issue
#     asks for >= 0.75); llama-perplexity -nr on the QAT file (stock llama.cpp loads it).
# Quality figures do not depend on the machine's load; the training wall time does.
#
# Usage: bench/qat_distill.sh [--model smollm2|PATH] [--type Q4_0] [--tokens N] [--batch N] [--seq N]
#                             [--lr X] [--warmup N] [--val-every N] [--chunks N] [--imatrix-chunks N]
#                             [--rounding ggml|exact] [--ptq-best] [--prepare-only] [--threads N]
#                             [--train-text shakespeare|wiki-split]
#        --prepare-only stops before the QAT run (the folded model, imatrix and start file made), so
#        that another type's preparation can run beside a training run.
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder; files already
#        there from an earlier run are reused: base.gguf, base.logits, train.imatrix.gguf, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
type=Q4_0
tokens=32768
batch=4
seq=128
lr=1e-4
warmup=4
val_every=16
prepare_only=0
chunks=10
imatrix_chunks=16
ptq_best=0
threads=2
rounding=ggml
train_text_kind=shakespeare
usage="usage: $0 [--model smollm2|PATH] [--type T] [--tokens N] [--batch N] [--seq N] [--lr X] [--warmup N] [--val-every N] [--chunks N] [--imatrix-chunks N] [--rounding ggml|exact] [--ptq-best] [--prepare-only] [--threads N] [--train-text shakespeare|wiki-split]"
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --type) type="$2"; shift 2 ;;
    --tokens) tokens="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --seq) seq="$2"; shift 2 ;;
    --lr) lr="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --val-every) val_every="$2"; shift 2 ;;
    --prepare-only) prepare_only=1; shift ;;
    --imatrix-chunks) imatrix_chunks="$2"; shift 2 ;;
    --ptq-best) ptq_best=1; shift ;;
    --rounding) rounding="$2"; shift 2 ;;
    --train-text) train_text_kind="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done

[[ $rounding == ggml || $rounding == exact ]] || { echo "$usage" >&2; exit 2; }
suffix=""
[[ $rounding == exact ]] && suffix=_exact
bench_setup --text
case $train_text_kind in
  shakespeare)
    train_text="$shared/data/tinyshakespeare/input.txt"
    require_file "$train_text" "the shared/ folder beside the repository" ;;
  wiki-split)  # WikiText-2 valid minus the scored head and the validation tail (see the header)
    train_text="$work/wiki_train_split.txt"
    head_bytes=$((chunks * 512 * 10))
    total_bytes=$(stat -c %s "$text")
    ((total_bytes > head_bytes + 40000 + 100000)) || { echo "$text is too short for --chunks $chunks" >&2; exit 1; }
    tail -c +$((head_bytes + 1)) "$text" | head -c $((total_bytes - head_bytes - 40000)) >"$train_text" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
shrink=$(realpath "$shrink")
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $(load_average); work $work" >&2

# once FILE cmd...: runs cmd (output to FILE.log) unless FILE exists from an earlier run.
once() {
  local file="$1"; shift
  [[ -s "$file" ]] && { echo "   (reusing $file)" >&2; return 0; }
  "$@" >"$file.log" 2>&1 || { echo "failed: $* (see $file.log)" >&2; tail -3 "$file.log" >&2; exit 1; }
}

make_base "$threads"
base_logits "$chunks" "$threads"

echo "== imatrix of the base; AWQ scales for $type folded into F32; imatrix of the folded model" >&2
once "$work/train.imatrix.gguf" "$shrink" imatrix -m "$work/base.gguf" -f "$train_text" \
  -o "$work/train.imatrix.gguf" --ctx 512 --chunks "$imatrix_chunks" --threads "$threads"
awq_flags=(--method awq --calibration "$train_text" --ctx 512 --chunks 4 --awq-grid 10)
once "$work/awq_f32_$type.gguf" "$shrink" quantize "$work/base.gguf" "$work/awq_f32_$type.gguf" \
  --type "$type" --imatrix "$work/train.imatrix.gguf" "${awq_flags[@]}" --awq-fold-only \
  --threads "$threads"
once "$work/awq_$type.imatrix.gguf" "$shrink" imatrix -m "$work/awq_f32_$type.gguf" -f "$train_text" \
  -o "$work/awq_$type.imatrix.gguf" --ctx 512 --chunks "$imatrix_chunks" --threads "$threads"
once "$work/start_$type$suffix.gguf" "$shrink" quantize "$work/awq_f32_$type.gguf" \
  "$work/start_$type$suffix.gguf" --type "$type" --imatrix "$work/awq_$type.imatrix.gguf" \
  --rounding "$rounding" --threads "$threads"
if [[ $ptq_best == 1 ]]; then
  echo "== PTQ best: awq + imatrix + exact rounding" >&2
  once "$work/ptq_best_$type.gguf" "$shrink" quantize "$work/base.gguf" "$work/ptq_best_$type.gguf" \
    --type "$type" --imatrix "$work/train.imatrix.gguf" --rounding exact "${awq_flags[@]}" \
    --threads "$threads"
fi

[[ $prepare_only == 1 ]] && { echo "prepared: $work/awq_f32_$type.gguf, awq_$type.imatrix.gguf, start_$type$suffix.gguf" >&2; exit 0; }

# Validation during training (monitoring only): held-out WikiText-2 text from the END of valid.txt,
# which the scored chunks (the first --chunks × 512 tokens) do not reach.
tail -c 40000 "$text" >"$work/val.txt"
steps=$(((tokens + batch * seq - 1) / (batch * seq)))
echo "== QAT: shrink distill --quantize $type --rounding $rounding, $steps steps × $batch × $seq tokens" >&2
qat="qat_$type$suffix"
once "$work/$qat.gguf" "$shrink" distill --teacher "$work/base.gguf" \
  --student "$work/awq_f32_$type.gguf" --data "$train_text" --tokens "$tokens" --batch "$batch" \
  --seq "$seq" --lr "$lr" --warmup "$warmup" --weight-decay 0 --alpha 1 --temperature 1 \
  --quantize "$type" --imatrix "$work/awq_$type.imatrix.gguf" --rounding "$rounding" \
  --threads "$threads" --log-every 1 --val-data "$work/val.txt" --val-windows 4 \
  --val-every "$val_every" --out "$work/$qat.gguf"

kld_line() {  # NAME: the KLD row of WORK/NAME.gguf (scored once into NAME.gguf.kld)
  local g="$work/$1.gguf"
  if [[ ! -s "$g.kld" ]]; then
    [[ -s "$g" ]] || return 1
    kld_of "$g" "$threads" >/dev/null
  fi
  local bytes=-
  [[ -s "$g" ]] && bytes=$(stat -c %s "$g")
  echo "$(field "$g.kld" "Mean    KLD") $(field "$g.kld" "Same top p") $(field "$g.kld" "Mean PPL(Q) ") $bytes"
}
ref=""
rows=()
for name in "awq_f32_$type" "start_$type$suffix" "ptq_best_$type" "$qat"; do
  line=$(kld_line "$name") || continue
  read -r kld top1 ppl bytes <<<"$line"
  [[ $name == ptq_best_* ]] && ref=$kld
  rows+=("$name $kld $top1 $ppl $bytes")
done
llama_ppl=-
bin=$(bench/peers/llama_cpp.sh | tail -n 1)
if [[ -x $bin/llama-perplexity ]]; then
  [[ -s "$work/$qat.llama_ppl" ]] ||
    "$bin/llama-perplexity" -m "$work/$qat.gguf" -f "$text" -c 512 --chunks "$chunks" \
      -t "$threads" -nr >"$work/$qat.llama_ppl" 2>&1 || true
  llama_ppl=$(final "$work/$qat.llama_ppl")
fi
log="$work/$qat.gguf.log"
first=$(grep -m1 '^distill: step' "$log" | grep -o '(KL [0-9.]*' | tr -d '(' || true)
last=$(grep '^distill: step' "$log" | tail -1 | grep -o '(KL [0-9.]*' | tr -d '(' || true)
rate=$(grep '^distill: step' "$log" | tail -1 | grep -o '[0-9]* tokens/s' || true)

echo
echo "QAT (distillation) vs PTQ: $(basename "$model") F32 base -> $type; KLD against the base on $chunks chunks of 512 of WikiText-2 valid"
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load $(load_average)"
echo "QAT: $steps steps × $batch × $seq tokens of $train_text_kind, lr $lr (warmup $warmup, cosine to ×0.1), α 1, τ 1, no weight decay, rounding $rounding"
grep '^distill: validation' "$log" | sed 's/^/  /' || true
echo "training KL (quantized student vs F32 teacher, per batch): first step ${first#KL }, last step ${last#KL }; $rate"
printf '%-16s %10s %8s %9s %11s %9s\n' file mean_kld top1_% ppl bytes recovery
for r in "${rows[@]}"; do
  read -r name kld top1 ppl bytes <<<"$r"
  rec=-
  [[ -n $ref && $name != ptq_best_* ]] && rec=$(awk -v q="$kld" -v p="$ref" 'BEGIN { printf "%.3f", 1 - q / p }')
  printf '%-16s %10s %8s %9s %11s %9s\n' "$name" "$kld" "$top1" "$ppl" "$bytes" "$rec"
done
grep '^distill: fake quantization took' "$log" | sed 's/^/  /' || true
echo "llama-perplexity -nr on $qat.gguf ($chunks chunks): PPL $llama_ppl"
echo "recovery = 1 − KLD / KLD(ptq_best): the share of the best PTQ's KLD the file wins back (target >= 0.75)"
