#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# Random data in and out with nbdcopy and qemu-img, for each backing:
# the bytes read back are the bytes written.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy nbdinfo qemu-img sha256sum
make_tmpdir
make_shmdir

head -c $((48 << 20)) /dev/urandom > "$tmpdir/data"
want=$(sha256sum < "$tmpdir/data")

for backing in malloc memfd "file dir=$shmdir"; do
  name=${backing%% *}
  start_nbdkit "$name" -- size=64M backing=$backing

  # nbdcopy: in at offset 0 with 4 connections, out again.
  nbdcopy --connections=4 --requests=16 "$tmpdir/data" "$uri"
  nbdcopy "$uri" - | head -c $((48 << 20)) > "$tmpdir/back"
  test "$(sha256sum < "$tmpdir/back")" = "$want"
  # The rest was never written: it reads as zeros.
  nbdcopy "$uri" - | tail -c $((16 << 20)) | cmp - <(head -c $((16 << 20)) /dev/zero)

  # qemu-img: a 64M image made of the data and zeros compares equal,
  # and one changed byte is found.
  cp "$tmpdir/data" "$tmpdir/image"
  truncate -s 64M "$tmpdir/image"
  qemu-img compare -f raw -F raw "$tmpdir/image" "$uri"
  printf '\xff' | dd of="$tmpdir/image" bs=1 seek=12345678 conv=notrunc
  rc=0
  qemu-img compare -f raw -F raw "$tmpdir/image" "$uri" || rc=$?
  test "$rc" -eq 1

  # qemu-img convert writes the other way.
  qemu-img convert -n -f raw -O raw "$tmpdir/image" "$uri"
  qemu-img compare -f raw -F raw "$tmpdir/image" "$uri"
  stop_pidfile "$tmpdir/$name.pid"
done
