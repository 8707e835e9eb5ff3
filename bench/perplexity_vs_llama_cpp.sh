#!/usr/bin/env bash
# shrink perplexity vs llama-perplexity on a GGUF model (default SmolLM2-135M-Instruct Q4_1 as shipped;
# --model gemma3-270m for Gemma-3-270M Q4_K_M as shipped), WikiText-2 valid, ctx 512: PPL of both, KLD/top-1 both ways (shrink against llama's base, llama against shrink's base),
# times, and the targets: PPL within 0.5%, mean KLD < 0.001, top-1 >= 99.5%.
#
# Runs: (1) llama-perplexity saving a KLD base; (2) shrink against that base (its PPL and KLD/top-1);
# (3) llama-perplexity with flash attention off against its own base: llama.cpp's own noise floor, what any
# implementation that is not bit-identical to ggml's kernels can expect; (4) shrink saving a base and
# (5) llama-perplexity against it (the reverse direction; --kld-chunks bounds runs 4-5, whose base file is big;
# run 3 covers every chunk of llama's base, since llama-perplexity's KLD mode ignores --chunks).
#
# --ppl-only runs just llama-perplexity and shrink perplexity (no base files: Gemma's 262,144-entry
# vocabulary makes them ~134 MB per chunk) and prints both PPLs, their ratio and both times.
#
# Usage: bench/perplexity_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--kld-chunks M]
#                                         [--threads N] [--ppl-only]
# Env:   SHRINK_BIN (default build/release/src/cli/shrink, built with the release preset if absent),
#        SHRINK_CACHE (default ~/.cache/shrink), SHARED (default ../shared), WORK (default a temp folder;
#        base files are ~98 KB per scored token: 25 MB per chunk, 12+ GB for the full text)
set -euo pipefail
cd "$(dirname "$0")/.."

chunks=-1
kld_chunks=""
threads=$(nproc)
model_arg=smollm2
ppl_only=0
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --ppl-only) ppl_only=1; shift ;;
    --kld-chunks) kld_chunks="$2"; shift 2 ;;
    *) echo "usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--kld-chunks M] [--threads N] [--ppl-only]" >&2; exit 2 ;;
  esac
done

bench_setup --text --peer
chunk_args=()
[[ "$chunks" -ge 0 ]] && chunk_args=(--chunks "$chunks")
kld_chunks="${kld_chunks:-$chunks}"
kld_chunk_args=()
[[ "$kld_chunks" -ge 0 ]] && kld_chunk_args=(--chunks "$kld_chunks")

# -nr: this llama.cpp build dies of SIGILL in its AMX kernels on VMs whose kernel does not enable AMX
# tiles; -nr (no repacking / extra buffer types) uses the plain CPU kernels.
llama=("$bin/llama-perplexity" -m "$model" -c 512 -t "$threads" -nr)


final() { grep -o "Final estimate: PPL = [0-9.]* +/- [0-9.]*" "$1" | tail -1 | awk '{print $5, $7}'; }
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F)" >&2

if [[ "$ppl_only" == 1 ]]; then
  echo "== 1. llama-perplexity" >&2
  t_llama=$(timed "$work/llama_ppl.txt" "${llama[@]}" -f "$text" "${chunk_args[@]}")
  echo "== 2. shrink perplexity" >&2
  t_shrink=$(timed "$work/shrink_ppl.txt" "$shrink" perplexity -m "$model" -f "$text" --ctx 512 --threads "$threads" "${chunk_args[@]}")
  read -r ppl_llama err_llama <<< "$(final "$work/llama_ppl.txt")"
  read -r ppl_shrink err_shrink <<< "$(final "$work/shrink_ppl.txt")"
  n_chunk=$(grep -o "calculating perplexity over [0-9]* chunks" "$work/llama_ppl.txt" | awk '{print $4}')
  ratio=$(echo "scale=6; $ppl_shrink / $ppl_llama" | bc)
  ok=$(if [[ $(echo "($ratio - 1) < 0.005 && (1 - $ratio) < 0.005" | bc) -eq 1 ]]; then echo met; else echo MISSED; fi)
  cat <<REPORT
model                                : $(basename "$model")
chunks (ctx 512)                     : $n_chunk
PPL llama-perplexity                 : $ppl_llama +/- $err_llama   (${t_llama} s)
PPL shrink                           : $ppl_shrink +/- $err_shrink   (${t_shrink} s)
PPL ratio shrink/llama               : $ratio   [within 0.5%: $ok]
speed shrink/llama (wall time ratio) : $(echo "scale=2; $t_llama / $t_shrink" | bc)x
outputs                              : $work
REPORT
  exit 0
fi

echo "== 1. llama-perplexity, saving its base ($work/llama.logits)" >&2
t_llama=$(timed "$work/llama_ppl.txt" "${llama[@]}" -f "$text" "${chunk_args[@]}" --kl-divergence-base "$work/llama.logits")
echo "== 2. shrink perplexity --kl-divergence against llama's base" >&2
t_kld_s=$(timed "$work/shrink_kld.txt" "$shrink" perplexity -m "$model" -f "$text" --threads "$threads" --kl-divergence "$work/llama.logits")
echo "== 3. llama.cpp's own noise floor: llama-perplexity -fa off against llama's base (all its chunks)" >&2
t_floor=$(timed "$work/llama_floor.txt" "${llama[@]}" -fa off --kl-divergence-base "$work/llama.logits" --kl-divergence)
echo "== 4. shrink perplexity, saving its base ($work/shrink.logits, $kld_chunks chunks)" >&2
t_shrink=$(timed "$work/shrink_ppl.txt" "$shrink" perplexity -m "$model" -f "$text" --ctx 512 --threads "$threads" "${kld_chunk_args[@]}" --save-logits "$work/shrink.logits")
echo "== 5. llama-perplexity --kl-divergence against shrink's base" >&2
t_kld_l=$(timed "$work/llama_kld.txt" "${llama[@]}" --kl-divergence-base "$work/shrink.logits" --kl-divergence)

field() { grep "$2" "$1" | tail -1 | sed 's/.*: *//' | awk '{print $1}' | tr -d '%'; }
read -r ppl_llama err_llama <<< "$(final "$work/llama_ppl.txt")"
read -r ppl_shrink err_shrink <<< "$(final "$work/shrink_kld.txt")"
n_chunk=$(grep -o "calculating perplexity over [0-9]* chunks" "$work/llama_ppl.txt" | awk '{print $4}')
kld_s=$(field "$work/shrink_kld.txt" "Mean    KLD")
top_s=$(field "$work/shrink_kld.txt" "Same top p")
rms_s=$(field "$work/shrink_kld.txt" "RMS Δp")
kld_l=$(field "$work/llama_kld.txt" "Mean    KLD")
top_l=$(field "$work/llama_kld.txt" "Same top p")
rms_l=$(field "$work/llama_kld.txt" "RMS Δp")
kld_f=$(field "$work/llama_floor.txt" "Mean    KLD")
top_f=$(field "$work/llama_floor.txt" "Same top p")
rms_f=$(field "$work/llama_floor.txt" "RMS Δp")
ratio=$(echo "scale=6; $ppl_shrink / $ppl_llama" | bc)

check() { if [[ $(echo "$1" | bc) -eq 1 ]]; then echo met; else echo MISSED; fi; }
ppl_ok=$(check "($ratio - 1) < 0.005 && (1 - $ratio) < 0.005")
kld_ok=$(check "$kld_s < 0.001 && $kld_l < 0.001")
top_ok=$(check "$top_s >= 99.5 && $top_l >= 99.5")

cat <<REPORT
chunks (ctx 512)                     : $n_chunk (runs 4-5: ${kld_chunks/#-1/all})
PPL llama-perplexity                 : $ppl_llama +/- $err_llama   (run 1: ${t_llama} s)
PPL shrink                           : $ppl_shrink +/- $err_shrink   (run 2: ${t_kld_s} s)
PPL ratio shrink/llama               : $ratio   [within 0.5%: $ppl_ok]
shrink vs llama base                 : KLD $kld_s, top-1 $top_s %, RMS dp $rms_s %
llama vs shrink base                 : KLD $kld_l, top-1 $top_l %, RMS dp $rms_l %   (runs 4+5: ${t_shrink} s + ${t_kld_l} s)
llama -fa off vs llama base (floor)  : KLD $kld_f, top-1 $top_f %, RMS dp $rms_f %   (run 3: ${t_floor} s)
targets                              : KLD < 0.001: $kld_ok; top-1 >= 99.5%: $top_ok
speed shrink/llama (run 1 / run 2)   : $(echo "scale=2; $t_llama / $t_kld_s" | bc)x   (llama writing its base vs shrink reading it; same chunks)
outputs                              : $work
REPORT
