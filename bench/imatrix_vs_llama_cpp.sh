#!/usr/bin/env bash
# shrink imatrix vs llama-imatrix on the same F32 base, text and chunks (issue 7, "Importance matrix").
#
#  1. The base: the model dequantized to F32 by `shrink quantize --type F32` (llama.cpp then runs F32
#     matrix products, no quantized activations; SmolLM2's weights sit on its Q4_1 grid).
#  2. The calibration text (tinyshakespeare, not the evaluation text) through both tools: --ctx 512, the
#     same --chunks, GGUF output (llama-imatrix with --no-ppl, so neither computes perplexity); wall time
#     and peak RSS from /usr/bin/time -v, and the speed ratio llama / shrink.
#  3. Both files read by gguf-py: the same tensor names and counts, and the relative difference of the
#     per-column means of x² (max, 99th percentile, median); llama.cpp keeps K/V in F16, so about 1e-3
#     is expected (docs/numerics.md).
#  4. Files move both ways: llama-quantize --imatrix takes shrink's GGUF and .dat files, and
#     shrink quantize --imatrix takes llama-imatrix's (a Q4_0 of the base each time).
#  5. The same imatrix (llama-imatrix's) in both quantizers: for each of --types, shrink quantize
#     --imatrix and llama-quantize --imatrix write files of equal size, compared tensor by tensor
#     (gguf-py, by name: type and bytes).
#
# Usage: bench/imatrix_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N]
#                                      [--types "Q4_0 Q4_K_M Q2_K Q3_K_M"]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder; the base is
#        ~540 MB for SmolLM2)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=10
threads=$(nproc)
types="Q4_0 Q4_K_M Q2_K Q3_K_M"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model_arg="$2"; shift 2 ;;
    --chunks) chunks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    *) echo "usage: $0 [--model smollm2|gemma3-270m|PATH] [--chunks N] [--threads N] [--types \"T...\"]" >&2; exit 2 ;;
  esac
done

source bench/common.sh
model=$(model_path "$model_arg")
text="$shared/data/tinyshakespeare/input.txt"
require_file "$model" "run scripts/fetch-models"
require_file "$text" "the shared/ folder beside the repository"
bin="$(bench/peers/llama_cpp.sh | tail -n 1)"
shrink=$(realpath "$(shrink_binary)")
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); work $work" >&2


echo "== base: $model -> F32" >&2
"$shrink" quantize "$model" "$work/base.gguf" --type F32 --threads "$threads" >"$work/base.txt" 2>&1
cp "$text" "$work/calibration.txt"  # the same dataset name in both files

echo "== shrink imatrix ($chunks chunks of 512)" >&2
read -r t_s rss_s <<<"$(cd "$work" && measured "$work/shrink_imatrix.time" "$shrink" imatrix \
  -m base.gguf -f calibration.txt -o shrink.imatrix.gguf --ctx 512 --chunks "$chunks" --threads "$threads")"
echo "== llama-imatrix ($chunks chunks of 512)" >&2
read -r t_l rss_l <<<"$(cd "$work" && measured "$work/llama_imatrix.time" "$bin/llama-imatrix" \
  -m base.gguf -f calibration.txt -o llama.imatrix.gguf --ctx-size 512 --chunks "$chunks" --no-ppl \
  -t "$threads")"

echo "== values" >&2
python3 - "$work/shrink.imatrix.gguf" "$work/llama.imatrix.gguf" >"$work/compare.txt" <<'EOF'
import sys
import numpy as np
import gguf

def means(path):
    r = gguf.GGUFReader(path)
    t = {x.name: np.array(x.data, dtype=np.float64) for x in r.tensors}
    names = sorted(n[:-len(".in_sum2")] for n in t if n.endswith(".in_sum2"))
    return {n: (t[n + ".in_sum2"] / t[n + ".counts"][0], float(t[n + ".counts"][0])) for n in names}

s, l = means(sys.argv[1]), means(sys.argv[2])
assert sorted(s) == sorted(l), "tensor names differ"
assert all(s[n][1] == l[n][1] for n in s), "row counts differ"
rel = np.concatenate([np.abs(s[n][0] - l[n][0]) / np.maximum(l[n][0], 1e-30) for n in l])
worst = max(l, key=lambda n: float(np.max(np.abs(s[n][0] - l[n][0]) / np.maximum(l[n][0], 1e-30))))
print(f"{len(l)} tensors, {rel.size} columns, counts equal; relative difference of mean x^2: "
      f"max {rel.max():.3g} ({worst}), p99 {np.percentile(rel, 99):.3g}, median {np.median(rel):.3g}")
EOF

echo "== files both ways" >&2
"$shrink" imatrix -m "$work/base.gguf" -f "$work/calibration.txt" -o "$work/shrink.imatrix.dat" \
  --ctx 512 --chunks 1 --threads "$threads" >/dev/null 2>&1
moves=()
for f in shrink.imatrix.gguf shrink.imatrix.dat; do
  "$bin/llama-quantize" --imatrix "$work/$f" "$work/base.gguf" "$work/lq.gguf" Q4_0 "$threads" \
    >"$work/lq_$f.txt" 2>&1 || { echo "llama-quantize rejects $f (see $work/lq_$f.txt)" >&2; exit 1; }
  moves+=("llama-quantize takes $f: $(grep -o 'loaded [0-9]* importance matrix entries' "$work/lq_$f.txt")")
done
"$shrink" quantize "$work/base.gguf" "$work/sq.gguf" --type Q4_0 --imatrix "$work/llama.imatrix.gguf" \
  >"$work/sq.txt" 2>&1 || { echo "shrink quantize rejects llama.imatrix.gguf (see $work/sq.txt)" >&2; exit 1; }
moves+=("shrink quantize takes llama.imatrix.gguf: $(grep -o 'imatrix .*entries' "$work/sq.txt" | head -1)")

echo "== the same imatrix in both quantizers: $types" >&2
same=()
for type in $types; do
  "$shrink" quantize "$work/base.gguf" "$work/s_$type.gguf" --type "$type" --threads "$threads" \
    --imatrix "$work/llama.imatrix.gguf" >"$work/s_$type.txt" 2>&1 ||
    { same+=("$type: shrink quantize failed: $(tail -1 "$work/s_$type.txt")"); continue; }
  "$bin/llama-quantize" --imatrix "$work/llama.imatrix.gguf" "$work/base.gguf" "$work/l_$type.gguf" \
    "$type" "$threads" >"$work/l_$type.txt" 2>&1 || { echo "llama-quantize $type failed" >&2; exit 1; }
  verdict=$(python3 - "$work/s_$type.gguf" "$work/l_$type.gguf" <<'EOF'
import sys
import gguf
a = {t.name: t for t in gguf.GGUFReader(sys.argv[1]).tensors}
b = {t.name: t for t in gguf.GGUFReader(sys.argv[2]).tensors}
assert sorted(a) == sorted(b), "tensor names differ"
d = [n for n in a if a[n].tensor_type != b[n].tensor_type or a[n].data.tobytes() != b[n].data.tobytes()]
print(f"{len(a)} tensors, {len(d)} differ in type or bytes" + (f" (first {d[0]})" if d else ""))
EOF
  )
  same+=("$type: $(stat -c %s "$work/s_$type.gguf") / $(stat -c %s "$work/l_$type.gguf") bytes; $verdict")
  rm -f "$work/s_$type.gguf" "$work/l_$type.gguf"
done

echo
echo "shrink imatrix vs llama-imatrix: $(basename "$model") as F32, $chunks chunks of 512 tokens of tinyshakespeare"
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F)"
printf '%-16s %10s %12s\n' tool wall_s peak_rss_mb
printf '%-16s %10s %12s\n' "shrink imatrix" "$t_s" "$rss_s"
printf '%-16s %10s %12s\n' "llama-imatrix" "$t_l" "$rss_l"
echo "speed ratio (llama wall / shrink wall): $(echo "scale=2; $t_l / $t_s" | bc)"
cat "$work/compare.txt"
printf '%s\n' "${moves[@]}"
echo "shrink quantize --imatrix vs llama-quantize --imatrix (llama-imatrix's file; shrink's size / llama's):"
printf '  %s\n' "${same[@]}"
