#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause

# Guest half of test-vm-nbd-client.sh (busybox sh, run by the VM's /init).
# Swap on /dev/nbd0, connected by Debian's nbd-client to nbdkit on the
# host, must hold a workload well over the guest's RAM.
# From the host: NBD_PORT, SWAP_MIB (size of the export), WORK_MIB and
# WORK_PROCS (the memverify run).

set -e -x

vmstat ()
{
  awk -v key="$1" '$1 == key { print $2 }' /proc/vmstat
}

# The export is nbdkit's default (unnamed) one, which nbd-client asks
# for when no -N is given.  -swap makes nbd-client mlockall itself.
nbd-client 10.0.2.2 "$NBD_PORT" /dev/nbd0 -b 4096 -swap
[ "$(cat /sys/block/nbd0/size)" -eq $((SWAP_MIB * 2048)) ]

mkswap /dev/nbd0
swapon /dev/nbd0
cat /proc/swaps
# The swap header takes one page.
swap_kib=$(awk '$1 == "/dev/nbd0" { print $3 }' /proc/swaps)
[ "$swap_kib" -eq $((SWAP_MIB * 1024 - 4)) ]

free
out_before=$(vmstat pswpout)
in_before=$(vmstat pswpin)
start=$(date +%s)
memverify --verbose --procs "$WORK_PROCS" --mode both "$WORK_MIB"
end=$(date +%s)
out_after=$(vmstat pswpout)
in_after=$(vmstat pswpin)
echo "RESULT memverify_seconds=$((end - start))" \
     "pswpout=$((out_after - out_before)) pswpin=$((in_after - in_before))"

# The workload exceeds RAM by at least WORK_MIB - RAM, so at least that
# much must have gone out to /dev/nbd0 and come back.
ram_mib=$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
min_pages=$(((WORK_MIB - ram_mib) * 256))
[ $((out_after - out_before)) -ge "$min_pages" ]
[ $((in_after - in_before)) -gt 0 ]

swapoff /dev/nbd0
if grep -q '^/dev/nbd0 ' /proc/swaps; then
  echo "swapoff left /dev/nbd0 in /proc/swaps" >&2
  exit 1
fi
nbd-client -d /dev/nbd0
