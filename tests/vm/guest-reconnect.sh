#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of test-vm-reconnect.sh (busybox sh, run by the VM's /init).
# While memverify swaps, the guest prints "DRAM-FAULT NAME" and the host
# does that to the donor (see test-vm-reconnect.sh):
#   kill, cut  the same region comes back: every byte is verified and
#              --status counts the reconnect;
#   lost       a new region: dram-attach refuses it and fails the
#              device; what was written is never read back wrong;
#   tls        kill and restart with TLS-PSK and kernel TLS; a wrong key
#              and a plain-text donor are refused at attach.
# From the host: PLAIN_PORT (backing=file), RELAY_PORT (socat to it),
# TLS_PORT (TLS-PSK with /etc/dram/keys.psk), WORK_MIB, TLS_WORK_MIB,
# WORK_PROCS.

set -e -x

# guest-functions.sh: vmstat, fail, phase, expect.
. /etc/dram-vm-functions.sh

donor=10.0.2.2
# The resident monitor's messages, to assert on.
export DRAM_ATTACH_LOG=/tmp/dram-attach.log

# The monitor: resident, protected, and alone.
check_monitor ()
{
  mon=$(pidof dram-attach) || fail "no resident monitor"
  [ "$(echo "$mon" | wc -w)" -eq 1 ] || fail "several dram-attach: $mon"
  [ "$(cat "/proc/$mon/oom_score_adj")" -eq -1000 ]
  grep -Eq '^VmLck:[[:space:]]*[1-9]' "/proc/$mon/status"
}

# json_field NAME: a field of the only device in --status --json.
json_field ()
{
  dram-attach --status --json |
    sed -n "s/.*\"$1\": \"*\([^\",]*\)\"*[,}].*/\1/p"
}

# show_status PHASE: --status, for the host's log.
show_status ()
{
  dram-attach --status | sed "s/^/STATUS $1: /"
}

# faulted_workload PHASE FAULT MIB [FILE]: memverify over MIB; once it
# has swapped out 20 MiB (and FILE's pages were pushed out to swap),
# asks the host for FAULT; waits (at most 10 minutes) for memverify and
# sets $mv_rc.  One RESULT line.
faulted_workload ()
{
  out0=$(vmstat pswpout)
  in0=$(vmstat pswpin)
  t0=$(date +%s)
  memverify --procs "$WORK_PROCS" --mode seq "$3" > /tmp/mv.out 2>&1 &
  mv=$!
  i=0
  while [ $(($(vmstat pswpout) - out0)) -lt 5120 ]; do
    kill -0 "$mv" 2>/dev/null || { cat /tmp/mv.out; fail "$1: memverify ended before swapping"; }
    i=$((i + 1))
    [ "$i" -le 600 ] || fail "$1: no swapping after 60 s"
    sleep 0.1
  done
  # A file the reconnect must not need (it would wait for itself):
  # its pages now only in swap, on the device.
  if [ -n "${4:-}" ]; then
    pageout "$4" || fail "$1: $4 could not be pushed out to swap"
  fi
  echo "DRAM-FAULT $2"
  tf=$(date +%s)
  i=0
  while kill -0 "$mv" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 600 ] || { kill -9 "$mv"; fail "$1: memverify still running after 10 minutes"; }
    sleep 1
  done
  mv_rc=0
  wait "$mv" || mv_rc=$?
  t1=$(date +%s)
  sed 's/^/memverify: /' /tmp/mv.out
  echo "RESULT phase=$1 mib=$3 seconds=$((t1 - t0)) fault_at=$((tf - t0))" \
       "pswpout=$(($(vmstat pswpout) - out0)) pswpin=$(($(vmstat pswpin) - in0))" \
       "memverify_exit=$mv_rc" \
       "mismatches=$(grep -c MISMATCH /tmp/mv.out || :)"
}

# verified PHASE: memverify checked every byte, and the connection came
# back: connected, counted.
verified ()
{
  [ "$mv_rc" -eq 0 ] || fail "$1: memverify exited $mv_rc"
  grep -q 'OK: verified' /tmp/mv.out || fail "$1: memverify did not verify"
  ! grep -q MISMATCH /tmp/mv.out || fail "$1: a wrong byte was read"
  grep -q "reconnected to the donor after" "$DRAM_ATTACH_LOG" ||
    fail "$1: the monitor did not say it reconnected"
  : > "$DRAM_ATTACH_LOG"
  [ "$(json_field state)" = connected ] || fail "$1: not connected"
  [ "$(json_field reconnects)" -ge 1 ] || fail "$1: no reconnect counted"
  dram-attach --status | grep -Eq '^/dev/nbd0 .* +[1-9][0-9]* connected' ||
    fail "$1: --status does not show the reconnect"
}

syslogd -O /tmp/syslog
# The monitor's messages reach the console as they are written: a
# failing device can take the guest down before its log is read.
: > "$DRAM_ATTACH_LOG"
tail -f "$DRAM_ATTACH_LOG" |
  while IFS= read -r line; do echo "ATTACH-LOG: $line"; done &
dram-attach --version
nbd_nothing_left

# --- kill: the donor dies and comes back with the same region --------
if phase kill; then
  dram-attach "$donor:$PLAIN_PORT"
  check_monitor
  [ -e /run/dram/nbd0.health ] || fail "no health record"
  faulted_workload kill kill "$WORK_MIB"
  verified kill
  show_status kill
  # Nobody would remake a lost connection now: --status says so.
  kill -9 "$(pidof dram-attach)"
  sleep 0.5
  dram-attach --status | grep -Eq '^/dev/nbd0 .* monitor gone$' ||
    fail "kill: --status does not show the monitor gone"
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- cut: the connection is cut for 10 s, the donor lives on ---------
if phase cut; then
  dram-attach "$donor:$RELAY_PORT"
  check_monitor
  # The monitor's log file (on tmpfs) has a page, pushed out to swap:
  # "lost the donor" must not wait for it to come back.
  echo "guest: phase cut" >> "$DRAM_ATTACH_LOG"
  faulted_workload cut cut "$WORK_MIB" "$DRAM_ATTACH_LOG"
  verified cut
  show_status cut
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- tls: kernel TLS, reconnects included; refusals --------------------
if phase tls; then
  expect 2 "donor $donor:$TLS_PORT" \
    dram-attach --tls-psk /etc/dram/wrong.psk "$donor:$TLS_PORT"
  nbd_nothing_left
  expect 2 "donor $donor:$PLAIN_PORT" \
    dram-attach --tls-psk /etc/dram/keys.psk "$donor:$PLAIN_PORT"
  nbd_nothing_left
  dram-attach --tls-psk /etc/dram/keys.psk "$donor:$TLS_PORT"
  [ "$(json_field tls)" = kernel ] || fail "tls: not kernel TLS"
  check_monitor
  # The key file is on the initramfs's tmpfs, and swapped out.
  faulted_workload tls tls "$TLS_WORK_MIB" /etc/dram/keys.psk
  verified tls
  show_status tls
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- lost: the donor comes back with a new region: refused, and what
# was written there is never read back as anything else.  On the block
# device, not as swap: a swap workload here can take pages of init with
# it (memory charged before any cgroup existed stays with the root
# cgroup, which cannot be kept off swap), and init cannot survive that.
# The swap workload's version of this phase runs on the host, in fuse
# mode (test-fuse-reconnect.sh). -----------------------------------------
if phase lost; then
  dram-attach --no-swap "$donor:$PLAIN_PORT"
  check_monitor
  dd if=/dev/urandom of=/tmp/written bs=1M count=16 2>/dev/null
  dd if=/tmp/written of=/dev/nbd0 bs=1M oflag=direct
  dd if=/dev/nbd0 bs=1M count=16 iflag=direct 2>/dev/null |
    cmp - /tmp/written || fail "lost: the device did not hold what was written"
  echo "DRAM-FAULT lost"
  i=0
  until [ "$(json_field state)" = failed ]; do
    i=$((i + 1))
    [ "$i" -le 600 ] || fail "lost: the device was not failed in 60 s"
    sleep 0.1
  done
  # Every byte read back is the byte written, or the read fails.
  rc=0
  dd if=/dev/nbd0 of=/tmp/read bs=1M count=16 iflag=direct || rc=$?
  got=$(wc -c < /tmp/read)
  echo "RESULT phase=lost read_exit=$rc bytes_read=$got of $((16 << 20))"
  [ "$got" -lt $((16 << 20)) ] || fail "lost: the lost region was read in full"
  [ "$got" -eq 0 ] || head -c "$got" /tmp/written | cmp - /tmp/read ||
    fail "lost: a wrong byte was read"
  grep -q "now serves another region" "$DRAM_ATTACH_LOG" ||
    fail "lost: the monitor did not refuse the new region"
  grep -q "failing this device's requests from now on" "$DRAM_ATTACH_LOG" ||
    fail "lost: the monitor did not fail the device"
  dram-attach --status | grep -q "last error: .*another region" ||
    fail "lost: --status does not show the last error"
  show_status lost
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

echo "guest-reconnect: all phases passed"
