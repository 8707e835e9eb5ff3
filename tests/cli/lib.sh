# Sourced by tests/cli/*.sh: failure counting and the house-style error checks ("shrink: error: ..." on
# exactly one stderr line, exit status 1). The sourcing script sets `shrink` (the binary) and `work` (a
# scratch folder) first; run_shrink leaves the last run's output in $work/out and $work/err.

failures=0
skipped=0

# fail MESSAGE...: records a failure (the script goes on; finish exits 1).
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run_shrink ARG...: runs shrink ARG... (stdout to $work/out, stderr to $work/err); sets rc.
run_shrink() {
  "$shrink" "$@" >"$work/out" 2>"$work/err"
  rc=$?
}

# is_one_line_error: after run_shrink, true when it exited 1 with exactly one stderr line starting
# "shrink: error: ".
is_one_line_error() {
  [ "$rc" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^shrink: error: " "$work/err"
}

# expect_one_line_error NAME ARG...: runs shrink ARG...; on anything but a one-line error with status 1,
# records a failure naming NAME (with the start of stderr) and returns 1.
expect_one_line_error() {
  local name=$1
  shift
  run_shrink "$@"
  is_one_line_error && return 0
  fail "$name: exit status $rc and $(wc -l <"$work/err") stderr lines, expected 1 and one 'shrink: error: ' line:"
  head -c 1000 "$work/err"
  return 1
}

# expect_stderr_has NAME WORD...: records a failure for each WORD not in the last run's stderr.
expect_stderr_has() {
  local name=$1 word
  shift
  for word in "$@"; do
    grep -qF -- "$word" "$work/err" || fail "$name: stderr lacks '$word': $(head -c 600 "$work/err")"
  done
}

# finish NAME: exit 1 on any failure, 77 (ctest's skip) when a part was skipped, else a pass line.
finish() {
  [ "$failures" -eq 0 ] || exit 1
  [ "$skipped" -eq 0 ] || exit 77
  echo "$1: all checks passed"
}
