#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# What a client sees in the handshake, for each backing.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdinfo
make_tmpdir
make_shmdir

# --dump-plugin names the backings and features compiled in.
"$NBDKIT" "$DRAM_PLUGIN" --dump-plugin > "$tmpdir/dump"
cat "$tmpdir/dump"
grep -qx 'dram_backings=malloc,memfd,file' "$tmpdir/dump"
grep -qx 'dram_trim_granularity=4096' "$tmpdir/dump"
grep -qx 'dram_regions=per_export_name' "$tmpdir/dump"
grep -qx 'dram_lease_default=300s' "$tmpdir/dump"
grep -qx 'dram_list_exports=default_only' "$tmpdir/dump"
# Parallel, except on the nbdkit versions that abort when a client
# hangs up with replies in flight (see plugin.c and
# test-donor-hangup.sh).
case $("$NBDKIT" --version | awk '{ print $2 }') in
  1.32.[4-9]*|1.33.[0-9]) model=serialize_requests ;;
  *) model=parallel ;;
esac
grep -qx "thread_model=$model" "$tmpdir/dump"
grep -qx 'has_extents=1' "$tmpdir/dump"
grep -qx 'has_block_size=1' "$tmpdir/dump"

for backing in malloc memfd "file dir=$shmdir"; do
  name=${backing%% *}
  start_nbdkit "$name" -- size=1G backing=$backing
  nbdinfo "$uri" > "$tmpdir/info"
  cat "$tmpdir/info"
  grep -q 'export-size: 1073741824 (1G)' "$tmpdir/info"
  for flag in can_multi_conn can_trim can_zero can_fast_zero can_flush \
              can_fua can_cache; do
    grep -q "$flag: true" "$tmpdir/info"
  done
  grep -q 'is_read_only: false' "$tmpdir/info"
  grep -q 'base:allocation' "$tmpdir/info"
  grep -q 'block_size_minimum: 1$' "$tmpdir/info"
  grep -q 'block_size_preferred: 4096$' "$tmpdir/info"
  # A fresh region is one hole, even after nbdinfo's summary above read
  # its first sectors to guess the content: reading a hole gives the
  # donor no page (not even on kernels that map no shared zero page for
  # a read fault, such as the 6.18 build of these machines).
  nbdinfo --map "$uri" > "$tmpdir/map"
  cat "$tmpdir/map"
  test "$(wc -l < "$tmpdir/map")" -eq 1
  grep -Eq '^ +0 +1073741824 +3 +hole,zero$' "$tmpdir/map"
  stop_pidfile "$tmpdir/$name.pid"
done
