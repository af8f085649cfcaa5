#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of test-vm-fuse.sh (busybox sh, run by the VM's /init).
# dram-attach --mode=fuse against nbdkit-dram-plugin on the host, on
# Debian's kernel: a refusal that leaves nothing behind, then swap on a
# loop device over the FUSE file, written and read back while no memory
# pressure is on; a workload of 3 times a cgroup v2 memory limit (a
# container's) that verifies every byte; --detach leaves nothing.  One
# phase runs only when asked for by name, as it livelocks on this
# kernel (README, "Deadlocks"): "global" swaps 2.5 times the guest's RAM
# with no cgroup.
# From the host: PLAIN_PORT (size=SWAP_MIB), DEAD_PORT (nobody),
# WORK_MIB and CGROUP_MIB (the cgroup's workload and limit),
# GLOBAL_MIB, WORK_PROCS.

set -e -x

# guest-functions.sh: vmstat, fail, phase, expect, workload.
. /etc/dram-vm-functions.sh

donor=10.0.2.2

# After a failure or a detach: no swap, no loop device bound, no FUSE
# mount, no record, no resident dram-attach.  (/run/dram/fuse, where the
# mountpoints go, stays.)
nothing_left ()
{
  ! grep -q '^/dev/loop' /proc/swaps || fail "a loop device is still swap"
  for d in /sys/block/loop*; do
    [ ! -e "$d/loop/backing_file" ] ||
      fail "${d##*/} is still bound to $(cat "$d/loop/backing_file")"
  done
  ! grep -Eq '^[^ ]+ [^ ]+ fuse(\.[^ ]+)? ' /proc/mounts ||
    fail "a FUSE filesystem is still mounted"
  for f in /run/dram/* /run/dram/fuse/*; do
    [ ! -e "$f" ] || [ "$f" = /run/dram/fuse ] || fail "$f is left"
  done
  [ "$(dram-attach --status --json)" = "[]" ] || fail "--status is not empty"
  [ -z "$(pidof dram-attach)" ] || fail "a dram-attach process is left"
}

# The modules made their devices (devtmpfs).
[ -c /dev/fuse ] || fail "no /dev/fuse"
[ -c /dev/loop-control ] || fail "no /dev/loop-control"
# Resident dram-attach processes report to syslog.
syslogd -O /tmp/syslog
# A deadlock is what this test looks for: let the hung-task reports
# reach the console with their stacks (printed at KERN_INFO).
echo 7 > /proc/sys/kernel/printk
dram-attach --version
nothing_left

# --- refusal ----------------------------------------------------------
if phase refusal; then
  expect 2 "donor $donor:$DEAD_PORT: nbd_poll: recv: Connection refused (is nbdkit running there?)" \
    dram-attach --mode=fuse "$donor:$DEAD_PORT"
  nothing_left
  # shellcheck disable=SC2154  # expect sets rc
  echo "RESULT phase=refusal exit=$rc left=nothing"
fi

# attach: dram-attach --mode=fuse, checked; sets dev and server.
attach ()
{
  dram-attach --mode=fuse --discard "$donor:$PLAIN_PORT"
  cat /proc/swaps
  dev=$(awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps)
  [ -n "$dev" ] || fail "no loop device in /proc/swaps"
  loop=/sys/block/${dev#/dev/}/loop
  # The header takes one page.
  swap_kib=$(awk -v d="$dev" '$1 == d { print $3 }' /proc/swaps)
  [ "$swap_kib" -eq $((SWAP_MIB * 1024 - 4)) ] || fail "swap of $swap_kib KiB"
  case "$(cat "$loop/backing_file")" in
    /run/dram/fuse/*/swap) ;;
    *) fail "$dev is bound to $(cat "$loop/backing_file")" ;;
  esac
  [ "$(cat "$loop/dio")" = 1 ] || fail "$dev does not use direct I/O"
  dram-attach --status | tee /tmp/status
  grep -Eq "^$dev +fuse +$donor:$PLAIN_PORT +${SWAP_MIB}M .* connected$" \
    /tmp/status || fail "--status does not show $dev"
  # The server protects itself from reclaim and the OOM killer.
  server=$(sed -n 's/^pid=//p' "/run/dram/${dev#/dev/}.state")
  [ "$(cat /proc/"$server"/comm)" = dram-attach ] || fail "no FUSE server"
  [ "$(cat /proc/"$server"/oom_score_adj)" -eq -1000 ]
  grep -Eq '^VmLck:[[:space:]]*[1-9]' /proc/"$server"/status
  echo "RESULT phase=attach device=$dev swap_kib=$swap_kib dio=1"
  free
}

detach ()
{
  dram-attach --detach all
  nothing_left
  ! kill -0 "$server" 2>/dev/null || fail "the FUSE server is still running"
  echo "RESULT phase=detach left=nothing"
}

# --- swap through FUSE and a loop device ------------------------------
if phase fuse; then
  attach
  # The data path, with no memory pressure (which livelocks, below):
  # 8 MiB of a pattern written through the FUSE file behind the swap
  # device, past its header and the pages swap has used, and read back.
  # (The device itself is swap's alone while swap is on.)
  file=$(cat "$loop/backing_file")
  dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
  dd if=/tmp/pattern of="$file" bs=1M seek=256 conv=notrunc oflag=direct \
    2>/dev/null || fail "writing $file failed"
  dd if="$file" of=/tmp/back bs=1M skip=256 count=8 iflag=direct \
    2>/dev/null || fail "reading $file failed"
  cmp /tmp/pattern /tmp/back || fail "$file gave back other bytes"
  rm -f /tmp/pattern /tmp/back
  echo "RESULT phase=fuse verified_mib=8"
  detach
fi

# asked PHASE: whether PHASES names PHASE (not just "all").
asked ()
{
  case " $PHASES " in
    *" $1 "*) echo "=== phase $1"; return 0 ;;
    *) return 1 ;;
  esac
}

# --- a container's memory limit ----------------------------------------
# The limit must be below what the guest has available, or this is
# global pressure (below) rather than a cgroup's.
if phase memcg; then
  attach
  memcg work "$CGROUP_MIB"
  workload memcg "$WORK_MIB" both "$cg"
  memcg_done
  detach
fi

# --- global pressure: only when asked for by name ----------------------
if asked global; then
  attach
  workload global "$GLOBAL_MIB" both
  detach
fi

echo "guest-fuse: all phases passed"
