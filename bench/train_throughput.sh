#!/usr/bin/env bash
# Training throughput (issue 10): forward + backward + AdamW tokens/s of `shrink train` on the
# SmolLM2-135M shape (the cached SmolLM2-135M-Instruct, dequantized to F32 master weights) at
# batch 4 × 256 tokens, with peak resident memory; the steady-state rate is the last progress
# line's (the first step includes warm-up of OpenBLAS's buffers).
#
# shrink alone; bench/train_vs_pytorch.sh runs PyTorch (eager and torch.compile) side by side on
# the same model in the same run and prints the ratio.
#
# Usage: bench/train_throughput.sh [--threads N] [--steps N] [--model smollm2|PATH]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED, WORK (as bench/common.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2
steps=4
model_arg=smollm2
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--steps N] [--model smollm2|PATH]" >&2; exit 2 ;;
  esac
done
bench_setup --text

echo "# shrink train: $(basename "$model"), batch 4 × 256, $steps steps, $threads threads;" \
  "CPU: $(cpu_model); $(date -u +%F)"
out=$(/usr/bin/time -v "$shrink" train -m "$model" --data "$text" --steps "$steps" --batch 4 \
  --seq 256 --lr 1e-4 --warmup 1 --threads "$threads" --out "$work/trained.gguf" 2>&1)
grep '^train: step' <<< "$out"
rate=$(grep '^train: step' <<< "$out" | tail -n 1 | grep -o '[0-9]* tokens/s')
# Steady state: tokens of steps 2..N over their time, from the first and last progress lines.
printf 'shrink  %s (mean over all steps)   peak RSS %s KB   wall %s\n' "$rate" \
  "$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<< "$out")" \
  "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' <<< "$out")"
echo "PyTorch side by side: bench/train_vs_pytorch.sh"
