# dram — SPDX-License-Identifier: BSD-3-Clause
# Sourced by the shell tests (bash).  Gives:
#   skip REASON, requires CMD..., requires_root, requires_nbdsh
#   fail MESSAGE         say what failed and exit 1 (for "! cmd || fail ...":
#                        a bare "! cmd" never fails a test under set -e)
#   on_exit COMMAND      run COMMAND when the test ends, however it ends
#                        (last registered runs first)
#   make_tmpdir          sets $tmpdir, removed at exit
#   make_shmdir          sets $shmdir, a directory on /dev/shm, removed at exit
#   start_nbdkit NAME [NBDKIT-OPTIONS...] -- PLUGIN-ARGS...
#                        nbdkit on $tmpdir/NAME.sock, pid in $tmpdir/NAME.pid,
#                        stopped at exit; sets $uri
#   stop_pidfile FILE    SIGTERM the pid in FILE and wait for it to go
#   free_port            prints a TCP port nobody listens on
#   status_kib PID FIELD a /proc/PID/status field (VmRSS, RssShmem...) in KiB
#   nbdsh ARGS...        libnbd's shell, with Debian's python
#   fuse_nothing_left ATTACH
#                        fails the test, naming it, if anything of a fuse
#                        attach under $DRAM_RUNDIR is left: swap on a loop
#                        device, a loop device bound to a file there, a
#                        mount there, a mountpoint or record, a resident
#                        dram-attach, a non-empty --status

: "${abs_top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${abs_top_srcdir:=$abs_top_builddir}"
: "${DRAM_PLUGIN:=$abs_top_builddir/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}"
: "${NBDKIT:=nbdkit}"
export LC_ALL=C

skip ()
{
  echo "$0: SKIP: $*"
  exit 77
}

fail ()
{
  echo "$0: FAIL: $*" >&2
  exit 1
}

requires ()
{
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 ||
      skip "'$c' is not installed (scripts/install-deps installs it)"
  done
}

# Whether nfs-ganesha's VFS FSAL (what dram-donate-nfs exports with) is
# installed.
ganesha_has_vfs ()
{
  local f
  for f in /usr/lib/*/ganesha/libfsalvfs.so /usr/lib64/ganesha/libfsalvfs.so \
           /usr/lib/ganesha/libfsalvfs.so; do
    [ -e "$f" ] && return 0
  done
  return 1
}
no_ganesha_vfs="nfs-ganesha's VFS FSAL is not installed (scripts/install-deps installs nfs-ganesha-vfs)"

requires_root ()
{
  [ "$(id -u)" -eq 0 ] || skip "this test must run as root"
}

# nbdsh runs "python3" from PATH, which need not be the python that has
# Debian's libnbd module; use that one by name.
nbdsh ()
{
  /usr/bin/python3 -m nbd "$@"
}

requires_nbdsh ()
{
  /usr/bin/python3 -c 'import nbd' 2>/dev/null ||
    skip "python3-libnbd is not installed (scripts/install-deps installs it)"
}

_on_exit=()

on_exit ()
{
  _on_exit+=("$*")
}

_run_on_exit ()
{
  local rc=$? i
  set +e
  for ((i = ${#_on_exit[@]} - 1; i >= 0; i--)); do
    eval "${_on_exit[i]}"
  done
  exit $rc
}
trap _run_on_exit EXIT
trap 'exit 130' INT TERM

make_tmpdir ()
{
  tmpdir=$(mktemp -d /tmp/dram-test.XXXXXX)
  on_exit "rm -rf '$tmpdir'"
}

# A directory of the test's own on tmpfs, for dir= (whose region files
# outlive a donor) and file=; removed at exit.
make_shmdir ()
{
  shmdir=$(mktemp -d /dev/shm/dram-test.XXXXXX)
  on_exit "rm -rf '$shmdir'"
}

# Waits up to $2 (default 10) seconds for file $1 to exist.
wait_for_file ()
{
  local i
  for ((i = 0; i < ${2:-10} * 10; i++)); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  echo "$0: timed out waiting for $1" >&2
  return 1
}

stop_pidfile ()
{
  local pid i
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  rm -f "$1"
  return 0
}

start_nbdkit ()
{
  local name=$1 opts=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    opts+=("$1")
    shift
  done
  [ "$1" = "--" ] && shift
  rm -f "$tmpdir/$name.sock" "$tmpdir/$name.pid"
  "$NBDKIT" -U "$tmpdir/$name.sock" -P "$tmpdir/$name.pid" "${opts[@]}" \
    "$DRAM_PLUGIN" "$@"
  on_exit "stop_pidfile '$tmpdir/$name.pid'"
  wait_for_file "$tmpdir/$name.pid"
  wait_for_file "$tmpdir/$name.sock"
  uri="nbd+unix:///?socket=$tmpdir/$name.sock"
}

# A port that no TCP socket here uses (listening or connected).
free_port ()
{
  local p hex i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    printf -v hex '%04X' "$p"
    if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ":$hex "; then
      echo "$p"
      return 0
    fi
  done
  echo "$0: no free TCP port found" >&2
  return 1
}

status_kib ()
{
  awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print 0 }' \
    "/proc/$1/status"
}

# make_memcg NAME LIMIT_MIB: a memory cgroup (v1 or v2) that swaps
# beyond LIMIT_MIB; sets $memcg (its directory) and removes it at exit.
# run_in_memcg CMD...: runs CMD in it.
make_memcg ()
{
  local v2=/sys/fs/cgroup
  if [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    memcg=/sys/fs/cgroup/memory/$1
    mkdir "$memcg"
    echo $(($2 << 20)) > "$memcg/memory.limit_in_bytes"
  elif grep -qw memory "$v2/cgroup.controllers" 2>/dev/null; then
    grep -qw memory "$v2/cgroup.subtree_control" ||
      echo +memory > "$v2/cgroup.subtree_control"
    memcg=$v2/$1
    mkdir "$memcg"
    echo $(($2 << 20)) > "$memcg/memory.max"
  else
    skip "no memory cgroup controller (v1 or v2) is mounted"
  fi
  on_exit "rmdir '$memcg'"
}

run_in_memcg ()
{
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$memcg" "$@"
}

vmstat_field ()
{
  awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}

# The loop devices bound before the test (a lazily unmounted FUSE file
# no longer shows its path: any device bound since then is ours).
_loops_at_start=$(losetup -n -O NAME 2>/dev/null | sort)

fuse_nothing_left ()
{
  local left p
  left=$(grep '^/dev/loop' /proc/swaps) && fail "a loop device is still swap: $left"
  left=$(losetup -n -O NAME 2>/dev/null | sort | comm -13 <(echo "$_loops_at_start") -)
  [ -z "$left" ] ||
    fail "a loop device is still bound: $(losetup -l -n $left | tr '\n' ';')"
  left=$(findmnt -rn -o TARGET | grep -F "$DRAM_RUNDIR") &&
    fail "still mounted: $left"
  left=$(ls -A "$DRAM_RUNDIR/fuse" 2>/dev/null) && [ -n "$left" ] &&
    fail "mountpoints left in $DRAM_RUNDIR/fuse: $left"
  left=$(ls "$DRAM_RUNDIR"/*.state "$DRAM_RUNDIR"/*.health 2>/dev/null) &&
    fail "records left: $left"
  # A resident dram-attach of this test's has its DRAM_RUNDIR.
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = dram-attach ] || continue
    tr '\0' '\n' < "$p/environ" 2>/dev/null |
      grep -qxF "DRAM_RUNDIR=$DRAM_RUNDIR" || continue
    fail "a dram-attach process is left: ${p#/proc/} ($(tr '\0' ' ' < "$p/cmdline"))"
  done
  left=$("$1" --status --json)
  [ "$left" = "[]" ] || fail "--status --json is not empty: $left"
}
