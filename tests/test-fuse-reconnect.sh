#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The module-free mode through faults, on this machine's kernel: while
# a memory cgroup's workload of about 3 times its limit swaps to the
# donor and verifies every byte,
#   kill:  the donor (TLS-PSK, backing=file on tmpfs) is killed and
#          started again 5 s later on the same port, with dram-attach's
#          key file on tmpfs and pushed out to swap first (a reconnect
#          must not read it: the swap-in would wait for the reconnect);
#   cut:   a relay in front of the donor drops every connection and
#          refuses new ones for 10 s;
#   lost:  the donor comes back with backing=malloc (its RAM is new):
#          dram-attach refuses it, the workload, swapping when the
#          donor went, dies of it (killed, or I/O errors), and no byte
#          it read was wrong;
#   gone:  the donor does not come back: a read waits --reconnect-timeout
#          seconds and fails; with --reconnect-timeout 0 it fails at once.
# --status counts the reconnects and shows the last error.  A wrong key,
# and TLS asked of a donor without it, are refused with their reasons.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" socat losetup findmnt setsid ss
requires_root
[ -c /dev/fuse ] || skip "no /dev/fuse (modprobe fuse)"
[ -c /dev/loop-control ] || skip "no loop devices (modprobe loop)"
[ -d /dev/shm ] || skip "no /dev/shm for the donor's tmpfs file"
attach=$abs_top_builddir/attach/dram-attach
memverify=$abs_top_builddir/tests/memverify
pageout=$abs_top_builddir/tests/pageout
make_tmpdir
export DRAM_RUNDIR=$tmpdir/run DRAM_ATTACH_LOG=$tmpdir/attach.log
on_exit "'$attach' --detach all"
# The donor's file, on a tmpfs of its own that never goes to swap:
# between the kill and the restart nothing holds its pages (mlock=true
# locks them only while a donor runs), and a restarted donor that
# found one on its way out to this machine's only swap, the one it
# serves, would wait for itself (seen: nbdkit in shmem_swapin_folio
# waiting on writeback to the loop device, in the cut phase).
swap_mib=512
shm=$tmpdir/shm
mkdir "$shm"
if mount -t tmpfs -o size=$((swap_mib + 16))M,mode=0700,noswap dram-test "$shm"
then
  on_exit "umount '$shm' || umount -l '$shm'"
else
  echo "this kernel's tmpfs has no noswap (Linux 6.4+): using /dev/shm"
  shm=/dev/shm
fi
region=$shm/dram-test-reconnect-$$
on_exit "rm -f '$region' '$region.dram-id'"
limit_mib=64
psk=$tmpdir/keys.psk
printf 'dram:%s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > "$psk"
printf 'dram:%s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
  > "$tmpdir/wrong.psk"
make_memcg "dram-test-$$" $limit_mib
# dram-attach's copy of the key, on tmpfs and charged to the workload's
# cgroup, whose reclaim then frees it once pageout wrote it to swap.
# The donor's stays off swap (a donor on the recipient's machine
# reading a key swapped out to the recipient's device would wait for
# itself).
shm_psk=/dev/shm/dram-test-reconnect-$$.psk
on_exit "rm -f '$shm_psk'"
run_in_memcg cp "$psk" "$shm_psk"

# donor PORT [NBDKIT-OPTIONS...] -- PLUGIN-ARGS: the dram plugin on
# 127.0.0.1:PORT, pid in $tmpdir/donor.pid.
# The donor runs on this machine, whose only swap is the one it serves:
# its region is locked (mlock=true), or system-wide reclaim (DAMON's
# on these machines) can write the region out to that swap, and the
# donor then waits for itself (seen: nbdkit in shmem_swapin_folio
# waiting on writeback to the loop device).
donor ()
{
  local port=$1 opts=()
  shift
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  rm -f "$tmpdir/donor.pid"
  "$NBDKIT" -p "$port" -i 127.0.0.1 -P "$tmpdir/donor.pid" "${opts[@]}" \
    "$DRAM_PLUGIN" "$@" mlock=true
  wait_for_file "$tmpdir/donor.pid"
}
on_exit "stop_pidfile '$tmpdir/donor.pid'"

# The relay: its own process group, so that killing it by its saved
# pid ends every connection it carries.
relay ()
{
  setsid socat TCP-LISTEN:"$1",bind=127.0.0.1,reuseaddr,fork,nodelay \
    TCP:127.0.0.1:"$2",nodelay &
  echo $! > "$tmpdir/relay.pid"
  for ((i = 0; i < 50; i++)); do
    ss -Hltn "sport = :$1" | grep -q . && break
    sleep 0.1
  done
}
cut_relay ()
{
  [ -s "$tmpdir/relay.pid" ] || return 0
  kill -- -"$(cat "$tmpdir/relay.pid")" 2>/dev/null || :
  rm -f "$tmpdir/relay.pid"
}
on_exit cut_relay

# SIGKILL: the donor has no chance to say goodbye.
kill_donor ()
{
  local pid
  pid=$(cat "$tmpdir/donor.pid")
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$tmpdir/donor.pid"
}

# Waits until DEV holds at least $2 MiB of swap (bounded), the workload
# still running; fails the test otherwise.
wait_swapped ()
{
  local kib
  for ((i = 0; i < 600; i++)); do
    kib=$(awk -v d="$1" '$1 == d { print $4 }' /proc/swaps)
    if [ "${kib:-0}" -ge $(($2 * 1024)) ]; then
      kill -0 "$work" 2>/dev/null ||
        { cat "$tmpdir/work"; fail "the workload ended before the fault"; }
      echo "$1 holds $((kib / 1024)) MiB of swap, the workload runs"
      return 0
    fi
    kill -0 "$work" 2>/dev/null ||
      { cat "$tmpdir/work"; fail "the workload ended before $1 held $2 MiB"; }
    sleep 0.1
  done
  fail "$1 never held $2 MiB of swap"
}

# verified: the workload ended with every byte verified.
verified ()
{
  [ "$rc" -eq 0 ] || fail "the workload exited $rc"
  grep -q "memverify: OK" "$tmpdir/work" || fail "memverify did not verify"
  ! grep -q MISMATCH "$tmpdir/work" || fail "memverify read a wrong byte"
}

# expect_refused MESSAGE ARGS...: dram-attach ARGS exits 2 saying
# MESSAGE, and attaches nothing.
expect_refused ()
{
  local msg=$1 rc=0
  shift
  "$attach" "$@" 2> "$tmpdir/err" || rc=$?
  cat "$tmpdir/err"
  [ "$rc" -eq 2 ] || fail "dram-attach $* exited $rc, not 2"
  grep -qF -- "$msg" "$tmpdir/err" || fail "dram-attach $* did not say: $msg"
  fuse_nothing_left "$attach"
}

# The workload, in the background: $work, its output in $tmpdir/work.
start_work ()
{
  run_in_memcg "$memverify" --procs 3 --mode both --passes 2 \
    $((limit_mib * 3)) > "$tmpdir/work" 2>&1 &
  work=$!
}

# Waits (bounded) for the workload and for every process of it, so
# that a child's last word is in $tmpdir/work; sets $rc.
end_work ()
{
  local procs=$memcg/cgroup.procs
  for ((i = 0; i < 6000; i++)); do
    kill -0 "$work" 2>/dev/null || [ -n "$(cat "$procs")" ] || break
    sleep 0.1
  done
  if kill -0 "$work" 2>/dev/null || [ -n "$(cat "$procs")" ]; then
    echo "$0: the workload did not end in 10 minutes" >&2
    xargs -r kill -9 < "$procs"
  fi
  rc=0
  wait "$work" || rc=$?
  cat "$tmpdir/work"
}
on_exit '[ -z "$memcg" ] || xargs -r kill -9 < "$memcg/cgroup.procs"'

attached_dev ()
{
  awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps
}

reconnects ()
{
  "$attach" --status --json | sed -n 's/.*"reconnects": \([0-9]*\).*/\1/p'
}

# --- kill: TLS-PSK, the donor killed and back 5 s later ---------------
port=$(free_port)
donor "$port" --tls=require --tls-psk="$psk" -- size=${swap_mib}M \
  backing=file file="$region"
# A wrong key is refused, and the donor lives on.
expect_refused "(the TLS handshake failed: are the key and its user name the donor's?)" \
  --mode=fuse --tls-psk "$tmpdir/wrong.psk" 127.0.0.1:"$port"
kill -0 "$(cat "$tmpdir/donor.pid")" ||
  fail "the donor died of a client with a wrong key"

"$attach" --mode=fuse --discard --tls-psk "$shm_psk" 127.0.0.1:"$port"
dev=$(attached_dev)
test -n "$dev"
[ "$(reconnects)" = 0 ]
out0=$(vmstat_field pswpout)
start_work
wait_swapped "$dev" 32
kill -0 "$work"
# The key file's page now lives only in swap (on this device, when it
# is the machine's only swap, as in CI).
"$pageout" "$shm_psk"
kill_donor
sleep 5
"$attach" --status | tee "$tmpdir/status"
grep -E "^$dev .* reconnecting" "$tmpdir/status"
donor "$port" --tls=require --tls-psk="$psk" -- size=${swap_mib}M \
  backing=file file="$region"
end_work
verified
echo "pswpout: $(($(vmstat_field pswpout) - out0))"
"$attach" --status | tee "$tmpdir/status"
grep -E "^$dev .* 1 +connected" "$tmpdir/status" ||
  fail "kill: --status does not count 1 reconnect"
grep -q "reconnected to the donor after" "$DRAM_ATTACH_LOG" ||
  fail "kill: the server did not say it reconnected"
"$attach" --detach "$dev"
stop_pidfile "$tmpdir/donor.pid"

# --- cut: no connection to the donor for 10 s -------------------------
# From here the server's log is on tmpfs, its page charged to the
# workload's cgroup like the key's above and pushed out to swap before
# the cut: writing "lost the donor" there must not hold the reconnect.
shm_log=/dev/shm/dram-test-reconnect-$$.log
on_exit "rm -f '$shm_log'"
run_in_memcg sh -c "echo 'test: phase cut' > '$shm_log'"
disk_log=$DRAM_ATTACH_LOG
export DRAM_ATTACH_LOG=$shm_log
dport=$(free_port)
donor "$dport" -- size=${swap_mib}M backing=file file="$region"
# TLS asked of a donor without it: refused, saying so.
expect_refused "(the donor does not offer TLS: start it with --tls=require --tls-psk=FILE)" \
  --mode=fuse --tls-psk "$psk" 127.0.0.1:"$dport"
rport=$(free_port)
relay "$rport" "$dport"
"$attach" --mode=fuse --connections 2 127.0.0.1:"$rport"
dev=$(attached_dev)
start_work
wait_swapped "$dev" 32
kill -0 "$work"
"$pageout" "$shm_log"
cut_relay
sleep 10
"$attach" --status | grep -E "^$dev .* reconnecting"
relay "$rport" "$dport"
end_work
verified
"$attach" --status | tee "$tmpdir/status"
# Each of the 2 connections came back once.
[ "$(reconnects)" -ge 2 ] || fail "cut: fewer than 2 reconnects counted"
grep -E "^$dev .* connected$" "$tmpdir/status" || fail "cut: not connected"
grep -q "lost the donor" "$DRAM_ATTACH_LOG" ||
  fail "cut: the server did not say it lost the donor"
grep -q "reconnected to the donor after" "$DRAM_ATTACH_LOG" ||
  fail "cut: the server did not say it reconnected"
cat "$DRAM_ATTACH_LOG"
# The next phase loses the swap: the log goes back to the disk.
"$attach" --detach "$dev"
export DRAM_ATTACH_LOG=$disk_log
"$attach" --mode=fuse --connections 2 127.0.0.1:"$rport"
dev=$(attached_dev)

# lost_workload_killed: the workload died of the lost swap, and of
# nothing else: memverify exited 3 with its processes killed by SIGBUS
# (a swap-in that failed) or SIGKILL (a memory cgroup that could not
# swap out), never by another signal (memverify's own memory is locked:
# a crash would mean a wrong byte where it does not look).
lost_workload_killed ()
{
  [ "$rc" -ne 0 ] || fail "lost: the workload verified a region that is gone"
  [ "$rc" -ne 1 ] || fail "lost: memverify exited 1 (a mismatch)"
  [ "$rc" -eq 3 ] || fail "lost: memverify itself died (exit $rc)"
  grep -q "killed by signal" "$tmpdir/work" ||
    fail "lost: the workload failed without being killed"
  ! grep "killed by signal" "$tmpdir/work" | grep -qv "signal [79] " ||
    fail "lost: a process was killed by another signal than SIGBUS or SIGKILL"
}

# --- lost: the donor returns with new RAM ------------------------------
start_work
wait_swapped "$dev" 32
kill_donor
donor "$dport" -- size=${swap_mib}M backing=malloc
end_work
# Never a wrong byte: a mismatch is the one failure this phase exists
# to rule out.
if grep -q "MISMATCH\|bad 8-byte words" "$tmpdir/work"; then
  fail "lost: memverify read a wrong byte from the lost region"
fi
lost_workload_killed
"$attach" --status | tee "$tmpdir/status"
grep -E "^$dev .* failed$" "$tmpdir/status" || fail "lost: --status not failed"
grep -q "last error: .*now serves another region" "$tmpdir/status" ||
  fail "lost: --status does not say the region is another"
grep -q "what was swapped out there is lost" "$DRAM_ATTACH_LOG" ||
  fail "lost: the server did not say what was lost"
"$attach" --detach "$dev"
fuse_nothing_left "$attach"
stop_pidfile "$tmpdir/donor.pid"
cut_relay

# --- gone: the donor never comes back ---------------------------------
# read_fails: a read of $dev fails with an I/O error (bounded); sets
# $waited, the milliseconds from $t0_ms (when the donor was killed).
now_ms () { echo $(($(date +%s%N) / 1000000)); }
read_fails ()
{
  local rc=0
  timeout 60 dd if="$dev" of=/dev/null bs=4K count=1 skip=1000 iflag=direct \
    2> "$tmpdir/dd" || rc=$?
  waited=$(($(now_ms) - t0_ms))
  echo "the read failed ${waited} ms after the donor was killed"
  cat "$tmpdir/dd"
  [ "$rc" -ne 124 ] || fail "gone: a read still waited after 60 s"
  grep -q "Input/output error" "$tmpdir/dd" ||
    fail "gone: a read of the lost device did not fail with an I/O error"
}
# --reconnect-timeout 3: reconnects for 3 s, then fails the device.
: > "$DRAM_ATTACH_LOG"
donor "$dport" -- size=64M backing=file file="$region-gone"
on_exit "rm -f '$region-gone' '$region-gone.dram-id'"
"$attach" --mode=fuse --no-swap --reconnect-timeout 3 127.0.0.1:"$dport"
dev=$("$attach" --status | awk '$1 ~ /^\/dev\/loop/ { print $1 }')
t0_ms=$(now_ms)
kill_donor
read_fails
[ "$waited" -ge 3000 ] ||
  fail "gone: the read failed after $waited ms, before 3 s of reconnecting"
"$attach" --status | tee "$tmpdir/status"
grep -E "^$dev .* failed$" "$tmpdir/status" || fail "gone: --status not failed"
grep -q "last error: gave up reconnecting to the donor after 3 s ([1-9][0-9]* attempts)" \
  "$tmpdir/status" || fail "gone: --status does not say it gave up after 3 s"
grep -q "gave up reconnecting to the donor after 3 s" "$DRAM_ATTACH_LOG" ||
  fail "gone: the server did not say it gave up"
"$attach" --detach "$dev"
fuse_nothing_left "$attach"
# --reconnect-timeout 0: no reconnect at all.
: > "$DRAM_ATTACH_LOG"
donor "$dport" -- size=64M backing=file file="$region-gone"
"$attach" --mode=fuse --no-swap --reconnect-timeout 0 127.0.0.1:"$dport"
dev=$("$attach" --status | awk '$1 ~ /^\/dev\/loop/ { print $1 }')
t0_ms=$(now_ms)
kill_donor
read_fails
"$attach" --status | tee "$tmpdir/status"
grep -E "^$dev .* failed$" "$tmpdir/status" || fail "gone 0: --status not failed"
grep -q "last error: lost the donor" "$tmpdir/status" ||
  fail "gone 0: --status does not say the donor was lost"
! grep -q "reconnect" "$DRAM_ATTACH_LOG" ||
  fail "gone 0: the server tried to reconnect"
"$attach" --detach "$dev"
fuse_nothing_left "$attach"
cat "$DRAM_ATTACH_LOG"
