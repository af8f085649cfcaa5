#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of test-vm-reconnect.sh (busybox sh, run by the VM's /init).
# While memverify swaps, the guest prints "DRAM-FAULT NAME" and the host
# does that to the donor (see test-vm-reconnect.sh):
#   kill, cut  the same region comes back: every byte is verified and
#              --status counts the reconnect;
#   lost       a new region, while a cgroup's workload swaps: dram-attach
#              refuses it and fails the device; the workload is killed
#              (SIGBUS, SIGKILL) and never reads a wrong byte;
#   tls        kill and restart with TLS-PSK and kernel TLS; a wrong key
#              and a plain-text donor are refused at attach;
#   gone       the donor does not come back: --reconnect-timeout 4 gives
#              up after 4 s, 0 fails the device at once;
#   silent     the donor stops answering (SIGSTOP): without --timeout a
#              read waits for it and gets its bytes; with --timeout 3 the
#              kernel gives the connection up, the monitor cannot get an
#              answer either, and the read fails.
# From the host: PLAIN_PORT (backing=file), RELAY_PORT (socat to it),
# TLS_PORT (TLS-PSK with /etc/dram/keys.psk), GONE_PORT and STOP_PORT
# (donors of their own phases), WORK_MIB, TLS_WORK_MIB, CGROUP_MIB and
# CGROUP_WORK_MIB (a cgroup's limit and workload), WORK_PROCS.

set -e -x

# guest-functions.sh: vmstat, fail, phase, expect, memcg.
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

# wait_log TEXT PHASE: the monitor's log says TEXT (within 60 s).
wait_log ()
{
  i=0
  until grep -q "$1" "$DRAM_ATTACH_LOG"; do
    i=$((i + 1))
    [ "$i" -le 600 ] || fail "$2: the monitor never said: $1"
    sleep 0.1
  done
}

# wait_failed PHASE: --status says failed (within 60 s).
wait_failed ()
{
  i=0
  until [ "$(json_field state)" = failed ]; do
    i=$((i + 1))
    [ "$i" -le 600 ] || fail "$1: the device was not failed in 60 s"
    sleep 0.1
  done
}

# pattern DEV: 1 MiB of random bytes written to DEV (kept in /tmp/pattern).
pattern ()
{
  dd if=/dev/urandom of=/tmp/pattern bs=1M count=1 2>/dev/null
  dd if=/tmp/pattern of="$1" bs=1M oflag=direct 2>/dev/null ||
    fail "writing $1 failed"
}

# read_fails PHASE: a read of /dev/nbd0 gets none of its data: it fails
# with an I/O error (a request that waited for the donor), or finds the
# device empty (disconnected before the read: size 0); sets $took
# (seconds).
read_fails ()
{
  t0=$(date +%s)
  rc=0
  dd if=/dev/nbd0 of=/tmp/read bs=4K count=1 iflag=direct 2> /tmp/dd || rc=$?
  took=$(($(date +%s) - t0))
  cat /tmp/dd
  if [ "$rc" -ne 0 ]; then
    grep -q "Input/output error" /tmp/dd ||
      fail "$1: the read did not fail with an I/O error"
  else
    [ ! -s /tmp/read ] || fail "$1: a read of the lost device got data"
    [ "$(cat /sys/block/nbd0/size)" -eq 0 ] ||
      fail "$1: an empty read of a device that has a size"
  fi
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
  expect 2 "(the TLS handshake failed: are the key and its user name the donor's?)" \
    dram-attach --tls-psk /etc/dram/wrong.psk "$donor:$TLS_PORT"
  nbd_nothing_left
  expect 2 "(the donor does not offer TLS: start it with --tls=require --tls-psk=FILE)" \
    dram-attach --tls-psk /etc/dram/keys.psk "$donor:$PLAIN_PORT"
  nbd_nothing_left
  # The key on tmpfs (the root is ramfs here, see test-vm-reconnect.sh),
  # as in a container's secrets, so that it can be pushed out to swap.
  cp /etc/dram/keys.psk /tmp/keys.psk
  dram-attach --tls-psk /tmp/keys.psk "$donor:$TLS_PORT"
  [ "$(json_field tls)" = kernel ] || fail "tls: not kernel TLS"
  check_monitor
  # The key file is on tmpfs, and swapped out.
  faulted_workload tls tls "$TLS_WORK_MIB" /tmp/keys.psk
  verified tls
  show_status tls
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- lost: the donor comes back with a new region while a cgroup's
# workload swaps to it: refused, the workload dies of it, and no byte it
# read was wrong.  The workload is held in a cgroup whose limit fits in
# the guest, so that only its own pages go to swap (a global workload
# here takes pages of init with it, which cannot survive losing them).
# What the test reads after the loss must not be in the lost swap
# either: the programs and scripts are on the root, ramfs here (see
# test-vm-reconnect.sh); memverify's words (through a pipe, written by
# a process outside its cgroup), the monitor's log and dram-attach's
# records go to a ramfs of the phase's own.
if phase lost; then
  mkdir -p /lost
  mount -t ramfs -o mode=0700 lost /lost || fail "lost: no ramfs"
  tmp_log=$DRAM_ATTACH_LOG
  export DRAM_ATTACH_LOG=/lost/attach.log DRAM_RUNDIR=/lost/run
  : > "$DRAM_ATTACH_LOG"
  dram-attach "$donor:$PLAIN_PORT"
  check_monitor
  memcg lost "$CGROUP_MIB"
  out0=$(vmstat pswpout)
  ( set +e
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
      memverify --procs "$WORK_PROCS" --mode both --passes 1000 \
      "$CGROUP_WORK_MIB" 2>&1
    echo "memverify_exit=$?" ) | cat > /lost/mv.out &
  pipe=$!
  i=0
  until [ -n "$(cat "$cg/cgroup.procs")" ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || fail "lost: the workload never entered its cgroup"
    sleep 0.1
  done
  i=0
  while [ $(($(vmstat pswpout) - out0)) -lt 5120 ]; do
    [ -n "$(cat "$cg/cgroup.procs")" ] ||
      { cat /lost/mv.out; fail "lost: memverify ended before swapping"; }
    i=$((i + 1))
    [ "$i" -le 600 ] || fail "lost: no swapping after 60 s"
    sleep 0.1
  done
  [ -n "$(cat "$cg/cgroup.procs")" ] || fail "lost: the workload was gone before the fault"
  echo "RESULT phase=lost swapped_kib=$(( ($(vmstat pswpout) - out0) * 4 )) before the fault"
  echo "DRAM-FAULT lost"
  i=0
  while [ -n "$(cat "$cg/cgroup.procs")" ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || { xargs kill -9 < "$cg/cgroup.procs"; fail "lost: the workload outlived its swap by 5 minutes"; }
    sleep 1
  done
  wait "$pipe" || :
  sed 's/^/memverify: /' /lost/mv.out
  mv_rc=$(sed -n 's/^memverify_exit=//p' /lost/mv.out)
  echo "RESULT phase=lost memverify_exit=$mv_rc mismatches=$(grep -c MISMATCH /lost/mv.out || :)"
  # Never a wrong byte; killed by SIGBUS (a swap-in that failed) or
  # SIGKILL (the cgroup's OOM killer, with nowhere to swap out), and by
  # nothing else (memverify's own memory is locked).
  ! grep -q "MISMATCH\|bad 8-byte words" /lost/mv.out ||
    fail "lost: memverify read a wrong byte from the lost region"
  [ "$mv_rc" = 3 ] || fail "lost: memverify exited $mv_rc, not 3 (killed)"
  grep -q "killed by signal" /lost/mv.out || fail "lost: no process was killed"
  ! grep "killed by signal" /lost/mv.out | grep -qv "signal [79] " ||
    fail "lost: a process was killed by another signal than SIGBUS or SIGKILL"
  memcg_done "oom ok"
  wait_failed lost
  grep -q "now serves another region" "$DRAM_ATTACH_LOG" ||
    fail "lost: the monitor did not refuse the new region"
  grep -q "failing this device's requests from now on" "$DRAM_ATTACH_LOG" ||
    fail "lost: the monitor did not fail the device"
  dram-attach --status | grep -q "last error: .*another region" ||
    fail "lost: --status does not show the last error"
  show_status lost
  dram-attach --detach /dev/nbd0
  [ -z "$(ls /lost/run)" ] || fail "lost: records left in /lost/run"
  unset DRAM_RUNDIR
  export DRAM_ATTACH_LOG=$tmp_log
  umount /lost
  nbd_nothing_left
fi

# --- gone: the donor does not come back -------------------------------
if phase gone; then
  : > "$DRAM_ATTACH_LOG"
  dram-attach --no-swap --reconnect-timeout 4 "$donor:$GONE_PORT"
  check_monitor
  pattern /dev/nbd0
  echo "DRAM-FAULT gone"
  wait_log "lost the donor" gone
  t_lost=$(date +%s)
  read_fails gone
  took=$(($(date +%s) - t_lost))
  echo "RESULT phase=gone reconnect_timeout=4 failed_after=$took"
  [ "$took" -ge 3 ] || fail "gone: the device failed $took s after the loss, before 4 s"
  wait_failed gone
  dram-attach --status | grep -q "last error: gave up reconnecting to the donor after 4 s ([1-9][0-9]* attempts)" ||
    fail "gone: --status does not say it gave up after 4 s"
  show_status gone
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
  # --reconnect-timeout 0: the device fails at once.  (The host starts
  # the donor again 15 s after the first loss.)
  : > "$DRAM_ATTACH_LOG"
  i=0
  until dram-attach --no-swap --reconnect-timeout 0 "$donor:$GONE_PORT" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 60 ] || fail "gone: the donor did not come back"
    sleep 0.5
  done
  check_monitor
  echo "DRAM-FAULT gone0"
  wait_failed gone0
  read_fails gone0
  grep -q "failing this device's requests from now on" "$DRAM_ATTACH_LOG" ||
    fail "gone0: the monitor did not fail the device"
  ! grep -q "reconnect" "$DRAM_ATTACH_LOG" || fail "gone0: the monitor tried to reconnect"
  dram-attach --status | grep -q "last error: lost the donor" ||
    fail "gone0: --status does not say the donor was lost"
  echo "RESULT phase=gone reconnect_timeout=0 failed=at-once"
  show_status gone0
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

# --- silent: the donor stops answering, with no RST or FIN ------------
if phase silent; then
  # Without --timeout (0) a request waits for the donor, however long.
  : > "$DRAM_ATTACH_LOG"
  dram-attach --no-swap "$donor:$STOP_PORT"
  pattern /dev/nbd0
  echo "DRAM-FAULT stop8"
  sleep 2
  t0=$(date +%s)
  dd if=/dev/nbd0 of=/tmp/back bs=1M count=1 iflag=direct ||
    fail "silent: a read of a stopped donor failed without --timeout"
  took=$(($(date +%s) - t0))
  cmp /tmp/pattern /tmp/back || fail "silent: other bytes came back"
  echo "RESULT phase=silent timeout=0 read_after=$took"
  [ "$took" -ge 3 ] || fail "silent: the read did not wait for the stopped donor"
  ! grep -q "lost the donor" "$DRAM_ATTACH_LOG" ||
    fail "silent: a waiting request counted as a lost donor"
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
  # With --timeout 3, the kernel gives the connection up after 3 s; the
  # monitor's reconnects get no answer for --reconnect-timeout 5 s.
  dram-attach --no-swap --timeout 3 --reconnect-timeout 5 "$donor:$STOP_PORT"
  check_monitor
  pattern /dev/nbd0
  echo "DRAM-FAULT stop30"
  sleep 2
  read_fails silent
  echo "RESULT phase=silent timeout=3 failed_after=$took"
  [ "$took" -ge 3 ] || fail "silent: the read failed before the 3 s timeout"
  [ "$took" -lt 28 ] || fail "silent: the read waited for the donor to answer again"
  wait_failed silent
  grep -q "lost the donor" "$DRAM_ATTACH_LOG" ||
    fail "silent: the monitor never heard of the timeout"
  dram-attach --status | grep -q "last error: gave up reconnecting to the donor after 5 s" ||
    fail "silent: --status does not say it gave up after 5 s"
  show_status silent
  dram-attach --detach /dev/nbd0
  nbd_nothing_left
fi

echo "guest-reconnect: all phases passed"
