# Sourced by tests/cli/prune*_test.sh after lib.sh, with the shared folder as its argument
# (source prune_lib.sh "$SHARED_DIR"): the stories260K set-up every prune test starts from, and the
# bad-input check they share. Sets model (stories260K.bin), tok (tok512.bin), text (the first 20,000
# bytes of tinyshakespeare, in $work) and out ($work/out.gguf); exits 77 (ctest's skip) when the
# model is absent.

prune_models="$1/models/stories260K"
if [[ ! -f "$prune_models/stories260K.bin" || ! -f "$prune_models/tok512.bin" ]]; then
  echo "skipped: $prune_models/stories260K.bin or tok512.bin is absent"
  exit 77
fi
model="$prune_models/stories260K.bin"
tok="$prune_models/tok512.bin"
text="$work/text.txt"
head -c 20000 "$1/data/tinyshakespeare/input.txt" >"$text"
out="$work/out.gguf"

# expect_error NAME 'WORD|...' ARG...: `shrink prune ARG...` exits 1 with one stderr line holding each
# WORD, and leaves no $out.
expect_error() {
  local name=$1 words=$2
  shift 2
  rm -f "$out"
  expect_one_line_error "$name" prune "$@" || return
  local IFS='|'
  # shellcheck disable=SC2086
  expect_stderr_has "$name" $words
  [ ! -e "$out" ] || fail "$name: an output file was written"
}
