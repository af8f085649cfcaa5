#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# backing=file on a tmpfs: a donor that stops (cleanly or killed) and
# starts again on the same file serves the same bytes, under the same
# region identity (the export description); new memory has a new one.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy nbdinfo sha256sum
make_tmpdir

# The export description: "dram region" and 32 hex digits.
identity ()
{
  nbdinfo "$uri" | sed -n 's/^[[:space:]]*description: dram region \([0-9a-f]\{32\}\)$/\1/p'
}

shm=$(mktemp -d /dev/shm/dram-test.XXXXXX)
on_exit "rm -rf '$shm'"
head -c $((32 << 20)) /dev/urandom > "$tmpdir/data"

start_nbdkit donor -- size=64M file="$shm/region"
nbdcopy "$tmpdir/data" "$uri"
id=$(identity)
test -n "$id"

# Clean stop, start again.
stop_pidfile "$tmpdir/donor.pid"
test -s "$shm/region"
start_nbdkit donor -- size=64M file="$shm/region"
nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"
test "$(identity)" = "$id"

# Killed outright, start again: still there.
kill -9 "$(cat "$tmpdir/donor.pid")"
for ((i = 0; i < 50; i++)); do
  [ -e "/proc/$(cat "$tmpdir/donor.pid")" ] || break
  sleep 0.1
done
start_nbdkit donor -- size=64M file="$shm/region"
nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"
test "$(identity)" = "$id"

# While it runs, a second donor on the same file is refused.
rc=0
"$NBDKIT" -U - --run true "$DRAM_PLUGIN" size=64M file="$shm/region" \
  > "$tmpdir/out" 2>&1 || rc=$?
cat "$tmpdir/out"
test "$rc" -ne 0
grep -qF "file=$shm/region is in use by another dram donor" "$tmpdir/out"
nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"

# mlock=true, started again on the file: the data it holds is locked
# at start, before any client touches it (locked only when touched, it
# could go to swap, and to a donor serving this machine's swap that is
# a wait for itself); the holes stay holes.  Locking needs root.
if [ "$(id -u)" = 0 ]; then
  stop_pidfile "$tmpdir/donor.pid"
  start_nbdkit donor -- size=64M file="$shm/region" mlock=true
  # KiB of FIELD (Rss, Locked) in the donor's mapping of the file.
  mapped_kib ()
  {
    awk -v f="$shm/region" -v k="$1:" '
      /^[0-9a-f]+-[0-9a-f]+ / { in_map = ($NF == f) }
      in_map && $1 == k { n += $2 }
      END { print n + 0 }' "/proc/$(cat "$tmpdir/donor.pid")/smaps"
  }
  # nbdkit writes its pidfile before the plugin's after_fork, which
  # locks: a client served means the locking is done.
  nbdinfo --size "$uri" > /dev/null
  locked=$(mapped_kib Locked)
  [ "$locked" -ge $((32 << 10)) ] ||
    fail "mlock=true locked $locked KiB of the 32 MiB the file holds"
  rss=$(mapped_kib Rss)
  [ "$rss" -lt $((40 << 10)) ] || fail "the holes were filled: Rss $rss KiB"
  nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"
  test "$(identity)" = "$id"
else
  echo "not root: mlock=true on a file that holds data not checked"
fi

# Memory that is new is a new region: another donor, and the same file
# once its identity record is gone.
start_nbdkit other -- size=64M
test -n "$(identity)"
test "$(identity)" != "$id"
stop_pidfile "$tmpdir/donor.pid"
rm "$shm/region.dram-id"
start_nbdkit donor -- size=64M file="$shm/region"
test -n "$(identity)"
test "$(identity)" != "$id"
