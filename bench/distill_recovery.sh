#!/usr/bin/env bash
# Recovery of a depth-pruned SmolLM2-135M (issue 10, "Recovery"): distillation from the full model vs
# the same student trained with cross-entropy only, on the same training tokens.
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on
#     WikiText-2 valid (ctx 512, --chunks N) are the reference every KLD below is measured against.
#  2. The student: `shrink prune --drop-layers D` (the D blocks of least residual influence over the
#     calibration text; SmolLM2 has 30 blocks of 3.54M parameters, 26% of its 134.5M at D = 10).
#  3. Training text: tinyshakespeare (never the evaluation text), its last 10% held out for the
#     validation lines of `shrink distill`. Both runs see the same tokens in the same order (same
#     --seed, --batch, --seq, steps):
#       distilled: shrink distill --teacher base --student pruned --tokens N (α·τ²·KL + (1−α)·CE)
#       ce-only:   shrink train -m pruned --steps N / (batch·seq) (cross-entropy only)
#  4. Quality of base, pruned, distilled and ce-only: shrink perplexity --kl-divergence against the
#     base's log-probs (PPL, mean KLD, top-1 agreement); llama-perplexity -nr (the peer) runs the
#     distilled file on 2 chunks to show stock llama.cpp loads and runs it.
#
# Usage: bench/distill_recovery.sh [--model smollm2|PATH] [--chunks N] [--threads N] [--tokens N]
#                                  [--drop-layers D] [--alpha A] [--temperature T] [--lr LR]
#                                  [--seq N] [--batch N]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder; ~1.4 GB)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=10
threads=$(nproc)
tokens=131072
drop=10
alpha=0.5
temperature=2
lr=2e-4
batch=4
seq=256
source bench/common.sh
usage="usage: $0 [--model M] [--chunks N] [--threads N] [--tokens N] [--drop-layers D] [--alpha A] [--temperature T] [--lr LR] [--seq N] [--batch N]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  [[ $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }
  case "$1" in
    --tokens) tokens="$2" ;;
    --drop-layers) drop="$2" ;;
    --alpha) alpha="$2" ;;
    --temperature) temperature="$2" ;;
    --lr) lr="$2" ;;
    --seq) seq="$2" ;;
    --batch) batch="$2" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift 2
done
bench_setup --text --peer
calib="$shared/data/tinyshakespeare/input.txt"
require_file "$calib" "the shared/ folder beside the repository"
lines=$(wc -l <"$calib")
head -n $((lines * 9 / 10)) "$calib" >"$work/train.txt"
tail -n +$((lines * 9 / 10 + 1)) "$calib" >"$work/heldout.txt"
steps=$(( (tokens + batch * seq - 1) / (batch * seq) ))

echo "== $(cpu_model); load $(load_average); $(date -u +%FT%TZ)" >&2
make_base "$threads"
base_logits "$chunks" "$threads"

echo "== prune: drop $drop layers" >&2
[[ -f "$work/pruned.gguf" ]] || "$shrink" prune "$work/base.gguf" "$work/pruned.gguf" --drop-layers "$drop" \
  --calibration "$work/train.txt" --chunks 8 --threads "$threads" >"$work/prune.txt" 2>&1

train_flags=(--batch "$batch" --seq "$seq" --lr "$lr" --warmup $((steps / 10)) --seed 1
             --threads "$threads" --log-every 1)
echo "== distill: $tokens tokens ($steps steps of $batch x $seq), alpha $alpha, temperature $temperature" >&2
t_distill=$(timed "$work/distill.txt" "$shrink" distill --teacher "$work/base.gguf" \
  --student "$work/pruned.gguf" --data "$work/train.txt" --tokens "$tokens" --out "$work/distilled.gguf" \
  --alpha "$alpha" --temperature "$temperature" --val-data "$work/heldout.txt" --val-windows 2 \
  --val-every $((steps / 2 > 0 ? steps / 2 : 1)) "${train_flags[@]}")
echo "== cross-entropy only: $steps steps" >&2
t_ce=$(timed "$work/ce.txt" "$shrink" train -m "$work/pruned.gguf" --data "$work/train.txt" \
  --steps "$steps" --out "$work/ce_only.gguf" "${train_flags[@]}")

echo "== quality (WikiText-2 valid, ctx 512, $chunks chunks, KLD vs the F32 base)" >&2
read -r kld_pruned top_pruned ppl_pruned <<<"$(kld_of "$work/pruned.gguf" "$threads")"
read -r kld_distilled top_distilled ppl_distilled <<<"$(kld_of "$work/distilled.gguf" "$threads")"
read -r kld_ce top_ce ppl_ce <<<"$(kld_of "$work/ce_only.gguf" "$threads")"
"$bin/llama-perplexity" -nr -m "$work/distilled.gguf" -f "$text" -c 512 --chunks 2 -t "$threads" \
  >"$work/llama_distilled.txt" 2>&1 || { echo "llama-perplexity failed on distilled.gguf" >&2; exit 1; }
llama_ppl=$(final "$work/llama_distilled.txt")
shrink_ppl2=$("$shrink" perplexity -m "$work/distilled.gguf" -f "$text" --ctx 512 --chunks 2 \
  --threads "$threads" 2>&1 | grep -o "Final estimate: PPL = [0-9.]*" | awk '{print $5}')

params() { grep -o "[0-9.]*M params" "$1" | head -1; }
echo
echo "distill recovery: $(cpu_model), $(date -u +%F), load $(load_average)"
echo "student: base minus $drop of 30 blocks; $tokens training tokens ($steps steps of $batch x $seq), lr $lr"
printf "%-22s %10s %10s %8s\n" model PPL "mean KLD" "top-1 %"
printf "%-22s %10s %10s %8s\n" "base (F32)" "$ppl_base" 0 100
printf "%-22s %10s %10s %8s\n" "pruned" "$ppl_pruned" "$kld_pruned" "$top_pruned"
printf "%-22s %10s %10s %8s\n" "distilled (a=$alpha,T=$temperature)" "$ppl_distilled" "$kld_distilled" "$top_distilled"
printf "%-22s %10s %10s %8s\n" "ce-only" "$ppl_ce" "$kld_ce" "$top_ce"
echo "wall: distill ${t_distill}s, ce-only ${t_ce}s"
grep "tokens/s" "$work/distill.txt" | tail -1
grep "tokens/s" "$work/ce.txt" | tail -1
echo "llama-perplexity -nr runs distilled.gguf: PPL $llama_ppl on 2 chunks (shrink perplexity: $shrink_ppl2)"
