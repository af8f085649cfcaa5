# dram — SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=sh
# Functions for the guest scripts (busybox sh).  vm_build_initramfs
# installs this file as /etc/dram-vm-functions.sh; a guest script that
# uses it starts with:
#
#   . /etc/dram-vm-functions.sh
#
# and starts "syslogd -O /tmp/syslog" (fail shows it).  Uses PHASES
# ("all" or a list of phase names) and WORK_PROCS from the host.

# vmstat KEY: a /proc/vmstat counter.
vmstat ()
{
  awk -v key="$1" '$1 == key { print $2 }' /proc/vmstat
}

# fail MESSAGE...: say what failed, with the syslog, and exit 1.
fail ()
{
  echo "FAIL: $*" >&2
  echo "--- syslog ---" >&2
  cat /tmp/syslog >&2
  exit 1
}

# nbd_nothing_left: after a detach, no nbd swap, no connected nbd
# device, no record and no resident dram-attach.
nbd_nothing_left ()
{
  ! grep -q '^/dev/nbd' /proc/swaps || fail "an nbd device is still swap"
  for d in /sys/block/nbd*; do
    [ ! -e "$d/pid" ] || fail "$d is still connected"
  done
  [ -z "$(ls /run/dram 2>/dev/null)" ] || fail "records left in /run/dram"
  [ "$(dram-attach --status --json)" = "[]" ] || fail "--status is not empty"
  [ -z "$(pidof dram-attach)" ] || fail "a dram-attach process is left"
}

# phase NAME: whether to run phase NAME ($PHASES: "all" or a list).
phase ()
{
  case " ${PHASES:-all} " in
    *" all "*|*" $1 "*) echo "=== phase $1"; return 0 ;;
    *) return 1 ;;
  esac
}

# expect STATUS MESSAGE COMMAND...: COMMAND exits STATUS, MESSAGE on stderr.
expect ()
{
  want=$1 msg=$2
  shift 2
  rc=0
  "$@" > /tmp/out 2> /tmp/err || rc=$?
  cat /tmp/out /tmp/err
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, not $want"
  grep -qF -- "$msg" /tmp/err || fail "$* did not say: $msg"
}

# workload PHASE MIB MODE [CGROUP]: memverify over MIB (seq, random or
# both), which must swap; one RESULT line.  With CGROUP (a cgroup v2
# directory with memory.max set) the processes run in it, and what does
# not fit in its limit must be swapped, rather than what does not fit in
# the guest's RAM.
workload ()
{
  out0=$(vmstat pswpout)
  in0=$(vmstat pswpin)
  t0=$(date +%s)
  if [ -n "${4:-}" ]; then
    # shellcheck disable=SC2016  # $$ and $1 are the child shell's
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$4" \
      memverify --procs "$WORK_PROCS" --mode "$3" "$2"
    room_mib=$(($(cat "$4/memory.max") / 1048576))
  else
    memverify --procs "$WORK_PROCS" --mode "$3" "$2"
    room_mib=$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
  fi
  t1=$(date +%s)
  out=$(($(vmstat pswpout) - out0))
  in=$(($(vmstat pswpin) - in0))
  echo "RESULT phase=$1 mib=$2 mode=$3 seconds=$((t1 - t0)) pswpout=$out pswpin=$in"
  [ "$out" -ge $((($2 - room_mib) * 256)) ] || fail "$1: too little swap-out"
  [ "$in" -gt 0 ] || fail "$1: nothing swapped in"
}

# memcg NAME MIB: a cgroup v2 memory cgroup /sys/fs/cgroup/NAME (mounted
# here on first use) whose memory.max is MIB, in $cg.  MIB must fit in
# what the guest has available, or its pressure is global, not the
# cgroup's.  memcg_done checks that its OOM killer never ran (unless
# told "oom ok") and removes it.
memcg ()
{
  avail_mib=$(awk '/^MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
  [ "$2" -lt "$avail_mib" ] ||
    fail "a cgroup of $2 MiB does not fit in $avail_mib MiB available"
  if ! grep -q '^cgroup2 /sys/fs/cgroup ' /proc/mounts; then
    mkdir -p /sys/fs/cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
    echo +memory > /sys/fs/cgroup/cgroup.subtree_control ||
      fail "no memory controller"
  fi
  cg=/sys/fs/cgroup/$1
  mkdir "$cg" || fail "cannot make $cg"
  echo $(($2 * 1048576)) > "$cg/memory.max"
}

memcg_done ()
{
  if [ "${1:-}" != "oom ok" ]; then
    grep -qx 'oom_kill 0' "$cg/memory.events" ||
      fail "the OOM killer ran in $cg"
  fi
  rmdir "$cg" || fail "cannot remove $cg"
}
