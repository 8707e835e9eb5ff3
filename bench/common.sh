# Sourced by the bench/ scripts (from the repository root): where models, texts, shrink and the llama.cpp
# peer are, and a timer. Env: SHRINK_CACHE (default ~/.cache/shrink), SHARED (default ../shared),
# SHRINK_BIN (default build/release/src/cli/shrink, built with the release preset when absent).

cache="${SHRINK_CACHE:-$HOME/.cache/shrink}"
shared="${SHARED:-$(cd .. && pwd)/shared}"

# model_path NAME: the cached file of a scripts/fetch-models name (smollm2, gemma3-270m), else NAME itself.
model_path() {
  case "$1" in
    smollm2) echo "$cache/models/smollm2-135m-instruct-q4_1.gguf" ;;
    gemma3-270m) echo "$cache/models/gemma-3-270m-q4_k_m.gguf" ;;
    *) echo "$1" ;;
  esac
}

# require_file PATH HINT: exits with a message naming PATH when it is absent.
require_file() { [[ -f "$1" ]] || { echo "missing $1: $2" >&2; exit 1; }; }

# shrink_binary: the shrink to measure, built when absent.
shrink_binary() {
  local shrink="${SHRINK_BIN:-build/release/src/cli/shrink}"
  if [[ ! -x "$shrink" ]]; then
    cmake --preset release >&2 && cmake --build build/release --target shrink >&2
  fi
  echo "$shrink"
}

# timed OUTFILE cmd...: runs cmd with stdout and stderr to OUTFILE, prints its wall seconds.
timed() {
  local out="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$out" 2>&1 || { echo "failed: $* (see $out)" >&2; tail -5 "$out" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

cpu_model() { lscpu | sed -n 's/^Model name: *//p'; }
