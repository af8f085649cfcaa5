#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of test-vm-attach.sh (busybox sh, run by the VM's /init).
# dram-attach against nbdkit-dram-plugin on the host, on Debian's
# kernel: refusals that leave nothing behind, then swap that holds a
# workload of 2.5 times the guest's RAM, over netlink (sequential and
# random), 4 connections, the ioctl fallback and kernel TLS (sequential:
# under TCG a random round costs minutes); the TLS proxy fallback with
# data but no swap.
# From the host: PLAIN_PORT (size=SWAP_MIB), TLS_PORT (TLS-PSK with
# /etc/dram/keys.psk, size=TLS_MIB), STRICT_PORT (only export "swap",
# size=STRICT_MIB), DEAD_PORT (nobody), WORK_MIB, WORK_PROCS.

set -e -x

# guest-functions.sh: vmstat, fail, phase, expect, workload.
. /etc/dram-vm-functions.sh

donor=10.0.2.2

# established PORT: TCP connections to the donor's PORT (10.0.2.2 is
# 0202000A in /proc/net/tcp; state 01 is established).
established ()
{
  awk -v r="$(printf '0202000A:%04X' "$1")" \
    '$3 == r && $4 == "01" { n++ } END { print n + 0 }' /proc/net/tcp
}

# swap_field FIELD: the /proc/swaps column of /dev/nbd0 (3 size, 5 prio).
swap_field ()
{
  awk -v f="$1" '$1 == "/dev/nbd0" { print $f }' /proc/swaps
}

# Resident dram-attach processes report to syslog.
syslogd -O /tmp/syslog
dram-attach --version
nbd_nothing_left

# --- refusals ---------------------------------------------------------
if phase refusals; then
  expect 2 "donor $donor:$DEAD_PORT" dram-attach "$donor:$DEAD_PORT"
  nbd_nothing_left
  expect 2 "check the export name" dram-attach "$donor:$STRICT_PORT"
  nbd_nothing_left
  expect 2 "check the export name" dram-attach -e other "$donor:$STRICT_PORT"
  nbd_nothing_left
  expect 2 "donor $donor:$TLS_PORT" dram-attach "$donor:$TLS_PORT"
  nbd_nothing_left
  expect 2 "donor $donor:$TLS_PORT" \
    dram-attach --tls-psk /etc/dram/wrong.psk "$donor:$TLS_PORT"
  nbd_nothing_left
  expect 1 "/dev/sda is not an NBD device" dram-attach "$donor:$PLAIN_PORT" /dev/sda
  nbd_nothing_left

  # The right export name works; a busy device is refused.
  dram-attach --no-swap -e swap "$donor:$STRICT_PORT" /dev/nbd1
  [ "$(cat /sys/block/nbd1/size)" -eq $((STRICT_MIB * 2048)) ]
  ! grep -q '^/dev/nbd1 ' /proc/swaps
  expect 1 "/dev/nbd1 is busy: it is already connected to a server" \
    dram-attach --no-swap -e swap "$donor:$STRICT_PORT" /dev/nbd1
  dram-attach --detach /dev/nbd1
  nbd_nothing_left
fi

# --- swap over netlink, priority, discard, label ----------------------
if phase netlink; then
  dram-attach -p 5 --discard -L dramswap "$donor:$PLAIN_PORT"
  cat /proc/swaps
  # The header takes one page.
  [ "$(swap_field 3)" -eq $((SWAP_MIB * 1024 - 4)) ]
  [ "$(swap_field 5)" -eq 5 ]
  [ "$(established "$PLAIN_PORT")" -eq 1 ]
  [ "$(cat /sys/block/nbd0/backend)" = "dram:$donor:$PLAIN_PORT" ]
  dram-attach --status | tee /tmp/status
  grep -Eq "^/dev/nbd0 +nbd +$donor:$PLAIN_PORT +${SWAP_MIB}M .* 5 +1 +0 connected$" \
    /tmp/status
  dram-attach --status --json | tee /tmp/json
  for kv in '"device": "/dev/nbd0"' '"mode": "nbd"' '"priority": 5' \
            '"discard": true' '"handover": "netlink"' '"state": "connected"' \
            "\"size\": $((SWAP_MIB << 20))" '"swap": true'; do
    grep -qF "$kv" /tmp/json || fail "--status --json lacks $kv"
  done
  expect 1 "/dev/nbd0 is busy: it is already in use as swap" \
    dram-attach "$donor:$PLAIN_PORT" /dev/nbd0
  workload netlink "$WORK_MIB" both
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- 4 connections: the kernel holds 4 sockets to the donor -----------
if phase conns4; then
  dram-attach -c 4 "$donor:$PLAIN_PORT"
  [ "$(established "$PLAIN_PORT")" -eq 4 ] || fail "not 4 connections"
  dram-attach --status --json | grep -qF '"connections": 4'
  workload conns4 "$WORK_MIB" seq
  dram-attach --detach all
  nbd_nothing_left
fi

# --- the ioctl fallback (a resident NBD_DO_IT child) ------------------
if phase ioctl; then
  DRAM_ATTACH_HANDOVER=ioctl dram-attach "$donor:$PLAIN_PORT" || fail "ioctl attach"
  dram-attach --status --json | grep -qF '"handover": "ioctl"'
  [ -n "$(pidof dram-attach)" ] || fail "no resident NBD_DO_IT child"
  # It protects itself from reclaim and the OOM killer.
  child=$(pidof dram-attach)
  [ "$(cat /proc/$child/oom_score_adj)" -eq -1000 ]
  grep -Eq '^VmLck:[[:space:]]*[1-9]' /proc/$child/status
  workload ioctl "$WORK_MIB" seq
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- TLS-PSK, kernel TLS: after the handshake the kernel does TLS on
# the socket, and no process stays in the data path (the one that stays
# is the reconnecting monitor, which only watches) ---------------------
if phase tls; then
  dram-attach --tls-psk /etc/dram/keys.psk "$donor:$TLS_PORT" || fail "TLS attach"
  dram-attach --status --json | grep -qF '"tls": "kernel"'
  [ "$(pidof dram-attach)" = "$(sed -n 's/^monitor_pid=//p' \
      /run/dram/nbd0.state)" ] || fail "a process stayed with kernel TLS"
  [ "$(established "$TLS_PORT")" -eq 1 ]
  workload tls "$WORK_MIB" seq
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- TLS-PSK through the proxy, the fallback where the kernel cannot
# do TLS: a resident proxy carries the traffic.  Data only: under memory
# pressure the proxy's socket cannot use the kernel's reserves (see
# dram-attach(8)), so no swap here. ------------------------------------
if phase tlsproxy; then
  DRAM_ATTACH_TLS=proxy dram-attach --no-swap --tls-psk /etc/dram/keys.psk \
    "$donor:$TLS_PORT" || fail "TLS proxy attach"
  dram-attach --status --json | grep -qF '"tls": "proxy"'
  proxy=$(pidof dram-attach)
  [ -n "$proxy" ] || fail "no TLS proxy"
  [ "$(cat /proc/$proxy/oom_score_adj)" -eq -1000 ]
  grep -Eq '^VmLck:[[:space:]]*[1-9]' /proc/$proxy/status
  [ "$(cat /sys/block/nbd0/queue/max_sectors_kb)" -eq 128 ]
  # 4 MiB: files in this RAM-only guest's /tmp take its memory, and
  # a starved proxy is the failure this phase must avoid.
  dd if=/dev/urandom of=/tmp/data bs=1M count=4
  dd if=/tmp/data of=/dev/nbd0 bs=1M seek=3 oflag=direct
  dd if=/dev/nbd0 of=/tmp/back bs=1M skip=3 count=4 iflag=direct
  cmp /tmp/data /tmp/back || fail "TLS proxy: the data came back different"
  rm -f /tmp/data /tmp/back
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

echo "guest-attach: all phases passed"
