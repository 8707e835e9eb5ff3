#!/usr/bin/env bash
# Peak resident memory of `shrink generate` against issue 8's bound: the model file's size plus the
# KV cache plus 64 MiB. Greedy generation of -n tokens after a short prompt, on 2 threads, with an F32
# and an F16 KV cache. The KV cache term is an upper bound computed from the file's metadata:
# block_count × 2 (keys, values) × (prompt tokens + n) × head_count_kv × head dimension × element size,
# with the prompt counted as 16 tokens (it has 4).
#
# Usage: bench/generate_peak_rss.sh [--models "smollm2 gemma3-270m PATH..."] [-n 128]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

models="smollm2 gemma3-270m"
n=128
source bench/common.sh
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    *) echo "usage: $0 [--models \"M...\"] [-n N]" >&2; exit 2 ;;
  esac
done
shrink=$(shrink_binary)
prompt="Once upon a time"
prompt_tokens=16

# meta FILE KEY_SUFFIX: the scalar value of the first metadata key ending in KEY_SUFFIX, or empty.
meta() { "$shrink" inspect "$1" | awk -v k="$2" '!done && $1 ~ ("\\." k "$") && NF == 3 {print $3; done = 1}'; }

echo "# shrink generate peak RSS vs file + KV cache + 64 MiB; CPU: $(cpu_model); $(date -u '+%Y-%m-%d %H:%M UTC'); -n $n"
printf '| %-36s | %-3s | %10s | %12s | %10s | %10s | %s |\n' file kv "file MiB" "KV bound MiB" "bound MiB" "RSS MiB" within
for m in $models; do
  file=$(model_path "$m")
  require_file "$file" "run scripts/fetch-models [gemma3-270m]"
  layers=$(meta "$file" block_count)
  kv_heads=$(meta "$file" attention.head_count_kv)
  head_dim=$(meta "$file" attention.key_length)
  if [[ -z "$head_dim" ]]; then
    head_dim=$(($(meta "$file" embedding_length) / $(meta "$file" attention.head_count)))
  fi
  [[ -n "$layers" && -n "$kv_heads" ]] || { echo "$file: no scalar block_count/head_count_kv (per-layer arrays are not handled here)" >&2; exit 1; }
  for kv in f32 f16; do
    elem=4
    [[ "$kv" == f16 ]] && elem=2
    kv_bytes=$((layers * 2 * (prompt_tokens + n) * kv_heads * head_dim * elem))
    file_bytes=$(stat -c %s "$file")
    out=$(/usr/bin/time -v "$shrink" generate -m "$file" -p "$prompt" -n "$n" --temp 0 --kv-type "$kv" -t 2 2>&1)
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<<"$out")
    bound=$((file_bytes + kv_bytes + 64 * 1024 * 1024))
    within=yes
    ((rss_kb * 1024 <= bound)) || within=NO
    awk -v f="$(basename "$file")" -v kv="$kv" -v fb="$file_bytes" -v kb="$kv_bytes" -v b="$bound" \
      -v r="$rss_kb" -v w="$within" 'BEGIN {
        M = 1048576
        printf "| %-36s | %-3s | %10.1f | %12.1f | %10.1f | %10.1f | %s |\n", f, kv, fb / M, kb / M, b / M, r * 1024 / M, w
      }'
  done
done
