#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of test-vm-attach.sh (busybox sh, run by the VM's /init).
# dram-attach against nbdkit-dram-plugin on the host, on Debian's
# kernel: refusals, each with its reason, that leave nothing behind;
# then swap that holds a workload of 2.5 times the guest's RAM, over
# netlink (sequential and random; --label read back by blkid, --discard
# checked by the host in the donor's memory), 4 connections, the ioctl
# fallback and kernel TLS (sequential: under TCG a random round costs
# minutes); the TLS proxy fallback with a workload of 3 times a cgroup
# v2 memory limit (under global pressure the proxy is at risk, see
# dram-attach(8)); two attaches to one donor, a region each, with the
# refusals of a third (no room) and of a fourth under the first one's
# name (the swap probe); the donor named by NBD URIs, and over IPv6.
# From the host: NETLINK_PORT and PLAIN_PORT (size=SWAP_MIB; the first
# for the netlink phase alone), TLS_PORT (TLS-PSK with
# /etc/dram/keys.psk), STRICT_PORT (only export "swap", size=STRICT_MIB),
# SINGLE_PORT (no multi-conn), PAIR_PORT (two regions of PAIR_MIB),
# PLAIN6_PORT (on the host's ::1, which is
# fec0::2 here), DEAD_PORT (nobody), WORK_MIB, CGROUP_MIB and
# CGROUP_WORK_MIB (a cgroup's limit and workload), WORK_PROCS.

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

# A host name, which names dram-attach's regions (HOST-TOKEN).
hostname dram-guest
# Resident dram-attach processes report to syslog.
syslogd -O /tmp/syslog
dram-attach --version
nbd_nothing_left

# round_trip DEV: 4 MiB through DEV and back, past its first MiB.
round_trip ()
{
  dd if=/dev/urandom of=/tmp/data bs=1M count=4 2>/dev/null
  dd if=/tmp/data of="$1" bs=1M seek=1 oflag=direct 2>/dev/null ||
    fail "writing $1 failed"
  dd if="$1" of=/tmp/back bs=1M skip=1 count=4 iflag=direct 2>/dev/null ||
    fail "reading $1 failed"
  cmp /tmp/data /tmp/back || fail "$1 gave back other bytes"
  rm -f /tmp/data /tmp/back
}

# --- refusals ---------------------------------------------------------
if phase refusals; then
  # Through QEMU's user network the refusal comes at the first read.
  expect 2 "Connection refused (is nbdkit running there?)" \
    dram-attach "$donor:$DEAD_PORT"
  nbd_nothing_left
  # By default dram-attach asks for a region of its own, HOST-TOKEN.
  expect 2 "server has no export named '$(hostname)-" \
    dram-attach "$donor:$STRICT_PORT"
  grep -Eq "server has no export named '$(hostname)-[0-9a-f]{32}': No such file or directory" \
    /tmp/err || fail "the default export is not HOST-TOKEN"
  grep -qF "(a donor on another machine refuses clients without TLS: use --tls-psk FILE with the donor's key; or check the export name)" \
    /tmp/err || fail "a missing export was not explained"
  nbd_nothing_left
  expect 2 "server has no export named 'other'" \
    dram-attach -e other "$donor:$STRICT_PORT"
  nbd_nothing_left
  expect 2 "server requires TLS encryption first: Operation not supported (the donor requires TLS: use --tls-psk FILE with its key)" \
    dram-attach "$donor:$TLS_PORT"
  nbd_nothing_left
  expect 2 "(the TLS handshake failed: are the key and its user name the donor's?)" \
    dram-attach --tls-psk /etc/dram/wrong.psk "$donor:$TLS_PORT"
  nbd_nothing_left
  expect 2 "(the donor does not offer TLS: start it with --tls=require --tls-psk=FILE)" \
    dram-attach --tls-psk /etc/dram/keys.psk "$donor:$PLAIN_PORT"
  nbd_nothing_left
  expect 2 "donor $donor:$SINGLE_PORT does not allow several connections (no multi-conn); use --connections 1" \
    dram-attach -c 2 "$donor:$SINGLE_PORT"
  nbd_nothing_left
  expect 1 "/dev/sda is not an NBD device" dram-attach "$donor:$PLAIN_PORT" /dev/sda
  nbd_nothing_left
  # The refused clients took no donor down: the right key is served.
  dram-attach --no-swap --tls-psk /etc/dram/keys.psk "$donor:$TLS_PORT" ||
    fail "the TLS donor no longer serves after the refusals"
  dram-attach --detach /dev/nbd0
  nbd_nothing_left

  # The right export name works; a busy device is refused.
  dram-attach --no-swap -e swap "$donor:$STRICT_PORT" /dev/nbd1
  [ "$(cat /sys/block/nbd1/size)" -eq $((STRICT_MIB * 2048)) ]
  ! grep -q '^/dev/nbd1 ' /proc/swaps || fail "--no-swap made swap"
  expect 1 "/dev/nbd1 is busy: it is already connected to a server" \
    dram-attach --no-swap -e swap "$donor:$STRICT_PORT" /dev/nbd1
  dram-attach --detach /dev/nbd1
  nbd_nothing_left
fi

# --- swap over netlink, priority, discard, label ----------------------
if phase netlink; then
  dram-attach -p 5 --discard -L dramswap "$donor:$NETLINK_PORT"
  cat /proc/swaps
  # The label and type, as blkid reads them off the device.
  # (util-linux's blkid, from the host: busybox has none.)
  [ "$(blkid -p -s TYPE -o value /dev/nbd0)" = swap ] ||
    fail "blkid does not read swap on /dev/nbd0"
  [ "$(blkid -p -s LABEL -o value /dev/nbd0)" = dramswap ] ||
    fail "--label: blkid reads '$(blkid -p -s LABEL -o value /dev/nbd0)', not dramswap"
  # The header takes one page.
  [ "$(swap_field 3)" -eq $((SWAP_MIB * 1024 - 4)) ]
  [ "$(swap_field 5)" -eq 5 ]
  [ "$(established "$NETLINK_PORT")" -eq 1 ]
  [ "$(cat /sys/block/nbd0/backend)" = "dram:$donor:$NETLINK_PORT" ]
  dram-attach --status | tee /tmp/status
  grep -Eq "^/dev/nbd0 +nbd +$donor:$NETLINK_PORT +${SWAP_MIB}M .* 5 +1 +0 connected$" \
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
  # The host reads the donor's memory from here on: the workload's swap
  # was freed and discarded.
  echo "RESULT phase=netlink-discarded"
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
# do TLS: a resident proxy carries the traffic.  Swap for a cgroup's
# workload of 3 times its limit (the proxy's own socket cannot use the
# kernel's reserves, so under the guest's global pressure it is at risk:
# dram-attach(8)). -------------------------------------------------------
if phase tlsproxy; then
  DRAM_ATTACH_TLS=proxy dram-attach --tls-psk /etc/dram/keys.psk \
    "$donor:$TLS_PORT" || fail "TLS proxy attach"
  dram-attach --status --json | grep -qF '"tls": "proxy"' || fail "not the proxy"
  grep -q '^/dev/nbd0 ' /proc/swaps || fail "no swap over the TLS proxy"
  proxy=$(pidof dram-attach)
  [ -n "$proxy" ] || fail "no TLS proxy"
  [ "$(cat /proc/$proxy/oom_score_adj)" -eq -1000 ] || fail "proxy: oom_score_adj"
  grep -Eq '^VmLck:[[:space:]]*[1-9]' /proc/$proxy/status || fail "proxy: nothing locked"
  [ "$(cat /sys/block/nbd0/queue/max_sectors_kb)" -eq 128 ] ||
    fail "proxy: requests are not limited to 128 KiB"
  memcg tlsproxy "$CGROUP_MIB"
  workload tlsproxy "$CGROUP_WORK_MIB" both "$cg"
  memcg_done
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- two attaches to one donor: a region each (PAIR_PORT lends two of
# PAIR_MIB); a third is refused for want of room, a fourth under the
# first one's name by the swap probe, and neither touches the first.
# Both swap for a cgroup's workload, which verifies every byte. --------
if phase regions; then
  dram-attach -p 3 "$donor:$PAIR_PORT" /dev/nbd0 || fail "first attach"
  dram-attach -p 3 "$donor:$PAIR_PORT" /dev/nbd1 || fail "second attach"
  cat /proc/swaps
  for d in nbd0 nbd1; do
    [ "$(awk -v d=/dev/$d '$1 == d { print $3 }' /proc/swaps)" -eq $((PAIR_MIB * 1024 - 4)) ] ||
      fail "/dev/$d is not swap of $PAIR_MIB MiB"
  done
  name0=$(sed -n 's/^export=//p' /run/dram/nbd0.state)
  name1=$(sed -n 's/^export=//p' /run/dram/nbd1.state)
  [ -n "$name0" ] && [ "$name0" != "$name1" ] || fail "two attaches, one region"
  expect 2 "donor $donor:$PAIR_PORT: all $((2 * PAIR_MIB))M lent (2 regions of ${PAIR_MIB}M); nothing left for this recipient" \
    dram-attach "$donor:$PAIR_PORT" /dev/nbd2
  uuid0=$(blkid -p -s UUID -o value /dev/nbd0)
  expect 2 "/dev/nbd2: region '$name0' of donor $donor:$PAIR_PORT already holds swap UUID $uuid0: another recipient's? choose another export or --force" \
    dram-attach -e "$name0" "$donor:$PAIR_PORT" /dev/nbd2
  [ ! -e /sys/block/nbd2/pid ] || fail "a refused attach left /dev/nbd2 connected"
  [ "$(grep -c '^/dev/nbd' /proc/swaps)" -eq 2 ] || fail "the refusals changed the swaps"
  [ "$(blkid -p -s UUID -o value /dev/nbd0)" = "$uuid0" ] ||
    fail "a refused attach wrote over the first one's swap"
  dram-attach --status | tee /tmp/status
  [ "$(grep -cE "^ +region $(hostname)-[0-9a-f]{8}\.\.\.; the donor had " /tmp/status)" -eq 2 ] ||
    fail "--status does not name both regions"
  # Both take swap: sampled while the workload runs.
  ( i=0
    while [ $i -lt 2400 ] && [ ! -e /tmp/pair.done ]; do
      awk '$1 == "/dev/nbd0" { a = $4 } $1 == "/dev/nbd1" { b = $4 }
           END { print a + 0, b + 0 }' /proc/swaps
      i=$((i + 1))
      sleep 0.25
    done ) > /tmp/pair.used &
  sampler=$!
  memcg regions "$CGROUP_MIB"
  workload regions "$CGROUP_WORK_MIB" seq "$cg"
  memcg_done
  touch /tmp/pair.done
  wait $sampler
  max0=$(awk '{ print $1 }' /tmp/pair.used | sort -n | tail -1)
  max1=$(awk '{ print $2 }' /tmp/pair.used | sort -n | tail -1)
  echo "RESULT phase=regions used0_kib=$max0 used1_kib=$max1"
  [ "$max0" -gt 1024 ] && [ "$max1" -gt 1024 ] ||
    fail "the workload did not swap to both regions ($max0, $max1 KiB)"
  # Detached, each region is trimmed whole, so the donor frees it at
  # once (the host checks).
  dram-attach --detach all
  nbd_nothing_left
fi

# --- the donor named by NBD URIs, and over IPv6 (QEMU's user network:
# the host's ::1 is fec0::2) ------------------------------------------
if phase uris; then
  # No duplicate address detection to wait for (busybox's ip has no
  # nodad).
  echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad
  ip -6 addr add fec0::15/64 dev eth0 || fail "no IPv6 address"
  ip -6 addr show dev eth0
  for target in "nbd://$donor:$PLAIN_PORT/" "nbd://$donor:$STRICT_PORT/swap" \
      "nbds://dram@$donor:$TLS_PORT/?tls-psk-file=/etc/dram/keys.psk" \
      "[fec0::2]:$PLAIN6_PORT" "nbd://[fec0::2]:$PLAIN6_PORT/"; do
    dram-attach --no-swap "$target" || fail "attach to $target"
    dram-attach --status | tee /tmp/status
    grep -qF "$target" /tmp/status || fail "--status does not name $target"
    grep -Eq '^/dev/nbd0 .* connected(, [[:alnum:] ]+)?$' /tmp/status || fail "$target: not connected"
    round_trip /dev/nbd0
    dram-attach --detach /dev/nbd0
    nbd_nothing_left
    echo "RESULT phase=uris target=$target verified_mib=4"
  done
  expect 2 "server has no export named 'other'" \
    dram-attach --no-swap "nbd://$donor:$STRICT_PORT/other"
  nbd_nothing_left
  # Swap over IPv6, for a cgroup's workload.
  dram-attach "[fec0::2]:$PLAIN6_PORT" || fail "IPv6 swap attach"
  grep -q '^/dev/nbd0 ' /proc/swaps || fail "no swap over IPv6"
  memcg ipv6 "$CGROUP_MIB"
  workload ipv6 "$CGROUP_WORK_MIB" both "$cg"
  memcg_done
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

echo "guest-attach: all phases passed"
