#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The detector every swap test relies on detects.  memverify must pass
# memory that holds its pattern, fail with exit status 1 and say where
# when a page comes back zero-filled or with one bit flipped (--corrupt
# does that to it, as a broken swap device would), and fail with exit
# status 3, naming the signal, when one of its processes is killed (what
# a lost swap device does to it).  Its own memory is locked, and the
# memory it tests is not.  The swap tests tell these outcomes apart by
# exactly these exit statuses and messages.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

memverify=$abs_top_builddir/tests/memverify
[ -x "$memverify" ] || fail "build memverify first ($memverify)"
make_tmpdir

# run STATUS ARGS...: memverify ARGS exits STATUS; its output in
# $tmpdir/out.
run ()
{
  local want=$1 rc=0
  shift
  "$memverify" "$@" > "$tmpdir/out" 2>&1 || rc=$?
  cat "$tmpdir/out"
  [ "$rc" -eq "$want" ] || fail "memverify $* exited $rc, not $want"
}

# Intact memory: every byte of 2 x 4 MiB, in both orders, twice.
run 0 --procs 2 --passes 2 8
grep -qx "memverify: OK: verified $((8 << 22)) bytes (8 MiB x 2 passes x 2 orders, mode both, 2 procs, seed 1) in [0-9.]* s" \
  "$tmpdir/out" || fail "no OK line for 2 x 4 MiB x 2 passes x 2 orders"
! grep -q MISMATCH "$tmpdir/out" || fail "a mismatch reported on intact memory"

# A zero-filled page and a flipped bit in each process: both caught,
# each where it was done (each process has 1 MiB, 256 pages: page 128
# zeroed, bit 0 of word 3 of page 0 flipped), with the count.
run 1 --corrupt --procs 2 --mode seq 2
for p in 0 1; do
  grep -q "^memverify: MISMATCH proc $p page 0 offset 0x18 (round 0, seq): .* (1 of 512 words bad)$" \
    "$tmpdir/out" || fail "proc $p: the flipped bit was not reported"
  grep -q "^memverify: MISMATCH proc $p page 128 offset 0x0 (round 0, seq): expected 0x[0-9a-f]*, got 0x0000000000000000 (512 of 512 words bad)$" \
    "$tmpdir/out" || fail "proc $p: the zero-filled page was not reported"
  grep -qx "memverify: proc $p: 513 bad 8-byte words in 2 of 256 pages in round 0" \
    "$tmpdir/out" || fail "proc $p: the bad words were not counted"
done
grep -qx "memverify: FAILED" "$tmpdir/out" || fail "no FAILED line"
! grep -q "memverify: OK" "$tmpdir/out" || fail "OK printed after a mismatch"

# In random order too, and with one process: still exit 1.
run 1 --corrupt --mode random 4
grep -q "MISMATCH proc 0 page 512 offset 0x0 (round 0, random)" "$tmpdir/out" ||
  fail "random order: the zero-filled page was not reported"

# A process killed (as SIGBUS does on a failed swap-in): exit 3, and
# the signal named; never 0 or 1.
"$memverify" --procs 2 --passes 1000000 8 > "$tmpdir/out" 2>&1 &
mv=$!
on_exit "kill -9 $mv 2>/dev/null"
for ((i = 0; i < 100; i++)); do
  children=$(pgrep -P "$mv" | wc -l)
  [ "$children" -eq 2 ] && break
  sleep 0.1
done
[ "$children" -eq 2 ] || fail "memverify did not start its 2 processes"
# Its own memory is locked, so that a failing swap device reaches only
# the pattern: every process has locked pages, and fewer than its 4 MiB
# under test (which must be free to swap).
for p in "$mv" $(pgrep -P "$mv"); do
  lck=$(status_kib "$p" VmLck)
  echo "pid $p: VmLck $lck kB"
  [ "$lck" -gt 0 ] || fail "memverify (pid $p) locked nothing of its own"
done
for p in $(pgrep -P "$mv"); do
  [ "$(status_kib "$p" VmLck)" -lt 4096 ] ||
    fail "memverify (pid $p) locked the memory it tests"
done
kill -BUS "$(pgrep -P "$mv" | head -n 1)"
kill -KILL "$(pgrep -P "$mv" | tail -n 1)"
rc=0
wait "$mv" || rc=$?
cat "$tmpdir/out"
[ "$rc" -eq 3 ] || fail "a killed process made memverify exit $rc, not 3"
grep -q "^memverify: proc [01] (pid [0-9]*) killed by signal 7 (Bus error)$" \
  "$tmpdir/out" || fail "SIGBUS was not named"
grep -q "^memverify: proc [01] (pid [0-9]*) killed by signal 9 (Killed)$" \
  "$tmpdir/out" || fail "SIGKILL was not named"
! grep -q "MISMATCH\|memverify: OK" "$tmpdir/out" ||
  fail "a killed run reported a mismatch or OK"

# Bad usage: exit 2, nothing run.
run 2 --procs 0 8
grep -q "procs" "$tmpdir/out" || fail "--procs 0 was not named"
run 2 --mode sideways 8
grep -q "unknown mode 'sideways'" "$tmpdir/out" || fail "a bad mode was not named"
echo "memverify detects: zeroed page, flipped bit, killed process; exits 0/1/2/3"
