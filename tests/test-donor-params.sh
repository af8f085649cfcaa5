#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# Every bad parameter: nbdkit exits non-zero, says what was wrong, and
# leaves nothing behind.  Good ones start.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" setpriv prlimit nbdinfo
requires_root
make_tmpdir

# Runs nbdkit with ARGS and checks it fails with MESSAGE in its output.
refused ()
{
  local msg=$1 rc=0
  shift
  "$NBDKIT" -U - --run true "$DRAM_PLUGIN" "$@" > "$tmpdir/out" 2>&1 || rc=$?
  cat "$tmpdir/out"
  if [ "$rc" -eq 0 ]; then
    echo "$0: accepted: $*" >&2
    exit 1
  fi
  if ! grep -qF -- "$msg" "$tmpdir/out"; then
    echo "$0: '$*' failed without saying: $msg" >&2
    exit 1
  fi
}

accepted ()
{
  "$NBDKIT" -U - --run true "$DRAM_PLUGIN" "$@"
}

refused "size= is required" backing=malloc
refused "size=0: must be greater than 0" size=0
refused "size=4097 (4097 bytes) is not a multiple of 4096" size=4097
refused "size: '1X' has an unknown unit" size=1X
refused "size: 'big' is not a number" size=big
refused "size: '-1G' is not a number" size=-1G
refused "size= given more than once" size=1G size=2G
refused "is larger than this machine's RAM (MemTotal" size=1P
refused "use force=true" size=1P
refused "backing=disk: unknown backing (use malloc, memfd or file)" \
  size=1G backing=disk
refused "backing=file needs file=PATH or dir=DIR" size=1G backing=file
refused "file= and dir= cannot both be given" size=1G file=/a dir=/b
refused "file= only applies to backing=file, not backing=memfd" \
  size=1G backing=memfd file=/dev/shm/x
refused "allow-disk=true only applies to backing=file" size=1G allow-disk=true
refused "mlock: 'maybe' is not a boolean" size=1G mlock=maybe
refused "reserve: '' is not a boolean" size=1G reserve=
refused "unknown parameter 'colour'" size=1G colour=blue
refused "file= must not be empty" size=1G file=

# Checks that need the machine.
refused "reserve=true: the region needs" size=1P force=true reserve=true
refused "dir=/nonexistent-dram: No such file or directory" \
  size=1M dir=/nonexistent-dram
refused "file=/nonexistent-dram/region: No such file or directory" \
  size=1M file=/nonexistent-dram/region
refused "file=/dev/shm: Is a directory" size=1M file=/dev/shm
refused "file=/dev/null is not a regular file" size=1M file=/dev/null
# A file of another size belongs to another region.
shm=$(mktemp -d /dev/shm/dram-test.XXXXXX)
on_exit "rm -rf '$shm'"
head -c 4096 /dev/zero > "$shm/small"
refused "file=$shm/small holds a region of 4096 bytes, not size=8M" \
  size=8M file="$shm/small"
test "$(stat -c %s "$shm/small")" -eq 4096
# A disk filesystem is not RAM, and the refused file is not left behind.
disk=$(mktemp -d /var/tmp/dram-test.XXXXXX)
on_exit "rm -rf '$disk'"
if [ "$(stat -f -c %T "$disk")" != tmpfs ]; then
  refused "is on a $(findmnt -n -o FSTYPE -T "$disk") filesystem, not tmpfs or hugetlbfs" \
    size=1M file="$disk/region"
  test ! -e "$disk/region"
  accepted size=1M file="$disk/region" allow-disk=true
fi
# A tmpfs too small for the region.
refused "bytes free but the region needs" size=1P force=true \
  file="$shm/huge"
test ! -e "$shm/huge"
# mlock=true without the right to lock that much.
rc=0
prlimit --memlock=65536 setpriv --reuid=65534 --regid=65534 --clear-groups \
  --inh-caps=-all "$NBDKIT" -U "$tmpdir/nobody.sock" --run true \
  "$DRAM_PLUGIN" size=1M mlock=true > "$tmpdir/out" 2>&1 || rc=$?
cat "$tmpdir/out"
test "$rc" -ne 0
grep -qF "mlock=true: this process may lock only 65536 bytes (ulimit -l)" \
  "$tmpdir/out"

# Good parameters start.
accepted size=1G
accepted 1G
accepted size=64M backing=memfd
accepted size=64M dir="$shm"
accepted size=64M file="$shm/region" mlock=true reserve=true
test "$(stat -c %s "$shm/region")" -eq $((64 << 20))
accepted size=64M backing=malloc reserve=true
accepted size=64T force=true

# reserve=true with mlock=true: every page of the region is there and
# locked before the first client, on every backing.
for backing in malloc memfd "file dir=$shm"; do
  start_nbdkit reserve -- size=64M backing=$backing reserve=true mlock=true
  pid=$(cat "$tmpdir/reserve.pid")
  # Served: nbdkit writes its pid file before the plugin's after_fork,
  # where the region is mapped and locked; it answers only after it.
  [ "$(nbdinfo --size "$uri")" -eq $((64 << 20)) ] || fail "not served"
  # Locked KiB of the donor's 64 MiB mappings (the region's).
  locked=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { size = 0 }
                /^Size:/ { size = $2 }
                /^Locked:/ && size == 65536 { kib += $2 }
                END { print kib + 0 }' "/proc/$pid/smaps")
  echo "backing=$backing reserve=true mlock=true: $locked KiB of the region locked"
  [ "$locked" -eq 65536 ] ||
    fail "backing=$backing reserve=true mlock=true: $locked KiB of 65536 locked"
  stop_pidfile "$tmpdir/reserve.pid"
done
