#!/usr/bin/env bash
# shrink perplexity vs llama-perplexity on SmolLM2-135M-Instruct (Q4_1, as shipped), WikiText-2 valid,
# ctx 512: PPL of both, KLD/top-1 both ways (shrink against llama's base, llama against shrink's base),
# times, and the targets: PPL within 0.5%, mean KLD < 0.001, top-1 >= 99.5%.
#
# Usage: bench/perplexity_vs_llama_cpp.sh [--chunks N] [--threads N]
# Env:   SHRINK_BIN (default build/release/src/cli/shrink, built with the release preset if absent),
#        SHRINK_CACHE (default ~/.cache/shrink), SHARED (default ../shared), WORK (default a temp folder;
#        base files are ~98 KB per scored token: 25 MB per chunk, 12+ GB for the full text)
set -euo pipefail
cd "$(dirname "$0")/.."

chunks=-1
threads=$(nproc)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --chunks) chunks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "usage: $0 [--chunks N] [--threads N]" >&2; exit 2 ;;
  esac
done

cache="${SHRINK_CACHE:-$HOME/.cache/shrink}"
shared="${SHARED:-$(cd .. && pwd)/shared}"
model="$cache/models/smollm2-135m-instruct-q4_1.gguf"
text="$shared/data/wikitext-2/valid.txt"
[[ -f "$model" ]] || { echo "missing $model: run scripts/fetch-models" >&2; exit 1; }
[[ -f "$text" ]] || { echo "missing $text (the shared/ folder beside the repository)" >&2; exit 1; }

bin="$(bench/peers/llama_cpp.sh | tail -n 1)"
shrink="${SHRINK_BIN:-build/release/src/cli/shrink}"
if [[ ! -x "$shrink" ]]; then
  cmake --preset release >&2 && cmake --build build/release --target shrink >&2
fi
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
chunk_args=()
[[ "$chunks" -ge 0 ]] && chunk_args=(--chunks "$chunks")

# -nr: this llama.cpp build dies of SIGILL in its AMX kernels on VMs whose kernel does not enable AMX
# tiles; -nr (no repacking / extra buffer types) uses the plain CPU kernels.
llama=("$bin/llama-perplexity" -m "$model" -c 512 -t "$threads" -nr)

timed() {  # timed OUTFILE cmd...: runs cmd with stdout+stderr to OUTFILE, prints wall seconds
  local out="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$out" 2>&1 || { echo "failed: $* (see $out)" >&2; tail -5 "$out" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

echo "== llama-perplexity (base: $work/llama.logits)" >&2
t_llama=$(timed "$work/llama_ppl.txt" "${llama[@]}" -f "$text" "${chunk_args[@]}" --kl-divergence-base "$work/llama.logits")
echo "== shrink perplexity (base: $work/shrink.logits)" >&2
t_shrink=$(timed "$work/shrink_ppl.txt" "$shrink" perplexity -m "$model" -f "$text" --ctx 512 --threads "$threads" "${chunk_args[@]}" --save-logits "$work/shrink.logits")
echo "== shrink --kl-divergence against llama's base" >&2
t_kld_s=$(timed "$work/shrink_kld.txt" "$shrink" perplexity -m "$model" -f "$text" --threads "$threads" --kl-divergence "$work/llama.logits")
echo "== llama-perplexity --kl-divergence against shrink's base" >&2
t_kld_l=$(timed "$work/llama_kld.txt" "${llama[@]}" --kl-divergence-base "$work/shrink.logits" --kl-divergence)

final() { grep -o "Final estimate: PPL = [0-9.]* +/- [0-9.]*" "$1" | tail -1 | awk '{print $5, $7}'; }
field() { grep "$2" "$1" | tail -1 | sed 's/.*: *//' | awk '{print $1}' | tr -d '%'; }
read -r ppl_llama err_llama <<< "$(final "$work/llama_ppl.txt")"
read -r ppl_shrink err_shrink <<< "$(final "$work/shrink_ppl.txt")"
n_chunk=$(grep -o "calculating perplexity over [0-9]* chunks" "$work/shrink_ppl.txt" | awk '{print $4}')
kld_s=$(field "$work/shrink_kld.txt" "Mean    KLD")
top_s=$(field "$work/shrink_kld.txt" "Same top p")
rms_s=$(field "$work/shrink_kld.txt" "RMS Δp")
kld_l=$(field "$work/llama_kld.txt" "Mean    KLD")
top_l=$(field "$work/llama_kld.txt" "Same top p")
rms_l=$(field "$work/llama_kld.txt" "RMS Δp")
ratio=$(echo "scale=6; $ppl_shrink / $ppl_llama" | bc)

check() { if [[ $(echo "$1" | bc) -eq 1 ]]; then echo met; else echo MISSED; fi; }
ppl_ok=$(check "($ratio - 1) < 0.005 && (1 - $ratio) < 0.005")
kld_ok=$(check "$kld_s < 0.001 && $kld_l < 0.001")
top_ok=$(check "$top_s >= 99.5 && $top_l >= 99.5")

cat <<REPORT
chunks (ctx 512)           : $n_chunk
PPL llama-perplexity       : $ppl_llama +/- $err_llama   (${t_llama} s)
PPL shrink                 : $ppl_shrink +/- $err_shrink   (${t_shrink} s)
PPL ratio shrink/llama     : $ratio   [within 0.5%: $ppl_ok]
shrink vs llama base       : KLD $kld_s, top-1 $top_s %, RMS dp $rms_s %   (${t_kld_s} s)
llama vs shrink base       : KLD $kld_l, top-1 $top_l %, RMS dp $rms_l %   (${t_kld_l} s)
targets                    : KLD < 0.001: $kld_ok; top-1 >= 99.5%: $top_ok
outputs                    : $work
REPORT
