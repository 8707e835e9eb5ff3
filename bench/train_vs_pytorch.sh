#!/usr/bin/env bash
# Training throughput vs PyTorch (issue 10): forward + backward + AdamW tokens/s on the SmolLM2-135M
# shape at batch 4 × 256 tokens, shrink train against PyTorch from PyPI (CPU; eager and
# torch.compile) training the same model (the F32 base both load) on the same text, with the same
# thread count, in the same run, interleaved round by round so that load from other processes hits
# both sides alike. Prints per round and then the median of each side, the ratio shrink / torch and
# the peak resident memory of each (/usr/bin/time -v).
#
# Both sides: mean cross-entropy of batch × seq next-token targets, backward, global gradient-norm
# clip 1.0, AdamW (β 0.9/0.95, ε 1e-8, weight decay 0.1 on matrices only), lr 1e-4. The first
# --warm steps are not timed (OpenBLAS buffers, PyTorch's allocator, torch.compile's compilation);
# shrink's steady rate is the tokens of steps warm+1..warm+steps over the time between the
# progress lines (log every step) of steps warm and warm+steps, stamped as they arrive.
#
# PyTorch lives in a venv of its own (~/.cache/shrink/venvs/torch; created and filled from PyPI by
# this script when `import torch` fails there). The PyPI wheel is the default (CUDA) build, which
# is what `pip install torch` gives users; it runs on the CPU here.
#
# Usage: bench/train_vs_pytorch.sh [--threads N] [--steps N] [--warm N] [--rounds N] [--no-compile]
#                                  [--model smollm2|PATH]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED, WORK (as bench/common.sh), TORCH_VENV
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2
steps=4
warm=2
rounds=2
compile=1
model_arg=smollm2
source bench/common.sh
usage="usage: $0 [--threads N] [--steps N] [--warm N] [--rounds N] [--no-compile] [--model M]"
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warm) warm="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --no-compile) compile=0; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
bench_setup
text="$shared/data/tinyshakespeare/input.txt"
require_file "$text" "the shared/ folder beside the repository"

venv="${TORCH_VENV:-$cache/venvs/torch}"
if ! "$venv/bin/python" -c 'import torch, gguf, numpy' 2>/dev/null; then
  echo "== installing PyTorch from PyPI into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch numpy gguf >&2
fi
py="$venv/bin/python"

make_base "$threads"
"$shrink" tokenize -m "$work/base.gguf" -f "$text" --ids >"$work/ids.txt"

total=$((warm + steps))
tokens_per_step=$((4 * 256))
echo "# train vs PyTorch: $(basename "$model") as F32, batch 4 × 256, $warm warm-up + $steps timed" \
  "steps, $threads threads, $rounds rounds; CPU: $(cpu_model); $(date -u +%F); torch" \
  "$("$py" -c 'import torch; print(torch.__version__)'); load $(load_average)"

# peak_kb FILE: /usr/bin/time -v's peak resident set size.
peak_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

# stamped: prefixes each line of its input with the wall time it arrived (seconds since the epoch).
stamped() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done; }

# shrink_rate FILE: tokens/s of steps warm+1..total from the arrival times of the progress lines
# of step `warm` (or, without warm-up, the line printed as the loop starts) and step `total`
# (shrink's own rate is cumulative from step 1 and rounded to whole tokens/s).
shrink_rate() {
  awk -v w="$warm" -v n="$total" -v tok="$tokens_per_step" '
    $2 == "train:" && $4 == "steps" && $5 == "of" { t[0] = $1 }
    $2 == "train:" && $3 == "step" { split($4, s, "/"); t[s[1]] = $1 }
    END { printf "%.2f", (n - w) * tok / (t[n] - t[w]) }' "$1"
}

sides=(shrink eager)
[[ "$compile" == 1 ]] && sides+=(compile)
declare -A rates peaks
for ((r = 1; r <= rounds; ++r)); do
  for side in "${sides[@]}"; do
    out="$work/$side.$r.txt"
    case "$side" in
      shrink)
        /usr/bin/time -v "$shrink" train -m "$work/base.gguf" --data "$text" --steps "$total" \
          --batch 4 --seq 256 --lr 1e-4 --warmup 0 --min-lr-ratio 1 --weight-decay 0.1 --clip 1 \
          --threads "$threads" --log-every 1 --out "$work/trained.gguf" 2>&1 | stamped >"$out" \
          || { tail -5 "$out" >&2; exit 1; }
        rate=$(shrink_rate "$out") ;;
      eager | compile)
        flag=()
        [[ "$side" == compile ]] && flag=(--compile)
        if ! /usr/bin/time -v "$py" bench/peers/torch_train.py --base "$work/base.gguf" \
          --ids "$work/ids.txt" --batch 4 --seq 256 --threads "$threads" --warm "$warm" \
          --steps "$steps" "${flag[@]}" >"$out" 2>&1; then
          echo "torch $side failed (see $out):" >&2
          tail -3 "$out" >&2
          rate=failed
        else
          rate=$(sed -n "s/^torch $side: \([0-9.]*\) tokens\/s over.*/\1/p" "$out")
        fi ;;
    esac
    rates[$side]+="$rate "
    peaks[$side]+="$(peak_kb "$out") "
    printf 'round %d  %-8s %10s tokens/s   peak RSS %s KB   (load %s)\n' "$r" "$side" "$rate" \
      "$(peak_kb "$out")" "$(load_average)"
  done
done

median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
s_rate=$(median <<<"${rates[shrink]}")
s_peak=$(median <<<"${peaks[shrink]}")
echo "# medians over $rounds rounds (first-step loss: shrink $(grep -m1 'train: step' \
  "$work/shrink.1.txt" | awk '{print $6}'), torch $(grep -m1 'step 1 loss' "$work/eager.1.txt" \
  | awk '{print $6}'))"
printf '%-8s %10s tokens/s   peak RSS %8s KB\n' shrink "$s_rate" "$s_peak"
for side in "${sides[@]:1}"; do
  t_rate=$(median <<<"${rates[$side]}")
  t_peak=$(median <<<"${peaks[$side]}")
  if [[ "$t_rate" == n/a ]]; then
    printf '%-8s %10s\n' "$side" "failed"
    continue
  fi
  printf '%-8s %10s tokens/s   peak RSS %8s KB   shrink/torch-%s: %.2fx tokens/s, %.2fx peak RSS\n' \
    "$side" "$t_rate" "$t_peak" "$side" "$(echo "$s_rate / $t_rate" | bc -l)" \
    "$(echo "$s_peak / $t_peak" | bc -l)"
done
