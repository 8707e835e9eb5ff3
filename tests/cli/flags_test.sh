#!/usr/bin/env bash
# Flag errors in the house style (issue 6): every bad flag, value or argument gives exit status 1 and
# exactly one stderr line "shrink: error: <flag>: <what was expected>" (not CLI11's two-line messages
# with statuses 104-114); --help and --version still exit 0. Errors about empty or short text come
# before any progress line (so they too are the only stderr line).
# Usage: flags_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$1
models="$2/models/stories260K"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib.sh"

# expect_error 'LINE' ARG...: status 1 and stderr exactly LINE (one line).
expect_error() {
  local want=$1
  shift
  expect_one_line_error "shrink $*" "$@" || { echo "expected: $want"; return; }
  [ "$(cat "$work/err")" = "$want" ] ||
    fail "shrink $*: stderr '$(cat "$work/err")', expected '$want'"
}

# expect_error_prefix 'PREFIX' ARG...: as expect_error, for a line that starts with PREFIX (the list of
# commands grows).
expect_error_prefix() {
  local want=$1 got
  shift
  expect_one_line_error "shrink $*" "$@" || { echo "expected a line starting: $want"; return; }
  got=$(cat "$work/err")
  [ "${got#"$want"}" != "$got" ] || fail "shrink $*: stderr '$got', expected a line starting '$want'"
}

# None of these reach the model file: flags are checked first.
m=/nonexistent/model.bin
p=(perplexity -m "$m" -f /nonexistent/text.txt)
g=(generate -m "$m")
expect_error 'shrink: error: --ctx: expected an integer from 4 to 1048576, got "0"' "${p[@]}" --ctx 0
expect_error 'shrink: error: --ctx: expected an integer from 4 to 1048576, got "abc"' "${p[@]}" --ctx abc
expect_error 'shrink: error: --ctx: expected an integer from 4 to 1048576, got "512x"' "${p[@]}" --ctx=512x
expect_error 'shrink: error: --ctx: expected an integer from 4 to 1048576, got "99999999999999999999"' \
  "${p[@]}" --ctx 99999999999999999999
expect_error 'shrink: error: --ctx: expected a value after it' "${p[@]}" --ctx
expect_error 'shrink: error: --chunks: expected an integer from 1 to 2147483647, got "-1"' "${p[@]}" --chunks -1
expect_error 'shrink: error: --chunks: expected an integer from 1 to 2147483647, got "0"' "${p[@]}" --chunks 0
expect_error 'shrink: error: --threads: expected an integer from 1 to 1024, got "0"' "${p[@]}" --threads 0
expect_error 'shrink: error: --n-predict: expected an integer from 0 to 2147483647, got "2147483648"' \
  "${g[@]}" -n 2147483648
expect_error 'shrink: error: --n-predict: expected an integer from 0 to 2147483647, got "-5"' "${g[@]}" -n -5
expect_error 'shrink: error: --temp: expected a finite number >= 0, got "nan"' "${g[@]}" --temp nan
expect_error 'shrink: error: --temp: expected a finite number >= 0, got "inf"' "${g[@]}" --temp inf
expect_error 'shrink: error: --temp: expected a finite number >= 0, got "-0.5"' "${g[@]}" --temp -0.5
expect_error 'shrink: error: --temp: expected a finite number >= 0, got "1e39"' "${g[@]}" --temp 1e39
expect_error 'shrink: error: --top-p: expected a finite number in (0, 1], got "NaN"' "${g[@]}" --top-p NaN
expect_error 'shrink: error: --top-p: expected a finite number in (0, 1], got "0"' "${g[@]}" --top-p 0
expect_error 'shrink: error: --seed: expected an integer from 0 to 18446744073709551615, got "-1"' \
  "${g[@]}" --seed -1
expect_error 'shrink: error: --threads: expected an integer from 0 to 1024, got "1e3"' "${g[@]}" -t 1e3
expect_error 'shrink: error: --foo: unknown flag (shrink perplexity --help lists the flags)' \
  "${p[@]}" --foo
expect_error 'shrink: error: "extra": unexpected argument (shrink generate --help lists the arguments)' \
  "${g[@]}" extra
expect_error 'shrink: error: --model: required (shrink generate --help)' generate -n 3
expect_error 'shrink: error: --save-logits: cannot be used with --kl-divergence' \
  "${p[@]}" --save-logits a --kl-divergence b
expect_error 'shrink: error: --chat: cannot read the value "maybe"' "${g[@]}" --chat=maybe
b=(bench -m "$m")
expect_error 'shrink: error: --n-prompt: expected an integer from 0 to 1048576, got "abc"' "${b[@]}" -p abc
expect_error 'shrink: error: --n-prompt: expected an integer from 0 to 1048576, got "x"' "${b[@]}" -p 512,x
expect_error 'shrink: error: --threads: expected an integer from 1 to 1024, got "0"' "${b[@]}" -t 1,0
expect_error 'shrink: error: --repetitions: expected an integer from 1 to 1000, got "0"' "${b[@]}" -r 0
# A bad SHRINK_CPU (kernels/cpu_target.h) is a flag-like error before any work; the choices depend
# on the CPU and always end with the scalar path.
SHRINK_CPU=avx9 expect_error_prefix 'shrink: error: SHRINK_CPU=avx9: unknown target (choices: ' "${b[@]}"
grep -q 'scalar)$' "$work/err" || fail "SHRINK_CPU=avx9: the choices do not end with scalar: $(cat "$work/err")"
expect_error_prefix 'shrink: error: expected a command: inspect, generate, perplexity'
expect_error_prefix 'shrink: error: "frobnicate": unknown command, expected one of inspect, generate, perplexity' \
  frobnicate
expect_error 'shrink: error: --bogus: unknown flag (shrink --help lists the commands and flags)' --bogus
expect_error 'shrink: error: file: required (shrink inspect --help)' inspect

for args in "--help" "--version" "perplexity --help" "generate --help" "inspect --help"; do
  # shellcheck disable=SC2086
  "$shrink" $args >"$work/out" 2>"$work/err" || fail "shrink $args: status $?"
  [ -s "$work/out" ] || fail "shrink $args printed nothing"
done

if [[ -f "$models/stories260K.bin" && -f "$models/tok512.bin" ]]; then
  s=(perplexity -m "$models/stories260K.bin" --tokenizer "$models/tok512.bin")
  : >"$work/empty.txt"
  expect_error "shrink: error: $work/empty.txt: the text is empty; perplexity needs at least 2 × --ctx tokens" \
    "${s[@]}" -f "$work/empty.txt"
  echo "Once upon a time" >"$work/short.txt"
  expect_error "shrink: error: $work/short.txt: the text tokenizes to only 5 tokens; a context of 512 needs at least 1024 (2 × ctx)" \
    "${s[@]}" -f "$work/short.txt"
else
  echo "skipped: the text checks need $models/stories260K.bin and tok512.bin"
  skipped=1
fi

finish flags_test
