#!/usr/bin/env bash
# Quantization-aware training vs post-training quantization (issue 10 item 5), SmolLM2-135M into Q4_0.
#
#  1. The base: the model dequantized to F32 (`shrink quantize --type F32`); its log-probs on
#     WikiText-2 valid (--ctx 512, --chunks) are the reference every KLD is measured against.
#  2. PTQ: `shrink quantize base --type T`, and with --imatrix (shrink imatrix on the training text,
#     --imatrix-chunks chunks of 512).
#  3. QAT: `shrink train -m base --quantize T` on tinyshakespeare (cross-entropy only: --steps
#     steps of --batch × --seq tokens), the forward pass fake-quantized to T's grid; the output file
#     holds that grid.
#  4. Controls: the same training without --quantize (F32 output), then PTQ of that to T, so that the
#     effect of training on Shakespeare (drift from the base) is told apart from the effect of
#     training against the grid.
#  5. shrink perplexity --kl-divergence of every file against the base's log-probs: mean KLD, top-1
#     agreement, PPL. Also llama-perplexity -nr on the QAT file (stock llama.cpp loads it) when the peer
#     is built.
# Quality figures do not depend on the machine's load; the training wall time does.
#
# Usage: bench/qat.sh [--model smollm2|PATH] [--type Q4_0] [--steps N] [--batch N] [--seq N]
#                     [--lr X] [--chunks N] [--imatrix-chunks N] [--threads N]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder; files already
#        there from an earlier run with the same settings are reused: base.gguf, base.logits, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
type=Q4_0
steps=16
batch=4
seq=256
lr=1e-4
chunks=10
imatrix_chunks=20
threads=2
usage="usage: $0 [--model smollm2|PATH] [--type T] [--steps N] [--batch N] [--seq N] [--lr X] [--chunks N] [--imatrix-chunks N] [--threads N]"
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --type) type="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --seq) seq="$2"; shift 2 ;;
    --lr) lr="$2"; shift 2 ;;
    --imatrix-chunks) imatrix_chunks="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done

model=$(model_path "$model_arg")
eval_text="$shared/data/wikitext-2/valid.txt"
train_text="$shared/data/tinyshakespeare/input.txt"
require_file "$model" "run scripts/fetch-models"
require_file "$eval_text" "the shared/ folder beside the repository"
require_file "$train_text" "the shared/ folder beside the repository"
shrink=$(realpath "$(shrink_binary)")
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $(load_average); work $work" >&2

# once FILE cmd...: runs cmd (output to FILE.log) unless FILE exists from an earlier run.
once() {
  local file="$1"; shift
  [[ -s "$file" ]] && { echo "   (reusing $file)" >&2; return 0; }
  "$@" >"$file.log" 2>&1 || { echo "failed: $* (see $file.log)" >&2; tail -3 "$file.log" >&2; exit 1; }
}

echo "== base: F32, log-probs of $chunks chunks of WikiText-2 valid" >&2
once "$work/base.gguf" "$shrink" quantize "$model" "$work/base.gguf" --type F32 --threads "$threads"
once "$work/base.logits" "$shrink" perplexity -m "$work/base.gguf" -f "$eval_text" --ctx 512 \
  --chunks "$chunks" --threads "$threads" --save-logits "$work/base.logits"

echo "== PTQ $type, and with an imatrix of $imatrix_chunks chunks of the training text" >&2
once "$work/ptq.gguf" "$shrink" quantize "$work/base.gguf" "$work/ptq.gguf" --type "$type" \
  --threads "$threads"
once "$work/train.imatrix.gguf" "$shrink" imatrix -m "$work/base.gguf" -f "$train_text" \
  -o "$work/train.imatrix.gguf" --ctx 512 --chunks "$imatrix_chunks" --threads "$threads"
once "$work/ptq_imatrix.gguf" "$shrink" quantize "$work/base.gguf" "$work/ptq_imatrix.gguf" \
  --type "$type" --imatrix "$work/train.imatrix.gguf" --threads "$threads"

train_flags=(--data "$train_text" --steps "$steps" --batch "$batch" --seq "$seq" --lr "$lr"
             --warmup $((steps / 10)) --threads "$threads" --log-every 1)
tokens=$((steps * batch * seq))
echo "== QAT: shrink train --quantize $type, $steps steps × $batch × $seq = $tokens tokens" >&2
once "$work/qat.gguf" "$shrink" train -m "$work/base.gguf" "${train_flags[@]}" --quantize "$type" \
  --out "$work/qat.gguf"
echo "== control: the same training in F32, then PTQ $type" >&2
once "$work/ft.gguf" "$shrink" train -m "$work/base.gguf" "${train_flags[@]}" --out "$work/ft.gguf"
once "$work/ft_ptq.gguf" "$shrink" quantize "$work/ft.gguf" "$work/ft_ptq.gguf" --type "$type" \
  --threads "$threads"

rows=()
for name in ptq ptq_imatrix qat ft ft_ptq; do
  f="$work/$name.kld"
  if [[ ! -s "$f" ]]; then
    "$shrink" perplexity -m "$work/$name.gguf" --kl-divergence "$work/base.logits" \
      --threads "$threads" >"$f.tmp" 2>&1 || { echo "failed: KLD of $name (see $f.tmp)" >&2; exit 1; }
    mv "$f.tmp" "$f"
  fi
  rows+=("$(printf '%-12s %10s %10s %9s %12s' "$name" "$(field "$f" "Mean    KLD")" \
    "$(field "$f" "Same top p")" "$(field "$f" "Mean PPL(Q) ")" "$(stat -c %s "$work/$name.gguf")")")
done
first_loss=$(grep -m1 '^train: step' "$work/qat.gguf.log" | grep -o 'loss [0-9.]*' || true)
last_loss=$(grep '^train: step' "$work/qat.gguf.log" | tail -1 | grep -o 'loss [0-9.]*' || true)
rate=$(grep '^train: step' "$work/qat.gguf.log" | tail -1 | grep -o '[0-9]* tokens/s' || true)

echo
echo "QAT vs PTQ: $(basename "$model") F32 base -> $type; KLD against the base on $chunks chunks of 512 of WikiText-2 valid"
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load $(load_average)"
echo "training: tinyshakespeare, $steps steps × $batch × $seq = $tokens tokens, lr $lr (warmup $((steps / 10)), cosine), cross-entropy only"
echo "QAT training loss (quantized forward): first step ${first_loss#loss }, last step ${last_loss#loss }; $rate"
printf '%-12s %10s %10s %9s %12s\n' file mean_kld top1_% ppl bytes
printf '%s\n' "${rows[@]}"
echo "ptq: shrink quantize --type $type; ptq_imatrix: with --imatrix ($imatrix_chunks chunks of tinyshakespeare);"
echo "qat: shrink train --quantize $type; ft: the same training without --quantize (F32); ft_ptq: ft then quantize --type $type"
