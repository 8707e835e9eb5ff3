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
while [[ $# -gt 0 ]]; do
  case "$1" in
    --chunks) chunks="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --model) model_arg="$2"; shift 2 ;;
    *) echo "usage: $0 [--chunks N] [--baseline REV] [--model smollm2|gemma3-270m|PATH]" >&2; exit 2 ;;
  esac
done
cache="${SHRINK_CACHE:-$HOME/.cache/shrink}"
case "$model_arg" in
  smollm2) model="$cache/models/smollm2-135m-instruct-q4_1.gguf" ;;
  gemma3-270m) model="$cache/models/gemma-3-270m-q4_k_m.gguf" ;;
  *) model="$model_arg" ;;
esac
text="${SHARED:-../shared}/data/wikitext-2/valid.txt"
[[ -f "$model" ]] || { echo "missing $model: run scripts/fetch-models" >&2; exit 1; }
[[ -f "$text" ]] || { echo "missing $text" >&2; exit 1; }
shrink="${SHRINK_BIN:-build/release/src/cli/shrink}"
[[ -x "$shrink" ]] || { cmake --preset release >&2 && cmake --build build/release --target shrink >&2; }

measure() {  # measure LABEL BINARY: prints label, PPL line, peak RSS and wall time
  local out
  out=$(/usr/bin/time -v "$2" perplexity -m "$model" -f "$text" --ctx 512 --chunks "$chunks" 2>&1)
  printf '%-28s peak RSS %8d KB   wall %s   %s\n' "$1" \
    "$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<< "$out")" \
    "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' <<< "$out")" \
    "$(grep -o 'Final estimate: PPL = [0-9.]*' <<< "$out" || true)"
}

echo "# $(basename "$model"), $chunks chunks of 512; CPU: $(lscpu | sed -n 's/^Model name: *//p'); $(date -u +%F)"
if [[ -n "$baseline" ]]; then
  wt=$(mktemp -d)
  trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
  git worktree add -q --detach "$wt" "$baseline"
  (cd "$wt" && cmake --preset release >/dev/null && cmake --build build/release --target shrink >/dev/null)
  measure "baseline $(git rev-parse --short "$baseline")" "$wt/build/release/src/cli/shrink"
fi
measure "this build $(git rev-parse --short HEAD)" "$shrink"
