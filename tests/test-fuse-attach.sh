#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The module-free mode on this machine's own kernel: dram-attach
# --mode=fuse makes the donor's RAM swap through a FUSE file and a loop
# device.  A memory cgroup's workload of 3 times its limit, in several
# processes, sequential and random, verifies every byte; the donor's
# memory follows; --label is read back by blkid; --detach leaves nothing
# behind.  Two attaches to one donor swap at once, each in a region of
# its own; a third under the first one's name is refused by the swap
# probe.  Then the data path (fio with verification) over 2
# connections and over TLS, the donor named by its URIs, a user name
# from --tls-username; refusals (no donor, wrong export, plain text to
# a TLS donor, a wrong key, TLS to a plain donor, several connections
# to a donor without multi-conn, an unusable run directory, a busy
# device), each with its message and leaving nothing.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" losetup findmnt fio blkid nbdinfo
requires_root
[ -c /dev/fuse ] || skip "no /dev/fuse (modprobe fuse)"
[ -c /dev/loop-control ] || skip "no loop devices (modprobe loop)"
attach=$abs_top_builddir/attach/dram-attach
memverify=$abs_top_builddir/tests/memverify
make_tmpdir
export DRAM_RUNDIR=$tmpdir/run
on_exit "'$attach' --detach all"

# Nothing of ours anywhere: swap, loop devices, FUSE mounts, records,
# servers.  Each check fails the test, naming what was left.
nothing_left ()
{
  fuse_nothing_left "$attach"
}


expect ()
{
  local want=$1 msg=$2 rc=0
  shift 2
  "$attach" "$@" > "$tmpdir/out" 2> "$tmpdir/err" || rc=$?
  cat "$tmpdir/out" "$tmpdir/err"
  [ "$rc" -eq "$want" ] || fail "dram-attach $* exited $rc, not $want"
  grep -qF -- "$msg" "$tmpdir/err" || fail "dram-attach $* did not say: $msg"
}

# A random PSK line for user $1.
psk_line ()
{
  printf '%s:%s\n' "$1" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
}

# attached DONOR: the only attach's device, checked against --status,
# which names DONOR, in $dev.
attached ()
{
  "$attach" --status | tee "$tmpdir/status"
  dev=$(awk '$1 ~ /^\/dev\/loop/ { print $1 }' "$tmpdir/status")
  [ -b "$dev" ] || fail "--status shows no loop device"
  grep -qF "$1" "$tmpdir/status" || fail "--status does not name $1"
  grep -qE "^$dev +fuse .* connected(, [[:alnum:] ]+)?$" "$tmpdir/status" ||
    fail "--status does not show $dev connected"
}

# round_trip: 2 MiB through $dev and back, then --detach leaves nothing.
round_trip ()
{
  dd if=/dev/urandom of="$tmpdir/data" bs=64K count=32 2>/dev/null
  dd if="$tmpdir/data" of="$dev" bs=64K seek=16 oflag=direct 2>/dev/null ||
    fail "writing $dev failed"
  dd if="$dev" of="$tmpdir/back" bs=64K skip=16 count=32 iflag=direct \
    2>/dev/null || fail "reading $dev failed"
  cmp "$tmpdir/data" "$tmpdir/back" || fail "$dev gave back other bytes"
  "$attach" --detach "$dev"
  nothing_left
}

# --- refusals, each leaving nothing behind ----------------------------
expect 2 "nothing.sock: nbd_aio_connect_unix: connect: No such file or directory (is nbdkit running there?)" \
  --mode=fuse --unix "$tmpdir/nothing.sock"
nothing_left
start_nbdkit strict --filter=exportname -- size=64M exportname=swap \
  exportname-strict=true
expect 2 "(check the export name)" --mode=fuse --unix "$tmpdir/strict.sock"
nothing_left
DRAM_RUNDIR=/proc/dram-nowhere expect 2 "DRAM_RUNDIR chooses another place" \
  --mode=fuse --unix "$tmpdir/strict.sock"
test ! -e /proc/dram-nowhere
# Several connections to a donor that does not allow them.
start_nbdkit single --filter=multi-conn -- size=64M multi-conn-mode=disable
expect 2 "donor unix:$tmpdir/single.sock does not allow several connections (no multi-conn); use --connections 1" \
  --mode=fuse --no-swap --connections 2 --unix "$tmpdir/single.sock"
nothing_left

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
# The label, as blkid reads it off the device.
[ "$(blkid -p -s TYPE -o value "$dev")" = swap ] || fail "$dev is not swap to blkid"
[ "$(blkid -p -s LABEL -o value "$dev")" = dramfuse ] ||
  fail "--label: blkid reads '$(blkid -p -s LABEL -o value "$dev")', not dramfuse"
# A second attach of the same device is refused, and harms nothing.
expect 1 "$dev is busy" --mode=fuse --unix "$tmpdir/donor.sock" "$dev"
grep -q "^$dev " /proc/swaps || fail "the refused attach took $dev off swap"

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
[ "$out" -ge $((limit_mib * 2 * 256)) ] || fail "too little swapped out"
[ "$in" -gt 0 ] || fail "nothing swapped in"
[ "$peak" -ge $((limit_mib * 2 * 1024 * 3 / 4)) ] ||
  fail "the donor never held what was swapped out"

# --discard: the workload's swap was freed, so the donor gave it back.
"$attach" --detach "$dev"
sleep 1
after=$(status_kib "$donor_pid" RssAnon)
echo "donor RSS after detach: $((after / 1024)) MiB"
[ "$after" -lt $((peak / 4)) ] || fail "--discard: the donor kept its memory"
nothing_left
! kill -0 "$server" 2>/dev/null || fail "the FUSE server is still running"

# --- two recipients on one donor: a region each ------------------------
# Two attaches, each under a name of its own, swap at once at one
# priority (the kernel takes turns); the workload verifies every byte,
# and the donor holds what both swapped out.
region_mib=256
start_nbdkit pair -- size=$((2 * region_mib))M region=${region_mib}M mlock=true
pair_pid=$(cat "$tmpdir/pair.pid")
pair_base=$(status_kib "$pair_pid" RssAnon)
"$attach" --mode=fuse --discard -p 5 --unix "$tmpdir/pair.sock"
"$attach" --mode=fuse --discard -p 5 --unix "$tmpdir/pair.sock"
cat /proc/swaps
mapfile -t pair < <(awk '$1 ~ /^\/dev\/loop/ && $5 == 5 { print $1 }' /proc/swaps)
[ "${#pair[@]}" -eq 2 ] || fail "two attaches to one donor: ${#pair[@]} swaps"
"$attach" --status | tee "$tmpdir/status"
grep -cE "^/dev/loop[0-9]+ +fuse +unix:$tmpdir/pair.sock +${region_mib}M .* connected$" \
  "$tmpdir/status" | grep -qx 2 || fail "--status does not show both"
# The regions' names: this host's and a token each, shortened.
grep -E "^ +region $(hostname)-[0-9a-f]{8}\.\.\.; the donor had " "$tmpdir/status" |
  sort -u | wc -l | grep -qx 2 || fail "--status does not name two regions"
grep -qF "the donor had all $((2 * region_mib))M lent (2 regions of ${region_mib}M) when attached" \
  "$tmpdir/status" || fail "--status does not show the donor's capacity"
"$attach" --status --json > "$tmpdir/json"
grep -qF "\"donor_capacity\": {\"size\": $((2 * region_mib << 20)), \"region\": $((region_mib << 20))" \
  "$tmpdir/json" || fail "--json has no donor_capacity"
# The records hold the names, which give access: root's alone.
for d in "${pair[@]}"; do
  [ "$(stat -c %a "$DRAM_RUNDIR/${d#/dev/}.state")" = 600 ] ||
    fail "the record of $d is readable by others"
done
name0=$(sed -n 's/^export=//p' "$DRAM_RUNDIR/${pair[0]#/dev/}.state")
name1=$(sed -n 's/^export=//p' "$DRAM_RUNDIR/${pair[1]#/dev/}.state")
[ -n "$name0" ] && [ "$name0" != "$name1" ] || fail "two attaches, one region name"

# The first one's name again: the swap probe refuses, and the first
# attach is untouched.
uuid0=$(blkid -p -s UUID -o value "${pair[0]}")
expect 2 "region '$name0' of donor unix:$tmpdir/pair.sock already holds swap UUID $uuid0: another recipient's? choose another export or --force" \
  --mode=fuse -e "$name0" --unix "$tmpdir/pair.sock"
[ "$(grep -c "^/dev/loop" /proc/swaps)" -eq 2 ] || fail "the refused attach changed the swaps"
[ "$(blkid -p -s UUID -o value "${pair[0]}")" = "$uuid0" ] ||
  fail "the refused attach wrote over the first one's swap"

make_memcg "dram-test-pair-$$" $limit_mib
( for ((i = 0; i < 1200; i++)); do
    echo "$(status_kib "$pair_pid" RssAnon) $(awk -v a="${pair[0]}" -v b="${pair[1]}" \
      '$1 == a { ua = $4 } $1 == b { ub = $4 } END { print ua + 0, ub + 0 }' /proc/swaps)" || break
    sleep 0.25
  done ) > "$tmpdir/pair-rss" &
sampler=$!
on_exit "kill $sampler 2>/dev/null"
run_in_memcg "$memverify" --procs 2 --mode both $((limit_mib * 3))
kill $sampler
read -r peak used0 used1 < <(sort -n "$tmpdir/pair-rss" | tail -1)
max0=$(awk '{ print $2 }' "$tmpdir/pair-rss" | sort -n | tail -1)
max1=$(awk '{ print $3 }' "$tmpdir/pair-rss" | sort -n | tail -1)
echo "two recipients: swap used up to $max0 and $max1 KiB, donor peak RSS $(( (peak - pair_base) / 1024)) MiB"
[ "$max0" -ge 16384 ] && [ "$max1" -ge 16384 ] ||
  fail "the workload did not swap to both regions ($max0, $max1 KiB)"
[ $((peak - pair_base)) -ge $(( (max0 + max1) * 3 / 4 )) ] ||
  fail "the donor did not hold what both swapped out"
# Detached, each region is trimmed whole and freed at once: the donor's
# memory and its budget come back without waiting for the lease.
"$attach" --detach "${pair[0]}"
"$attach" --detach "${pair[1]}"
nothing_left
after=$(status_kib "$pair_pid" RssAnon)
echo "donor RSS after both detached: $(( (after - pair_base) / 1024)) MiB above its baseline"
[ $((after - pair_base)) -lt $((region_mib * 1024 / 100)) ] ||
  fail "the donor kept $((after - pair_base)) KiB after both detached"
nbdinfo --list "nbd+unix:///?socket=$tmpdir/pair.sock" |
  grep -qF "free=$((2 * region_mib << 20)) regions=0)" ||
  fail "the detached regions were not freed at once"
stop_pidfile "$tmpdir/pair.pid"

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
"$attach" --mode=fuse --no-swap --connections 2 --unix "$tmpdir/donor.sock"
attached "unix:$tmpdir/donor.sock"
grep -qE "^$dev +fuse .* 2 +0 +connected$" "$tmpdir/status" ||
  fail "--status does not show 2 connections"
fio_verify "$dev"
"$attach" --detach "$dev"
nothing_left

# --- TLS-PSK: refusals with their reasons, then the data path ---------
psk_line dram > "$tmpdir/keys.psk"
psk_line dram > "$tmpdir/wrong.psk"
start_nbdkit tls --tls=require --tls-psk="$tmpdir/keys.psk" -- size=128M
tls_pid=$(cat "$tmpdir/tls.pid")
expect 2 "server requires TLS encryption first: Operation not supported (the donor requires TLS: use --tls-psk FILE with its key)" \
  --mode=fuse --no-swap --unix "$tmpdir/tls.sock"
nothing_left
expect 2 "gnutls_handshake: " \
  --mode=fuse --no-swap --tls-psk "$tmpdir/wrong.psk" --unix "$tmpdir/tls.sock"
grep -qF "(the TLS handshake failed: are the key and its user name the donor's?)" \
  "$tmpdir/err" || fail "a wrong key was not called a failed TLS handshake"
nothing_left
kill -0 "$tls_pid" || fail "the donor died of a client with a wrong key"
expect 2 "server refused TLS" \
  --mode=fuse --no-swap --tls-psk "$tmpdir/keys.psk" --unix "$tmpdir/donor.sock"
grep -qF "(the donor does not offer TLS: start it with --tls=require --tls-psk=FILE)" \
  "$tmpdir/err" || fail "a plain donor was not named as one"
nothing_left
"$attach" --mode=fuse --no-swap --tls-psk "$tmpdir/keys.psk" \
  --unix "$tmpdir/tls.sock"
attached "unix:$tmpdir/tls.sock"
fio_verify "$dev"
"$attach" --detach "$dev"
nothing_left

# --tls-username: the key of the user it names, not the file's first.
{ psk_line bob; sed 's/^dram:/alice:/' "$tmpdir/keys.psk"; } > "$tmpdir/two.psk"
grep '^alice:' "$tmpdir/two.psk" > "$tmpdir/alice.psk"
start_nbdkit alice --tls=require --tls-psk="$tmpdir/alice.psk" -- size=64M
expect 2 "(the TLS handshake failed: are the key and its user name the donor's?)" \
  --mode=fuse --no-swap --tls-psk "$tmpdir/two.psk" --unix "$tmpdir/alice.sock"
nothing_left
"$attach" --mode=fuse --no-swap --tls-psk "$tmpdir/two.psk" \
  --tls-username alice --unix "$tmpdir/alice.sock"
attached "unix:$tmpdir/alice.sock"
round_trip

# --- the donor named by an NBD URI: Unix socket, export name in the
# path, TLS with the key file in the query, TCP ------------------------
"$attach" --mode=fuse --no-swap "nbd+unix:///?socket=$tmpdir/donor.sock"
attached "nbd+unix:///?socket=$tmpdir/donor.sock"
round_trip
"$attach" --mode=fuse --no-swap "nbd+unix:///swap?socket=$tmpdir/strict.sock"
attached "nbd+unix:///swap?socket=$tmpdir/strict.sock"
round_trip
expect 2 "(check the export name)" --mode=fuse --no-swap \
  "nbd+unix:///other?socket=$tmpdir/strict.sock"
nothing_left
uri="nbds+unix://alice@/?socket=$tmpdir/alice.sock&tls-psk-file=$tmpdir/alice.psk"
"$attach" --mode=fuse --no-swap "$uri"
attached "nbds+unix://alice@/"
round_trip
port=$(free_port)
"$NBDKIT" -i 127.0.0.1 -p "$port" -P "$tmpdir/tcp.pid" "$DRAM_PLUGIN" size=64M
on_exit "stop_pidfile '$tmpdir/tcp.pid'"
wait_for_file "$tmpdir/tcp.pid"
"$attach" --mode=fuse --no-swap "nbd://127.0.0.1:$port/"
attached "nbd://127.0.0.1:$port/"
round_trip

# --- a killed server: --detach still leaves nothing ----------------
"$attach" --mode=fuse --unix "$tmpdir/donor.sock"
dev=$(awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps)
server=$(sed -n 's/^pid=//p' "$DRAM_RUNDIR/${dev#/dev/}.state")
kill -9 "$server"
for ((i = 0; i < 50; i++)); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
"$attach" --status | grep -q "server gone" ||
  fail "--status does not say the server is gone"
"$attach" --detach "$dev"
nothing_left
