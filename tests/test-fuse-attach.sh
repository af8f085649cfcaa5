#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The module-free mode on this machine's own kernel: dram-attach
# --mode=fuse makes the donor's RAM swap through a FUSE file and a loop
# device.  A memory cgroup's workload of 3 times its limit, in several
# processes, sequential and random, verifies every byte; the donor's
# memory follows; --detach leaves nothing behind.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" losetup findmnt
requires_root
[ -c /dev/fuse ] || skip "no /dev/fuse (modprobe fuse)"
[ -c /dev/loop-control ] || skip "no loop devices (modprobe loop)"
attach=$abs_top_builddir/attach/dram-attach
memverify=$abs_top_builddir/tests/memverify
make_tmpdir
export DRAM_RUNDIR=$tmpdir/run
on_exit "'$attach' --detach all"

# Nothing of ours anywhere: swap, loop devices, FUSE mounts, servers.
nothing_left ()
{
  ! grep -q '^/dev/loop' /proc/swaps
  ! losetup -a | grep -q "$DRAM_RUNDIR"
  ! findmnt -rn -o TARGET | grep -q "^$DRAM_RUNDIR"
  [ -z "$(ls -A "$DRAM_RUNDIR/fuse" 2>/dev/null)" ]
  test "$("$attach" --status --json)" = "[]"
}

expect ()
{
  local want=$1 msg=$2 rc=0
  shift 2
  "$attach" "$@" > "$tmpdir/out" 2> "$tmpdir/err" || rc=$?
  cat "$tmpdir/out" "$tmpdir/err"
  [ "$rc" -eq "$want" ] || { echo "$0: exit $rc, not $want" >&2; exit 1; }
  grep -qF -- "$msg" "$tmpdir/err"
}

# --- refusals, each leaving nothing behind ----------------------------
expect 2 "nothing.sock" --mode=fuse --unix "$tmpdir/nothing.sock"
nothing_left
start_nbdkit strict --filter=exportname -- size=64M exportname=swap \
  exportname-strict=true
expect 2 "check the export name" --mode=fuse --unix "$tmpdir/strict.sock"
nothing_left
DRAM_RUNDIR=/proc/dram-nowhere expect 2 "DRAM_RUNDIR chooses another place" \
  --mode=fuse --unix "$tmpdir/strict.sock"
test ! -e /proc/dram-nowhere

# --- swap for a memory cgroup ------------------------------------------
swap_mib=512
# mlock=true: the donor is on this machine and this swap is its only
# one; unlocked, system-wide reclaim could write its region out to the
# very swap it serves (see test-fuse-reconnect.sh).
start_nbdkit donor -- size=${swap_mib}M mlock=true
donor_pid=$(cat "$tmpdir/donor.pid")
"$attach" --mode=fuse --discard -p 7 -L dramfuse --unix "$tmpdir/donor.sock"
cat /proc/swaps
dev=$(awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps)
test -n "$dev"
[ "$(awk -v d="$dev" '$1 == d { print $3 }' /proc/swaps)" -eq $((swap_mib * 1024 - 4)) ]
[ "$(awk -v d="$dev" '$1 == d { print $5 }' /proc/swaps)" -eq 7 ]
[ "$(cat /sys/block/${dev#/dev/}/loop/dio)" = 1 ]
"$attach" --status | grep -E "^$dev +fuse +unix:$tmpdir/donor.sock +${swap_mib}M .* connected$"
"$attach" --status --json > "$tmpdir/json"
grep -qF '"mode": "fuse"' "$tmpdir/json"
grep -qF '"discard": true' "$tmpdir/json"
server=$(sed -n 's/^pid=//p' "$DRAM_RUNDIR/${dev#/dev/}.state")
[ "$(cat /proc/$server/comm)" = dram-attach ]
grep -Eq '^VmLck:[[:space:]]*[1-9]' /proc/$server/status
# Its request buffers (16 requests of up to 256 KiB, a FUSE buffer of
# 260 KiB) are resident and locked before the first request: touched
# later, they would need new pages under the pressure swap is for.
anon_locked_kib=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { anon = ($6 == "" && $2 ~ /^rw/) }
                       anon && /^Locked:/ { kib += $2 }
                       END { print kib + 0 }' /proc/$server/smaps)
[ "$anon_locked_kib" -ge $((16 * 256 + 260)) ]
# A second attach of the same device is refused, and harms nothing.
expect 1 "$dev is busy" --mode=fuse --unix "$tmpdir/donor.sock" "$dev"
grep -q "^$dev " /proc/swaps

limit_mib=64
make_memcg "dram-test-$$" $limit_mib
# The donor's RSS while the workload runs (bounded).
( for ((i = 0; i < 1200; i++)); do
    status_kib "$donor_pid" RssAnon || break
    sleep 0.25
  done ) > "$tmpdir/rss" &
sampler=$!
on_exit "kill $sampler 2>/dev/null"
out0=$(vmstat_field pswpout)
in0=$(vmstat_field pswpin)
run_in_memcg "$memverify" --procs 3 --mode both $((limit_mib * 3))
out=$(($(vmstat_field pswpout) - out0))
in=$(($(vmstat_field pswpin) - in0))
kill $sampler
peak=$(sort -n "$tmpdir/rss" | tail -1)
echo "pswpout $out, pswpin $in, donor peak RSS $((peak / 1024)) MiB"
[ "$out" -ge $((limit_mib * 2 * 256)) ]
[ "$in" -gt 0 ]
[ "$peak" -ge $((limit_mib * 2 * 1024 * 3 / 4)) ]

# --discard: the workload's swap was freed, so the donor gave it back.
"$attach" --detach "$dev"
sleep 1
after=$(status_kib "$donor_pid" RssAnon)
echo "donor RSS after detach: $((after / 1024)) MiB"
[ "$after" -lt $((peak / 4)) ]
nothing_left
! kill -0 "$server" 2>/dev/null

# --- the data path itself: large and small requests, several at once,
# over 2 connections, then over TLS (which the server speaks itself) --
fio_verify ()
{
  fio --name=verify --filename="$1" --ioengine=libaio --direct=1 \
      --rw=randwrite --bsrange=4k-256k --numjobs=2 \
      --size=48M --offset_increment=64M --iodepth=16 \
      --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
      --output-format=json --output="$tmpdir/fio.json"
  /usr/bin/python3 - "$tmpdir/fio.json" <<'PY'
import json, sys
# fio puts its warning about several writers (each job has its own
# 64M here) before the JSON.
text = open(sys.argv[1]).read()
jobs = json.loads(text[text.index("{"):])["jobs"]
assert len(jobs) == 2, len(jobs)
for j in jobs:
    assert j["error"] == 0, j["error"]
    assert j["write"]["io_bytes"] == 48 << 20, j["write"]["io_bytes"]
    assert j["read"]["io_bytes"] == 48 << 20, j["read"]["io_bytes"]
print("2 jobs: 2 x 48 MiB written in 4K-256K requests and verified")
PY
}
if command -v fio >/dev/null; then
  "$attach" --mode=fuse --no-swap --connections 2 --unix "$tmpdir/donor.sock"
  dev=$("$attach" --status | awk '$1 ~ /^\/dev\/loop/ { print $1 }')
  "$attach" --status | grep -E "^$dev +fuse .* 2 +0 +connected$"
  fio_verify "$dev"
  "$attach" --detach "$dev"
  nothing_left

  printf 'dram:%s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
    > "$tmpdir/keys.psk"
  start_nbdkit tls --tls=require --tls-psk="$tmpdir/keys.psk" -- size=128M
  expect 2 "TLS" --mode=fuse --no-swap --unix "$tmpdir/tls.sock"
  nothing_left
  "$attach" --mode=fuse --no-swap --tls-psk "$tmpdir/keys.psk" \
    --unix "$tmpdir/tls.sock"
  dev=$("$attach" --status | awk '$1 ~ /^\/dev\/loop/ { print $1 }')
  fio_verify "$dev"
  "$attach" --detach "$dev"
  nothing_left
fi

# --- a killed server: --detach still leaves nothing ----------------
"$attach" --mode=fuse --unix "$tmpdir/donor.sock"
dev=$(awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps)
server=$(sed -n 's/^pid=//p' "$DRAM_RUNDIR/${dev#/dev/}.state")
kill -9 "$server"
for ((i = 0; i < 50; i++)); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
"$attach" --status | grep -q "server gone"
"$attach" --detach "$dev"
nothing_left
