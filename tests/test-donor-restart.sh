#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# backing=file on a tmpfs: a donor that stops (cleanly or killed) and
# starts again on the same file serves the same bytes.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy sha256sum
make_tmpdir

shm=$(mktemp -d /dev/shm/dram-test.XXXXXX)
on_exit "rm -rf '$shm'"
head -c $((32 << 20)) /dev/urandom > "$tmpdir/data"

start_nbdkit donor -- size=64M file="$shm/region"
nbdcopy "$tmpdir/data" "$uri"

# Clean stop, start again.
stop_pidfile "$tmpdir/donor.pid"
test -s "$shm/region"
start_nbdkit donor -- size=64M file="$shm/region"
nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"

# Killed outright, start again: still there.
kill -9 "$(cat "$tmpdir/donor.pid")"
for ((i = 0; i < 50; i++)); do
  [ -e "/proc/$(cat "$tmpdir/donor.pid")" ] || break
  sleep 0.1
done
start_nbdkit donor -- size=64M file="$shm/region"
nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"

# While it runs, a second donor on the same file is refused.
rc=0
"$NBDKIT" -U - --run true "$DRAM_PLUGIN" size=64M file="$shm/region" \
  > "$tmpdir/out" 2>&1 || rc=$?
cat "$tmpdir/out"
test "$rc" -ne 0
grep -qF "file=$shm/region is in use by another dram donor" "$tmpdir/out"
nbdcopy "$uri" - | head -c $((32 << 20)) | cmp - "$tmpdir/data"
