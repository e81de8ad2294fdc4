# Shared helpers of the command-line test scripts (sourced, not run):
#   cli_tmp NAME            make $tmp (removed on exit) under $NCMP_TEST_TMPDIR or /tmp
#   ok / bad MESSAGE        count a passed / failed check
#   expect CODE WHAT -- CMD...   run CMD (stdout+stderr to $tmp/out), check its exit code
#   contains TEXT           check that $tmp/out contains TEXT
#   no_crash_report WHAT    check that $tmp/out holds no sanitizer, crash or allocator report
#   skip WHY                a check that cannot run here (missing dependency)
#   idx_images FILE N SIZE  write N deterministic SIZE x SIZE grey images as an IDX file
#   cli_summary NAME        print the counts; status 1 if anything failed, else 77 (ctest: Skipped)
#                           if anything was skipped, else 0
pass=0 fail=0 skipped=0
cli_tmp() {
  tmp=$(mktemp -d "${NCMP_TEST_TMPDIR:-/tmp}/$1.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
}
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() {
  local code=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>&1; local got=$?
  if [ "$got" -eq "$code" ]; then ok; else bad "$what: exit $got, expected $code"; sed 's/^/    /' "$tmp/out" >&2; fi
}
contains() { if grep -qF -- "$1" "$tmp/out"; then ok; else bad "output lacks '$1'"; sed 's/^/    /' "$tmp/out" >&2; fi; }
no_crash_report() {
  if grep -qE "Sanitizer|runtime error|Segmentation fault|core dumped|Aborted|double free|malloc\(\)" "$tmp/out"; then
    bad "$1: crash or sanitizer report"; sed 's/^/    /' "$tmp/out" | head -30 >&2
  else ok; fi
}
skip() { skipped=$((skipped + 1)); echo "SKIPPED: $*" >&2; }
cli_summary() {
  echo "$1: $pass passed, $fail failed, $skipped skipped"
  [ "$fail" -eq 0 ] || return 1
  [ "$skipped" -eq 0 ] || return 77
}
be32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
idx_images() {
  { printf '\x00\x00\x08\x03'; be32 "$2"; be32 "$3"; be32 "$3"; seq 1 1000000 | head -c $(($2 * $3 * $3)); } >"$1"
}
