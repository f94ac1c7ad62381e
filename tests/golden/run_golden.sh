#!/usr/bin/env bash
# Golden replay of one capture: runs the real rcptwatch binary on pcaps/NAME.pcap with the
# shipped rules and compares stdout with pcaps/expected/NAME.jsonl and the exit status with
# pcaps/expected/NAME.exit (0 when that file is absent); when pcaps/expected/NAME.stderr exists,
# stderr must contain each of its lines; pcaps/expected/NAME.args adds options to the run.
# Usage: run_golden.sh BINARY SOURCE_DIR NAME
set -u
binary=$1 src=$2 name=$3
pcap="$src/pcaps/$name.pcap"
expected="$src/pcaps/expected/$name.jsonl"
expected_exit=0
[ -f "$src/pcaps/expected/$name.exit" ] && expected_exit=$(cat "$src/pcaps/expected/$name.exit")
if [ ! -f "$expected" ]; then
  echo "FAIL: $pcap has no expected output ($expected); run scripts/update-golden and review it"
  exit 1
fi
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
# Extra options for this capture (e.g. --log-envelopes), one line, in pcaps/expected/NAME.args.
extra=()
[ -f "$src/pcaps/expected/$name.args" ] && read -r -a extra <"$src/pcaps/expected/$name.args"
# A fixed --sensor-name: the default (the host name) would differ between machines.
"$binary" -r "$pcap" --rules "$src/rules/default.rules" --sensor-name golden "${extra[@]}" >"$out" 2>"$err"
status=$?
fail=0
if [ "$status" != "$expected_exit" ]; then
  echo "FAIL: exit status $status, expected $expected_exit; stderr:"; cat "$err"; fail=1
fi
if [ -f "$src/pcaps/expected/$name.stderr" ]; then
  while IFS= read -r want; do
    grep -qF -- "$want" "$err" || { echo "FAIL: stderr lacks '$want'; it was:"; cat "$err"; fail=1; }
  done <"$src/pcaps/expected/$name.stderr"
fi
if ! diff -u "$expected" "$out"; then
  echo "FAIL: output differs from $expected"; fail=1
fi
[ "$fail" = 0 ] && echo "ok: $name ($(wc -l <"$out") alerts, exit $status)"
exit $fail
