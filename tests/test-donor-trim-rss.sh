#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The donor's memory follows what the recipient holds: idle costs
# nothing, written data costs its size, a full trim gives it back.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy
requires_nbdsh
make_tmpdir
make_shmdir

size_mib=256
head -c $((size_mib << 20)) /dev/urandom > "$tmpdir/data"

# The region's own RSS in KiB: anonymous memory above what nbdkit used
# before any data arrived, or the shared memory it maps.
region_kib ()
{
  case $1 in
    malloc) echo $(( $(status_kib "$pid" RssAnon) - base )) ;;
    *) status_kib "$pid" RssShmem ;;
  esac
}

for backing in malloc memfd "file dir=$shmdir" "malloc mlock=true"; do
  name=${backing%% *}
  start_nbdkit "$name" -- size=${size_mib}M backing=$backing
  pid=$(cat "$tmpdir/$name.pid")
  # One connection first, so nbdkit's own buffers are in the baseline.
  nbdsh -u "$uri" -c 'h.pread(4096, 0)'
  base=$(status_kib "$pid" RssAnon)

  idle=$(region_kib "$name")
  nbdcopy "$tmpdir/data" "$uri"
  full=$(region_kib "$name")
  # Trim the whole device, in requests of 64M as a kernel would send.
  nbdsh -u "$uri" -c "
for off in range(0, h.get_size(), 64 << 20):
    h.trim(64 << 20, off)
"
  trimmed=$(region_kib "$name")
  echo "$backing: idle ${idle} KiB, written ${full} KiB, trimmed ${trimmed} KiB"

  test "$idle" -lt $((size_mib * 1024 / 100))
  test "$full" -ge $((size_mib * 1024 * 95 / 100))
  test "$trimmed" -lt $((size_mib * 1024 / 100))
  # And it reads as zeros.
  nbdcopy "$uri" - | cmp - <(head -c $((size_mib << 20)) /dev/zero)
  stop_pidfile "$tmpdir/$name.pid"
done
