#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of swap-vm.sh (busybox sh): attach swap with CLIENT
# (dram-attach or nbd-client) over CONNS connections to the donor at
# 10.0.2.2:PORT (dram-attach-nfs: a swapfile on the NFS export EXPORT
# there), time memverify over WORK_MIB in WORK_MODE, print one BENCH
# line, detach.
set -e

uptime_cs ()
{
  awk '{ split ($1, t, "."); print t[1] * 100 + t[2] }' /proc/uptime
}

vmstat ()
{
  awk -v key="$1" '$1 == key { print $2 }' /proc/vmstat
}

case "$CLIENT" in
  dram-attach)
    dram-attach -c "$CONNS" "10.0.2.2:$PORT" /dev/nbd0
    ;;
  nbd-client)
    nbd-client 10.0.2.2 "$PORT" /dev/nbd0 -b 4096 -C "$CONNS" -swap
    mkswap /dev/nbd0 >/dev/null
    swapon /dev/nbd0
    ;;
  dram-attach-nfs)
    dram-attach --mode=nfs --size 256M "10.0.2.2:$PORT:$EXPORT"
    ;;
  *)
    echo "guest-swap: unknown CLIENT '$CLIENT'" >&2
    exit 1
    ;;
esac
case "$CLIENT" in
  dram-attach-nfs) grep -q '^/run/dram/nfs/.*file' /proc/swaps ;;
  *) grep -q '^/dev/nbd0 ' /proc/swaps ;;
esac

out0=$(vmstat pswpout)
t0=$(uptime_cs)
memverify --procs 2 --mode "$WORK_MODE" "$WORK_MIB"
t1=$(uptime_cs)
out=$(($(vmstat pswpout) - out0))
cs=$((t1 - t0))
echo "BENCH client=$CLIENT conns=$CONNS seconds=$((cs / 100)).$(printf %02d $((cs % 100))) pswpout=$out"

case "$CLIENT" in
  dram-attach) dram-attach --detach /dev/nbd0 ;;
  dram-attach-nfs) dram-attach --detach all ;;
  nbd-client) swapoff /dev/nbd0 && nbd-client -d /dev/nbd0 ;;
esac
