#!/usr/bin/env bash
# Peak resident memory of `shrink perplexity` (SmolLM2-135M-Instruct Q4_1, WikiText-2, ctx 512) for this
# build and, with --baseline REV, for the build of an earlier revision (built in a temporary worktree), so a
# change's memory cost is measured side by side in one run.
#
# Usage: bench/peak_rss.sh [--chunks N] [--baseline REV] [--model smollm2|gemma3-270m|PATH]
# Env:   SHRINK_BIN (default build/release/src/cli/shrink), SHRINK_CACHE, SHARED (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."

chunks=4
baseline=""
model_arg=smollm2
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    *) echo "usage: $0 [--chunks N] [--baseline REV] [--model smollm2|gemma3-270m|PATH]" >&2; exit 2 ;;
  esac
done
bench_setup --text

measure() {  # measure LABEL BINARY: prints label, PPL line, peak RSS and wall time
  local out
  out=$(/usr/bin/time -v "$2" perplexity -m "$model" -f "$text" --ctx 512 --chunks "$chunks" 2>&1)
  printf '%-28s peak RSS %8d KB   wall %s   %s\n' "$1" \
    "$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<< "$out")" \
    "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' <<< "$out")" \
    "$(grep -o 'Final estimate: PPL = [0-9.]*' <<< "$out" || true)"
}

echo "# $(basename "$model"), $chunks chunks of 512; CPU: $(cpu_model); $(date -u +%F)"
if [[ -n "$baseline" ]]; then
  wt=$(mktemp -d)
  trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
  git worktree add -q --detach "$wt" "$baseline"
  (cd "$wt" && cmake --preset release >/dev/null && cmake --build build/release --target shrink >/dev/null)
  measure "baseline $(git rev-parse --short "$baseline")" "$wt/build/release/src/cli/shrink"
fi
measure "this build $(git rev-parse --short HEAD)" "$shrink"
