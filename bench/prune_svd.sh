#!/usr/bin/env bash
# shrink prune --method svd: file size and quality against parameters removed by low-rank factors
# (issue 9, low rank), plain SVD and calibration-whitened SVD (SVD-LLM), on one F32 base.
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32`; its log-probs on
#     WikiText-2 valid (--ctx 512, --chunks) saved once; its parameter count from `shrink inspect`.
#  2. For each fraction in --removed: `shrink prune --method svd --target-params (1 − f)·total`, the
#     ranks chosen greedily by singular-value energy, factors written F32; plain, and whitened with
#     the input Grams over tinyshakespeare (--calib-chunks chunks of 512, not the evaluation text).
#  3. Every output scored by one evaluator, `shrink perplexity --kl-divergence` against the base
#     log-probs, on the first --score-chunks of them (PPL(Q), mean KLD, top-1 agreement); file size.
#  4. The llama.cpp peer: llama-perplexity runs the base on --llama-chunks chunks beside shrink's PPL
#     over as many, and is given one factored file: it must refuse it (llama.cpp has no low-rank
#     tensors; `shrink inspect` says so).
#
# Usage: bench/prune_svd.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                           [--score-chunks N] [--llama-chunks N] [--calib-chunks N]
#                           [--removed "0.25 0.5 0.1"] [--no-whiten]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder; the base is
#        ~540 MB for SmolLM2 and every output at most as large)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=20
threads=$(nproc)
score_chunks=
llama_chunks=4
calib_chunks=8
removed="0.25 0.5 0.1"
whiten=1
source bench/common.sh
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--score-chunks N] [--llama-chunks N] [--calib-chunks N] [--removed \"F...\"] [--no-whiten]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --calib-chunks) calib_chunks="$2"; shift 2 ;;
    --score-chunks) score_chunks="$2"; shift 2 ;;
    --llama-chunks) llama_chunks="$2"; shift 2 ;;
    --removed) removed="$2"; shift 2 ;;
    --no-whiten) whiten=0; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup --text --peer
score_chunks="${score_chunks:-$chunks}"
calib="$shared/data/tinyshakespeare/input.txt"
require_file "$calib" "the shared/ folder beside the repository"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); load $load_before; work $work" >&2

if [[ ! -f "$work/base.gguf" ]]; then
  echo "== base: $model -> F32" >&2
  "$shrink" quantize "$model" "$work/base.gguf" --type F32 --threads "$threads" >"$work/base.txt" 2>&1
fi
if [[ ! -f "$work/base.logits" || "$(cat "$work/base.chunks" 2>/dev/null || echo 0)" != "$chunks" ]]; then
  echo "== base log-probs ($chunks chunks)" >&2
  nice "$shrink" perplexity -m "$work/base.gguf" -f "$text" --ctx 512 --chunks "$chunks" \
    --threads "$threads" --save-logits "$work/base.logits" >"$work/base_ppl.txt" 2>&1
  echo "$chunks" >"$work/base.chunks"
fi
ppl_base=$(final "$work/base_ppl.txt")
size_base=$(stat -c %s "$work/base.gguf")
total=$("$shrink" inspect "$work/base.gguf" | sed -n 's/^total: .* bytes (.*), \([0-9]*\) parameters.*/\1/p')
[[ -n "$total" ]] || { echo "no parameter count from shrink inspect" >&2; exit 1; }

score() {
  nice "$shrink" perplexity -m "$work/$1.gguf" --kl-divergence "$work/base.logits" \
    --chunks "$score_chunks" --threads "$threads" >"$work/$1.kld" 2>&1 || { echo "perplexity failed on $1 (see $work/$1.kld)" >&2; exit 1; }
  echo "$(field "$work/$1.kld" "Mean PPL(Q) ") $(field "$work/$1.kld" "Mean    KLD") $(field "$work/$1.kld" "Same top p")"
}
prune() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  nice "$shrink" prune "$work/base.gguf" "$work/$name.gguf" --method svd --threads "$threads" --explain "$@" \
    >"$work/$name.txt" 2>&1 || { echo "prune failed: $* (see $work/$name.txt)" >&2; tail -3 "$work/$name.txt" >&2; exit 1; }
  t1=$(date +%s.%N)
  printf '%.1f' "$(echo "$t1 - $t0" | bc)"
}

rows=()
kinds=(plain)
[[ $whiten == 1 ]] && kinds+=(whitened)
first=""
for f in $removed; do
  target=$(echo "$total * (1 - $f) / 1" | bc)
  for kind in "${kinds[@]}"; do
    name="svd_${kind}_$f"
    echo "== $kind, $f of $total parameters removed (target $target)" >&2
    extra=()
    [[ $kind == whitened ]] && extra=(--calibration "$calib" --chunks "$calib_chunks" --ctx 512)
    secs=$(prune "$name" --target-params "$target" "${extra[@]}")
    size=$(stat -c %s "$work/$name.gguf")
    params=$("$shrink" inspect "$work/$name.gguf" | sed -n 's/^total: .* bytes (.*), \([0-9]*\) parameters.*/\1/p')
    factored=$(grep -c ' energy ' "$work/$name.txt" || true)
    read -r ppl kld top <<<"$(score "$name")"
    rows+=("| $kind | $(echo "$f * 100" | bc | sed 's/\.0*$//')% | $params | $factored | $size | $(echo "scale=3; $size / $size_base" | bc) | $ppl | $kld | $top | $secs |")
    echo "${rows[-1]}" | tee -a "$work/rows.md" >&2
    [[ -z "$first" ]] && first="$name" || rm -f "$work/$name.gguf"
  done
done

echo "== llama.cpp peer: the base, and a factored file ($first)" >&2
"$bin/llama-perplexity" -nr -m "$work/base.gguf" -f "$text" -c 512 -t "$threads" --chunks "$llama_chunks" \
  >"$work/base.llama_ppl" 2>&1 || { echo "llama-perplexity failed on the base" >&2; exit 1; }
if "$bin/llama-perplexity" -nr -m "$work/$first.gguf" -f "$text" -c 512 -t "$threads" --chunks 1 \
  >"$work/$first.llama_ppl" 2>&1; then
  refused="llama.cpp LOADED $first (unexpected)"
else
  refused="llama.cpp refuses $first: $(grep -m1 -o "missing tensor[^,]*" "$work/$first.llama_ppl" || tail -1 "$work/$first.llama_ppl")"
fi
runtimes=$("$shrink" inspect "$work/$first.gguf" | grep '^runtimes:')

echo
echo "shrink prune --method svd on $(basename "$model") as F32 (base PPL $ppl_base, $total parameters, $size_base bytes):"
echo "WikiText-2 valid, $score_chunks chunks of 512 (base log-probs over $chunks); whitening calibration: tinyshakespeare, $calib_chunks chunks of 512."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| SVD | params removed | params | linears factored | file bytes | of base | PPL(Q) | mean KLD | top-1 % | prune s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
shrink_at=$(grep -o "\[$llama_chunks\][0-9.]*" "$work/base_ppl.txt" | head -1 | sed "s/^\[$llama_chunks\]//")
echo "base over $llama_chunks chunks: shrink PPL $shrink_at, llama-perplexity PPL $(final "$work/base.llama_ppl")"
echo "$refused"
echo "shrink inspect: $runtimes"
