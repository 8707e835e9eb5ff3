#!/usr/bin/env bash
# CLI test of `shrink tokenize`: output in llama-tokenize's two formats on the cached models, and
# one-line errors with exit status 1. Expected outputs were printed by llama.cpp's llama-tokenize
# (bench/peers/llama_cpp.sh builds it) with the command shown beside each.
# Usage: tokenize_test.sh SHRINK_BINARY
# Exit status 77 (skipped) when neither cached model is present.
set -u
shrink=$1
cache="${SHRINK_CACHE:-$HOME/.cache/shrink}"
smollm2="$cache/models/smollm2-135m-instruct-q4_1.gguf"
gemma="$cache/models/gemma-3-270m-q4_k_m.gguf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error WORD ARGS...: status 1 and one stderr line "shrink: error: ..." containing WORD.
expect_error() {
  local word=$1; shift
  "$shrink" tokenize "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "tokenize $*: exit status $rc, expected 1"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "tokenize $*: stderr is not one line: $(cat "$work/err")"
  grep -q "^shrink: error: .*$word" "$work/err" || fail "tokenize $*: stderr lacks '$word': $(cat "$work/err")"
}

# expect_output EXPECTED ARGS...: status 0 and exactly EXPECTED on stdout.
expect_output() {
  local expected=$1; shift
  if "$shrink" tokenize "$@" >"$work/out" 2>"$work/err"; then
    [ "$(cat "$work/out")" == "$expected" ] ||
      fail "tokenize $*: got '$(cat "$work/out")', expected '$expected'"
  else
    fail "tokenize $*: exit status $?, stderr: $(cat "$work/err")"
  fi
}

expect_error "cannot open" -m "$work/absent.gguf" -p "x"
printf 'not a gguf file' >"$work/text.gguf"
expect_error "text.gguf" -m "$work/text.gguf" -p "x"

ran=0
if [ -f "$smollm2" ]; then
  ran=1
  expect_error "needs -f FILE or -p TEXT" -m "$smollm2"
  expect_error "cannot open" -m "$smollm2" -f "$work/absent.txt"
  # llama-tokenize -m smollm2-135m-instruct-q4_1.gguf -p 'Hello world' --ids --log-disable
  expect_output "[19556, 905]" -m "$smollm2" -p "Hello world" --ids
  # llama-tokenize -m smollm2-135m-instruct-q4_1.gguf -p '<|im_start|>user\nHi<|im_end|>' --log-disable
  expect_output "     1 -> '<|im_start|>'
  4093 -> 'user'
   198 -> '
'
 26843 -> 'Hi'
     2 -> '<|im_end|>'" -m "$smollm2" -p $'<|im_start|>user\nHi<|im_end|>'
else
  echo "skipped: $smollm2 is absent (scripts/fetch-models gets it)"
fi

if [ -f "$gemma" ]; then
  ran=1
  # llama-tokenize -m gemma-3-270m-q4_k_m.gguf -p '<start_of_turn>user\nHi<end_of_turn>' --ids --log-disable
  expect_output "[2, 105, 2364, 107, 10979, 106]" -m "$gemma" -p $'<start_of_turn>user\nHi<end_of_turn>' --ids
  # ... the same with --no-bos --no-parse-special
  expect_output "[236820, 3041, 236779, 1340, 236779, 887, 236813, 2364, 107, 10979, 236820, 643, 236779, 1340, 236779, 887, 236813]" \
    -m "$gemma" -p $'<start_of_turn>user\nHi<end_of_turn>' --ids --no-bos --no-parse-special
  # A file is read verbatim: its trailing newline is token 107.
  # llama-tokenize -m gemma-3-270m-q4_k_m.gguf -f FILE --ids --log-disable (FILE: "line one\n")
  printf 'line one\n' >"$work/line.txt"
  expect_output "[2, 1257, 886, 107]" -m "$gemma" -f "$work/line.txt" --ids
  # llama-tokenize -m gemma-3-270m-q4_k_m.gguf -p 'Hi <start_of_turn>' --log-disable --show-count
  expect_output "     2 -> '<bos>'
 10979 -> 'Hi'
236743 -> ' '
   105 -> '<start_of_turn>'
Total number of tokens: 4" -m "$gemma" -p "Hi <start_of_turn>" --show-count
else
  echo "skipped: $gemma is absent (the Gemma-3-270M Q4_K_M GGUF in \$SHRINK_CACHE/models)"
fi

[ "$failures" -eq 0 ] || exit 1
[ "$ran" -eq 1 ] || exit 77
echo "tokenize_test: all checks passed"
