#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The donor's tmpfs fills up behind its back: writes that find no
# memory fail with ENOSPC, and the donor lives on (no SIGBUS).
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy
requires_root
requires_nbdsh
make_tmpdir

mkdir "$tmpdir/mnt"
mount -t tmpfs -o size=64M,mode=0700 dram-test "$tmpdir/mnt"
on_exit "umount '$tmpdir/mnt'"

# A region that does not fit is refused at start.
rc=0
"$NBDKIT" -U - --run true "$DRAM_PLUGIN" size=128M file="$tmpdir/mnt/big" \
  > "$tmpdir/out" 2>&1 || rc=$?
cat "$tmpdir/out"
test "$rc" -ne 0
grep -qF "has 67108864 bytes free but the region needs 134217728 more" \
  "$tmpdir/out"
test ! -e "$tmpdir/mnt/big"

# One that fits starts; then something else takes most of the tmpfs.
start_nbdkit donor -- size=48M file="$tmpdir/mnt/region"
pid=$(cat "$tmpdir/donor.pid")
head -c $((8 << 20)) /dev/urandom > "$tmpdir/early"
nbdcopy "$tmpdir/early" "$uri"
dd if=/dev/zero of="$tmpdir/mnt/filler" bs=1M count=48 2>/dev/null || :

nbdsh -u "$uri" -c "
import errno
data = bytes([0x5a]) * (1 << 20)
failed = 0
for off in range(8 << 20, 48 << 20, 1 << 20):
    try:
        h.pwrite(data, off)
    except nbd.Error as e:
        assert e.errno == 'ENOSPC', e
        failed += 1
print('writes refused with ENOSPC:', failed)
assert failed > 0
"
# Alive, and what it held is intact.
kill -0 "$pid"
nbdcopy "$uri" - | head -c $((8 << 20)) | cmp - "$tmpdir/early"

# With room again, writes work.
rm -f "$tmpdir/mnt/filler"
head -c $((40 << 20)) /dev/urandom > "$tmpdir/late"
nbdsh -u "$uri" -c "h.pwrite(open('$tmpdir/late', 'rb').read(), 8 << 20)"
nbdcopy "$uri" - | tail -c $((40 << 20)) | cmp - "$tmpdir/late"
kill -0 "$pid"
