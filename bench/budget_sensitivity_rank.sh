#!/usr/bin/env bash
# Does the size budget's cheap proxy rank tensors like the real thing? (issue 7 item 6)
#
#  1. The F32 base (shrink quantize --type F32; SmolLM2's weights sit on its Q4_1 grid) and an imatrix of
#     it from tinyshakespeare (shrink imatrix --process-output, so the tied output matrix is weighed too).
#  2. The proxy of every matrix and candidate type: shrink quantize --dry-run --target-bpw 16
#     --sensitivity-tsv (Σ imp·(w−ŵ)², quant/sensitivity.h).
#  3. For a sample of (tensor, type) pairs, the real loss: the base with ONLY that tensor quantized
#     (shrink quantize --type F32 --tensor-type NAME=TYPE), scored by shrink perplexity --kl-divergence
#     against the base's log-probs on WikiText-2 valid (ctx 512, --chunks N).
#  4. Spearman rank correlation of proxy vs KLD over the sample, and within each type.
#
# Usage: bench/budget_sensitivity_rank.sh [--model smollm2|PATH] [--chunks N] [--imatrix-chunks N]
#                                         [--threads N] [--layers "0 7 15 23 29"] [--types "Q4_0 Q2_K"]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED, WORK (bench/common.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
chunks=4
imatrix_chunks=20
threads=$(nproc)
layers="0 10 20 29"
types="Q4_0 Q2_K"
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --imatrix-chunks) imatrix_chunks="$2"; shift 2 ;;
    --layers) layers="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    *) echo "usage: $0 [--model smollm2|PATH] [--chunks N] [--imatrix-chunks N] [--threads N] [--layers \"L...\"] [--types \"T...\"]" >&2; exit 2 ;;
  esac
done
bench_setup --text
calib="$shared/data/tinyshakespeare/input.txt"
echo "model: $model; CPU: $(cpu_model); threads $threads; $(date -u +%F); work $work" >&2

make_base "$threads"
base_logits "$chunks" "$threads"
if [[ ! -f "$work/shrink.imatrix.gguf" ]]; then
  echo "== shrink imatrix ($imatrix_chunks chunks of tinyshakespeare)" >&2
  "$shrink" imatrix -m "$work/base.gguf" -f "$calib" -o "$work/shrink.imatrix.gguf" --ctx 512 \
    --chunks "$imatrix_chunks" --process-output --threads "$threads" >"$work/imatrix.txt" 2>&1
fi
echo "== proxy of every matrix and type" >&2
"$shrink" quantize "$work/base.gguf" --dry-run --target-bpw 16 --imatrix "$work/shrink.imatrix.gguf" \
  --sensitivity-tsv "$work/proxy.tsv" --threads "$threads" >"$work/proxy.txt" 2>&1

# The sample: token_embd (the tied output) and every matrix of the chosen layers, at each type that
# fits its rows.
names="token_embd.weight"
for l in $layers; do
  for r in attn_q attn_k attn_v attn_output ffn_gate ffn_up ffn_down; do names+=" blk.$l.$r.weight"; done
done
: >"$work/sample.tsv"
for name in $names; do
  for type in $types; do
    proxy=$(awk -F'\t' -v n="$name" -v t="$type" '$1 == n && $6 == t { print $8 }' "$work/proxy.tsv")
    [[ -n "$proxy" ]] || continue  # the type does not fit the rows (k-quants need a multiple of 256)
    out="$work/one.gguf"
    "$shrink" quantize "$work/base.gguf" "$out" --type F32 --tensor-type "$name=$type" \
      --threads "$threads" >"$work/one.txt" 2>&1 || { echo "quantize failed: $name=$type" >&2; exit 1; }
    read -r kld top1 ppl <<<"$(kld_of "$out" "$threads")"
    echo "$name=$type: proxy $proxy, KLD $kld" >&2
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$type" "$proxy" "$kld" "$top1" >>"$work/sample.tsv"
  done
done
rm -f "$work/one.gguf"

echo
echo "Proxy vs KLD: $(basename "$model") F32 base, one tensor quantized at a time; KLD over $chunks chunks"
echo "of 512 of WikiText-2 valid (PPL(base) $ppl_base); imatrix: $imatrix_chunks chunks of tinyshakespeare."
echo "CPU: $(cpu_model); threads $threads; $(date -u +%F); load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/sample.tsv" <<'EOF2'
import sys
import numpy as np

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]

def ranks(v):
    v = np.asarray(v, dtype=float)
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(len(v))
    for x in np.unique(v):  # ties share their mean rank
        m = v == x
        r[m] = r[m].mean()
    return r

def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])

print("| tensor | type | proxy | KLD | top-1 % |")
print("|---|---|---|---|---|")
for n, t, p, k, top in sorted(rows, key=lambda r: -float(r[3])):
    print(f"| {n} | {t} | {float(p):.4g} | {float(k):.6f} | {top} |")
proxy = [float(r[2]) for r in rows]
kld = [float(r[3]) for r in rows]
print(f"\nSpearman rank correlation, proxy vs KLD, all {len(rows)} pairs: {spearman(proxy, kld):.3f}")
for t in sorted({r[1] for r in rows}):
    sub = [r for r in rows if r[1] == t]
    if len(sub) > 2:
        print(f"  within {t} ({len(sub)} tensors): "
              f"{spearman([float(r[2]) for r in sub], [float(r[3]) for r in sub]):.3f}")
EOF2
echo "outputs: $work"
