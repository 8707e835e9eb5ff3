#!/usr/bin/env bash
# The teacher cache of `shrink distill` (issue 10: "optionally its top-k logits are cached to disk and
# reused across runs"): distillation throughput without a cache, while writing one, and reading it; the
# cache's bytes per token; and what the top-k loss costs in quality against the full-vocabulary KL.
#
#  Teacher: the model file as shipped (SmolLM2-135M Q4_1: a quantized teacher runs in-process). Student:
#  `--student-config layers=L` (L of the teacher's blocks, its weights selected), F32. Training text: the
#  first 90% of tinyshakespeare; validation: its last 10% (--val-windows windows, at step 0 and the end).
#  Three runs with the same seed, order, steps and threads:
#    full:  the full-vocabulary loss (α·τ²·KL + (1−α)·CE), the teacher run for every window (the baseline);
#    write: --teacher-top-k K --teacher-cache FILE on a fresh FILE (teacher run, top-k kept and appended);
#    read:  the same command again (every window read from FILE; the teacher runs only for validation).
#  tokens/s is shrink's progress line at the last step (it includes the step-0 validation, the same in
#  every run); "wall" the whole command (loading, validation and writing the output included). The write
#  and read runs must write byte-identical outputs (checked). The final validation KLD (full vocabulary,
#  τ = 1, vs the teacher) compares the top-K loss with the full one after the same steps.
#
# Usage: bench/distill_teacher_cache.sh [--model smollm2|PATH] [--threads N] [--tokens N] [--seq N]
#                                       [--batch N] [--k K] [--layers L] [--val-windows N]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
threads=2
tokens=2048
seq=128
batch=2
k=64
layers=10
val_windows=2
source bench/common.sh
usage="usage: $0 [--model M] [--threads N] [--tokens N] [--seq N] [--batch N] [--k K] [--layers L] [--val-windows N]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  [[ $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }
  case "$1" in
    --tokens) tokens="$2" ;;
    --seq) seq="$2" ;;
    --batch) batch="$2" ;;
    --k) k="$2" ;;
    --layers) layers="$2" ;;
    --val-windows) val_windows="$2" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift 2
done
bench_setup
calib="$shared/data/tinyshakespeare/input.txt"
require_file "$calib" "the shared/ folder beside the repository"
lines=$(wc -l <"$calib")
head -n $((lines * 9 / 10)) "$calib" >"$work/train.txt"
tail -n +$((lines * 9 / 10 + 1)) "$calib" >"$work/heldout.txt"
steps=$(( (tokens + batch * seq - 1) / (batch * seq) ))
rm -f "$work/cache.tkc"

echo "== $(cpu_model); load $(load_average); $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
echo "== teacher $model; student --student-config layers=$layers; $steps steps of $batch x $seq," \
  "threads $threads"
flags=(distill --teacher "$model" --student-config "layers=$layers" --data "$work/train.txt"
       --tokens "$tokens" --seq "$seq" --batch "$batch" --threads "$threads" --seed 1 --lr 2e-4
       --val-data "$work/heldout.txt" --val-windows "$val_windows" --val-every "$steps" --log-every 1)
wall_full=$(timed "$work/full.txt" "$shrink" "${flags[@]}" --out "$work/full.gguf")
topk=(--teacher-top-k "$k" --teacher-cache "$work/cache.tkc")
wall_write=$(timed "$work/write.txt" "$shrink" "${flags[@]}" "${topk[@]}" --out "$work/write.gguf")
wall_read=$(timed "$work/read.txt" "$shrink" "${flags[@]}" "${topk[@]}" --out "$work/read.gguf")
echo "== load after the runs: $(load_average)"

tps() { grep -o "step $steps/$steps .*| [0-9]* tokens/s" "$1" | grep -o "[0-9]* tokens/s" | awk '{print $1}'; }
kld() { grep "validation at step $steps:" "$1" | sed 's/.*KLD \([0-9.]*\).*/\1/'; }
cached=$(grep -o "[0-9]* windows read from the cache, [0-9]* run" "$work/read.txt")
bytes=$(stat -c %s "$work/cache.tkc")
windows=$(grep -o "of [0-9]* windows now cached" "$work/write.txt" | awk '{print $2}')
cached_windows=$(grep -o "([0-9]* of [0-9]* windows now cached" "$work/write.txt" | tr -d '(' | awk '{print $1}')
if cmp -s "$work/write.gguf" "$work/read.gguf"; then same=identical; else same=DIFFERENT; fi
t_full=$(tps "$work/full.txt"); t_write=$(tps "$work/write.txt"); t_read=$(tps "$work/read.txt")
printf '%-34s %12s %10s %10s %14s\n' run tokens/s ratio wall_s "final val KLD"
printf '%-34s %12s %10s %10.1f %14s\n' "full-vocabulary KL (no cache)" "$t_full" 1.00 "$wall_full" "$(kld "$work/full.txt")"
printf '%-34s %12s %10.2f %10.1f %14s\n' "top-$k, writing the cache" "$t_write" \
  "$(echo "scale=4; $t_write / $t_full" | bc)" "$wall_write" "$(kld "$work/write.txt")"
printf '%-34s %12s %10.2f %10.1f %14s\n' "top-$k, reading the cache" "$t_read" \
  "$(echo "scale=4; $t_read / $t_full" | bc)" "$wall_read" "$(kld "$work/read.txt")"
echo "cache: $bytes bytes for $cached_windows windows of $seq tokens ($(echo "scale=2; ($bytes - 96) / ($cached_windows * $seq)" | bc) bytes per token; $windows windows in the data)"
echo "read run: $cached"
echo "write and read outputs: $same"
