#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# backing=file on hugetlbfs: huge pages are the granule; trimming a
# whole one gives it back to the pool.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy nbdinfo
requires_root
requires_nbdsh
make_tmpdir

[ -w /proc/sys/vm/nr_hugepages ] || skip "no /proc/sys/vm/nr_hugepages"
hp_kib=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
[ -n "$hp_kib" ] || skip "this kernel has no huge pages"
hp=$((hp_kib * 1024))
old=$(cat /proc/sys/vm/nr_hugepages)
on_exit "echo $old > /proc/sys/vm/nr_hugepages"
echo $((old + 16)) > /proc/sys/vm/nr_hugepages
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge $((old + 16)) ] ||
  fail "the kernel could not find 16 free huge pages (nr_hugepages $(cat /proc/sys/vm/nr_hugepages))"

mkdir "$tmpdir/mnt"
mount -t hugetlbfs -o mode=0700 dram-test "$tmpdir/mnt"
on_exit "umount '$tmpdir/mnt'"

free_pages () { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }

# A size that is not whole huge pages is refused.
rc=0
"$NBDKIT" -U - --run true "$DRAM_PLUGIN" size=$((hp + 4096)) \
  file="$tmpdir/mnt/odd" > "$tmpdir/out" 2>&1 || rc=$?
cat "$tmpdir/out"
test "$rc" -ne 0
grep -qF "is not a multiple of the huge page size $hp" "$tmpdir/out"

size=$((8 * hp))
start_nbdkit donor -- size=$size file="$tmpdir/mnt/region"
nbdinfo "$uri" | grep "block_size_preferred: $hp\$"
head -c $size /dev/urandom > "$tmpdir/data"
nbdcopy "$tmpdir/data" "$uri"
nbdcopy "$uri" - | cmp - "$tmpdir/data"
before=$(free_pages)

# 4K inside a huge page: zeroed, nothing released.  A whole huge page:
# released.
nbdsh -u "$uri" -c "
h.trim(4096, 4096)
assert h.pread(4096, 4096) == bytes(4096)
h.trim($hp, 2 * $hp)
assert h.pread($hp, 2 * $hp) == bytes($hp)
"
test "$(free_pages)" -eq $((before + 1))
dd if="$tmpdir/data" bs=4096 count=1 2>/dev/null |
  cmp - <(nbdcopy "$uri" - | head -c 4096)
