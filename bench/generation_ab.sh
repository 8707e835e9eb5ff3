#!/usr/bin/env bash
# Two shrink binaries (A: the baseline, e.g. a copy of main's; B: a branch's) on the same model files,
# interleaved A, B, A, B... so that the machine's load moves both alike: `shrink bench -p 0 -n N -t T
# -r R` generation tokens/s per thread count, the mean over rounds for each binary and the ratio B / A.
# For kernel changes that must not change results; the peer comparison is runtime_vs_llama_cpp.sh.
#
# Usage: bench/generation_ab.sh A_BIN B_BIN MODEL.gguf... [-n 128] [-t 1,2] [-r 3] [--rounds 3]
set -euo pipefail

gen=128
threads="1,2"
reps=3
rounds=3
bins=()
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) gen="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) if [[ ${#bins[@]} -lt 2 ]]; then bins+=("$1"); else models+=("$1"); fi; shift ;;
  esac
done
if [[ ${#bins[@]} -ne 2 || ${#models[@]} -eq 0 ]]; then
  echo "usage: $0 A_BIN B_BIN MODEL.gguf... [-n N] [-t T,T] [-r R] [--rounds K]" >&2
  exit 2
fi
for b in "${bins[@]}"; do [[ -x "$b" ]] || { echo "not an executable: $b" >&2; exit 2; }; done
for m in "${models[@]}"; do [[ -f "$m" ]] || { echo "no model file: $m" >&2; exit 2; }; done

echo "# $(date -u '+%F %T UTC'); $(lscpu | sed -n 's/^Model name: *//p' | head -1); A=${bins[0]} B=${bins[1]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for m in "${models[@]}"; do
  for ((k = 1; k <= rounds; ++k)); do
    for side in A B; do
      bin=${bins[0]}
      [[ $side == B ]] && bin=${bins[1]}
      echo "# round $k $side $(basename "$m"): $(uptime | sed 's/.*load average/load average/')"
      # Rows: | model | size | params | backend | threads | tgN | mean ± sd |
      "$bin" bench -m "$m" -p 0 -n "$gen" -t "$threads" -r "$reps" |
        awk -F'|' -v side="$side" -v model="$(basename "$m")" '$7 ~ /tg/ {
            split($8, v, "±"); gsub(/ /, "", $6); gsub(/ /, "", $7);
            printf "%s %s %s %s %.2f\n", model, side, $6, $7, v[1] }' | tee -a "$log"
    done
  done
done
echo
echo "| model | threads | test | A t/s | B t/s | B / A |"
echo "|---|---:|---|---:|---:|---:|"
awk '{ key = $1 " " $3 " " $4; s[key, $2] += $5; n[key, $2]++; keys[key] = 1 }
     END { for (k in keys) { a = s[k, "A"] / n[k, "A"]; b = s[k, "B"] / n[k, "B"];
             split(k, f, " "); printf "| %s | %s | %s | %.1f | %.1f | %.3f |\n", f[1], f[2], f[3], a, b, b / a } }' \
  "$log" | sort
