#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# `make fuzz`, in the build directory:
#   fuzz-run.sh SRCDIR SECONDS NAME
# runs ./fuzz-NAME for SECONDS on a copy of SRCDIR/corpus/NAME/ and
# SRCDIR/regress/NAME/ in fuzz-out/NAME/ (the source tree is not
# written), which keeps its log, corpus and crashes;
#   fuzz-run.sh --summary NAME...
# prints what each run did, and fails if one crashed or did not run.

set -e

if [ "$1" = --summary ]; then
  shift
  status=0
  printf '%-8s %8s %12s %8s %8s\n' harness seconds executions exec/s crashes
  for name in "$@"; do
    read -r secs execs crashes < "fuzz-out/$name/result"
    rate=0
    if [ "$secs" -gt 0 ]; then rate=$((execs / secs)); fi
    printf '%-8s %8s %12s %8s %8s\n' "$name" "$secs" "$execs" "$rate" \
      "$crashes"
    if [ "$crashes" != 0 ]; then status=1; fi
  done
  exit $status
fi

srcdir=$1 secs=$2 name=$3
out=fuzz-out/$name
rm -rf "$out"
mkdir -p "$out/corpus" "$out/crashes"
cp "$srcdir/corpus/$name"/* "$out/corpus/"
if [ -d "$srcdir/regress/$name" ]; then
  cp "$srcdir/regress/$name"/* "$out/corpus/"
fi

echo "fuzz-$name: $secs seconds, log in $out/log"
start=$(date +%s)
./fuzz-$name -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$out/crashes/" "$out/corpus" > "$out/log" 2>&1 || :
end=$(date +%s)

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
crashes=$(find "$out/crashes" -type f | wc -l)
if [ -z "$execs" ]; then
  echo "fuzz-$name: did not run (see $out/log)"
  execs=0 crashes=error
elif [ "$crashes" -gt 0 ]; then
  echo "fuzz-$name: $crashes crash(es) in $out/crashes/:"
  echo "  reproduce with ./fuzz-$name FILE, and keep FILE, under a name"
  echo "  that says what it found, in $srcdir/regress/$name/ (and in"
  echo "  REGRESS in Makefile.am)"
fi
echo "$((end - start)) $execs $crashes" > "$out/result"
