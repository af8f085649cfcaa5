#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# dram-attach as a user meets it before anything is attached: help,
# version, bad usage (exit 1, a message naming the problem, nothing
# done), --status and --detach with nothing attached, a dead donor.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

attach=$abs_top_builddir/attach/dram-attach
make_tmpdir
export DRAM_RUNDIR=$tmpdir/run

# expect STATUS MESSAGE ARGS...: dram-attach ARGS exits STATUS and says
# MESSAGE on stderr.
expect ()
{
  local want=$1 msg=$2 rc=0
  shift 2
  "$attach" "$@" > "$tmpdir/out" 2> "$tmpdir/err" || rc=$?
  cat "$tmpdir/out" "$tmpdir/err"
  if [ "$rc" -ne "$want" ]; then
    echo "$0: dram-attach $* exited $rc, not $want" >&2
    exit 1
  fi
  grep -qF -- "$msg" "$tmpdir/err"
}

"$attach" --help > "$tmpdir/help"
grep -q '^Usage: dram-attach \[OPTIONS\] HOST\[:PORT\] \[DEVICE\]' "$tmpdir/help"
for opt in --mode --export --priority --discard --connections --timeout \
           --no-swap --label --tls-psk --tls-username --unix --detach \
           --status --json; do
  grep -q -- "$opt" "$tmpdir/help"
done
"$attach" --version | grep -q '^dram-attach [0-9]'

expect 1 "no donor given"
expect 1 "unknown option '--frobnicate'" --frobnicate donor
expect 1 "option '--priority' needs a value" donor --priority
expect 1 "--priority: 99999 is out of range (0..32767)" -p 99999 donor
expect 1 "--connections: 0 is out of range (1..16)" -c 0 donor
expect 1 "--mode: 'zram' is not a mode" --mode=zram donor
expect 1 "'donor:0': the port must be a number from 1 to 65535" donor:0
expect 1 "unknown URI scheme" http://donor/
expect 1 "--label: '0123456789abcdef' is longer than 15 bytes" \
  -L 0123456789abcdef donor
expect 1 "'sdb' is not a device path" donor sdb
expect 1 "--detach takes no attach options" --detach all -p 3
expect 1 "--tls-username needs --tls-psk" --tls-username me donor
# Nothing was created by any of that.
test ! -e "$DRAM_RUNDIR"

# Nothing attached: an empty status, in both forms.
"$attach" --status > "$tmpdir/status"
test ! -s "$tmpdir/status"
test "$("$attach" --status --json)" = "[]"
expect 1 "/dev/nbd5 was not attached by dram-attach" --detach /dev/nbd5
"$attach" --detach all

# A device that is not an NBD device.
if [ -e /sys/module/nbd ] || modprobe -q nbd 2>/dev/null; then
  expect 1 "/dev/sda is not an NBD device" 127.0.0.1:9 /dev/sda
  # Nobody listens on port 9 (discard) of loopback here: refused, exit 2.
  port=$(free_port)
  expect 2 "donor 127.0.0.1:$port" "127.0.0.1:$port" --no-swap
else
  # No nbd driver on this kernel: auto mode says it takes the module-free
  # mode (and then finds nobody on the port).
  expect 2 "no nbd driver on this kernel: using the module-free mode" \
    127.0.0.1:9
  expect 2 "--mode=nbd: this kernel has no nbd driver" --mode=nbd 127.0.0.1:9
fi
