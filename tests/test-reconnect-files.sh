#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# A reconnect touches no file.  It happens while swap waits for the
# donor, and a file on tmpfs (a tmpfs root's /etc/hosts, a log file)
# can have its page in that very swap.  The FUSE server, attached to the
# donor by a host name ("localhost", which /etc/hosts resolves), is
# traced with strace through a reconnect: the donor is killed and
# started again, a read waits for the way back.  The trace must show
# the reconnect (a connect to the donor's port) and no system call that
# takes a path: no open, no stat, no lookup of the name.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" strace findmnt
requires_root
[ -c /dev/fuse ] || skip "no /dev/fuse (modprobe fuse)"
[ -c /dev/loop-control ] || skip "no loop devices (modprobe loop)"
[ -d /dev/shm ] || skip "no /dev/shm for the donor's tmpfs file"
# The donor listens where the name leads first (127.0.0.1, or ::1 where
# /etc/hosts puts that first).
addr=$(getent hosts localhost | awk 'NR == 1 { print $1 }')
[ -n "$addr" ] || fail "localhost does not resolve here (/etc/hosts)"
attach=$abs_top_builddir/attach/dram-attach
make_tmpdir
export DRAM_RUNDIR=$tmpdir/run DRAM_ATTACH_LOG=$tmpdir/attach.log
on_exit "'$attach' --detach all"
region=/dev/shm/dram-test-reconnect-files-$$
on_exit "rm -f '$region' '$region.dram-id'"
port=$(free_port)

donor ()
{
  rm -f "$tmpdir/donor.pid"
  "$NBDKIT" -p "$port" -i "$addr" -P "$tmpdir/donor.pid" \
    "$DRAM_PLUGIN" size=64M backing=file file="$region"
  wait_for_file "$tmpdir/donor.pid"
}
donor
on_exit "stop_pidfile '$tmpdir/donor.pid'"

"$attach" --mode=fuse --no-swap localhost:"$port"
dev=$(sed -n 's/^device=//p' "$DRAM_RUNDIR"/loop*.state)
server=$(sed -n 's/^pid=//p' "$DRAM_RUNDIR"/loop*.state)
test -b "$dev"
kill -0 "$server"
dd if=/dev/urandom of="$tmpdir/data" bs=64K count=16 2>/dev/null
dd if="$tmpdir/data" of="$dev" bs=64K oflag=direct 2>/dev/null

# Every thread of the server (-f with -p), from now on.
strace -f -qq -e trace=%file,connect -e signal=none -o "$tmpdir/trace" -p "$server" &
tracer=$!
on_exit "kill $tracer 2>/dev/null"
for ((i = 0; i < 100; i++)); do
  [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$server/status")" = 0 ] ||
    break
  sleep 0.1
done
[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$server/status")" != 0 ]

pid=$(cat "$tmpdir/donor.pid")
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
sleep 2
donor
# Waits for the way back, then reads what was written before.
timeout 60 dd if="$dev" of="$tmpdir/back" bs=64K count=16 iflag=direct \
  2>/dev/null
cmp "$tmpdir/data" "$tmpdir/back"
for ((i = 0; i < 100; i++)); do
  grep -q "reconnected to the donor after" "$DRAM_ATTACH_LOG" && break
  sleep 0.1
done
cat "$DRAM_ATTACH_LOG"
grep -q "reconnected to the donor after" "$DRAM_ATTACH_LOG"
kill "$tracer"
wait "$tracer" || :
cat "$tmpdir/trace"

# The reconnect was seen: connections to the donor's port.
grep -q "connect(.*htons($port)" "$tmpdir/trace"
# And no other system call (DRAM_ATTACH_LOG is set: the log writer
# writes to a descriptor opened at the start).
calls=$(sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' "$tmpdir/trace" | sort -u)
if [ "$calls" != connect ]; then
  echo "the reconnect made these system calls on paths: $calls" >&2
  exit 1
fi
"$attach" --detach "$dev"
test -z "$(ls "$DRAM_RUNDIR"/*.state 2>/dev/null)"
