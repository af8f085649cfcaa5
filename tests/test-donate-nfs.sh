#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# dram-donate-nfs with nfs-ganesha on loopback: refusals that leave
# nothing behind; a tmpfs of the right size and options, exported to
# its client only, which reads and writes it through libnfs; --persist's
# fstab line, replaced and removed; --undo leaves no mount, no server, no
# state.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires ganesha.nfsd nfs-ls nfs-cp findmnt mountpoint ss "$NBDKIT"
requires_root
ganesha_has_vfs || skip "$no_ganesha_vfs"
donate=$abs_top_srcdir/scripts/dram-donate-nfs
make_tmpdir
export DRAM_RUNDIR=$tmpdir/run DRAM_FSTAB=$tmpdir/fstab
dir=$tmpdir/send
name=${dir#/}
name=${name//\//-}
state=$DRAM_RUNDIR/nfs/$name
port=$(free_port)
# Every donation stays on loopback, even one a check fails to stop.
lo=(--server ganesha --listen 127.0.0.1 --port "$port")
url=nfs://127.0.0.1$dir
query="?version=4&nfsport=$port"
printf '# fstab of the test\nLABEL=root / ext4 defaults 0 1\n' > "$DRAM_FSTAB"
cp "$DRAM_FSTAB" "$tmpdir/fstab.orig"

# However the test ends: undo, then stop the ganesha it started (by its
# pid) and unmount, should --undo itself be broken.
cleanup ()
{
  "$donate" --undo --dir "$dir"
  stop_pidfile "$tmpdir/ganesha.pid"
  if mountpoint -q "$dir"; then umount "$dir"; fi
}
on_exit cleanup

fail ()
{
  echo "$0: $*" >&2
  exit 1
}

listening ()
{
  [ -n "$(ss -Hltn "sport = :$port")" ]
}

# nothing_left [FSTAB]: no mount, no directory, no state, no server; the
# fstab as it was (or as FSTAB).
nothing_left ()
{
  if mountpoint -q "$dir"; then fail "$dir is still mounted"; fi
  [ ! -e "$dir" ] || fail "$dir is left behind"
  [ ! -e "$state" ] || fail "$state is left behind"
  if listening; then fail "something still listens on port $port"; fi
  cmp "$DRAM_FSTAB" "${1:-$tmpdir/fstab.orig}"
}

# expect STATUS MESSAGE ARGS...: dram-donate-nfs ARGS exits with STATUS
# and says MESSAGE on stderr.
expect ()
{
  local want=$1 msg=$2 rc=0
  shift 2
  "$donate" "$@" > "$tmpdir/out" 2> "$tmpdir/err" || rc=$?
  cat "$tmpdir/out" "$tmpdir/err"
  [ "$rc" -eq "$want" ] || fail "exit $rc, not $want"
  grep -qF -- "$msg" "$tmpdir/err" || fail "no '$msg' in the message"
}

# --- refusals, each leaving nothing behind ------------------------------
"$donate" --help | grep -q -- '--undo --dir DIR'
expect 1 "--client is required" --size 64M --dir "$dir" "${lo[@]}"
expect 1 "--size is required" --dir "$dir" --client 127.0.0.1 "${lo[@]}"
expect 1 "unrecognized option '--sise'" --sise 64M --dir "$dir" \
  --client 127.0.0.1
for size in 12Q 64MB -1 1G2 0x100; do
  expect 1 "--size '$size': not a size" --size "$size" --dir "$dir" \
    --client 127.0.0.1 "${lo[@]}"
done
expect 1 "must be more than 0 and a multiple of" --size 0 --dir "$dir" \
  --client 127.0.0.1 "${lo[@]}"
expect 1 "must be more than 0 and a multiple of" --size 1000 --dir "$dir" \
  --client 127.0.0.1 "${lo[@]}"
for client in 300.1.2.3 10.0.0.0/33 10.0.0.1/ '*' localhost 1:2:3 ::1::2; do
  expect 1 "--client '$client': not an IPv4 or IPv6 address" --size 64M \
    --dir "$dir" --client "$client" "${lo[@]}"
done
avail=$(awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo)
big=$(((avail >> 10) + 1024))
expect 1 "--size ${big}M ($((big << 20)) bytes) is larger than this machine's free memory (MemAvailable: " \
  --size "${big}M" --dir "$dir" --client 127.0.0.1 "${lo[@]}"
# Good addresses pass that check (the size then stops them).
for client in 192.168.1.20 10.0.0.0/8 ::1 2001:db8::/32 fe80::1:2:3:4 \
              1:2:3:4:5:6:7:8; do
  expect 1 "is larger than this machine's free memory" --size "${big}M" \
    --dir "$dir" --client "$client" "${lo[@]}"
done
nothing_left
expect 1 "--undo takes only --dir and --persist" --undo --dir "$dir" \
  --size 64M
expect 1 "--dir 'send': must be an absolute path" --size 64M --dir send \
  --client 127.0.0.1 "${lo[@]}"
expect 1 "--server 'nfsd': must be kernel or ganesha" --size 64M \
  --dir "$dir" --client 127.0.0.1 --server nfsd
expect 1 "--port '70000': not a port number" --size 64M --dir "$dir" \
  --client 127.0.0.1 --server ganesha --listen 127.0.0.1 --port 70000
expect 1 "--listen '127.0.0.0/8': not an IPv4 or IPv6 address" --size 64M \
  --dir "$dir" --client 127.0.0.1 --server ganesha --listen 127.0.0.0/8
nothing_left

mkdir "$tmpdir/busy"
touch "$tmpdir/busy/file"
expect 1 "is not empty" --size 64M --dir "$tmpdir/busy" --client 127.0.0.1 \
  "${lo[@]}"
mkdir "$tmpdir/mnt"
mount -t tmpfs -o size=1M dram-test-other "$tmpdir/mnt"
on_exit "umount '$tmpdir/mnt'"
expect 1 "is already a mount point" --size 64M --dir "$tmpdir/mnt" \
  --client 127.0.0.1 "${lo[@]}"

# A port someone else listens on.
port2=$(free_port)
"$NBDKIT" -P "$tmpdir/other.pid" -i 127.0.0.1 -p "$port2" null 1M
on_exit "stop_pidfile '$tmpdir/other.pid'"
wait_for_file "$tmpdir/other.pid"
expect 1 "TCP port $port2 is in use" --size 64M --dir "$dir" \
  --client 127.0.0.1 --server ganesha --listen 127.0.0.1 --port "$port2"
nothing_left

# A server that cannot start (an address not on this machine): the
# tmpfs and the state are undone, fstab is left alone.
expect 2 "nfs-ganesha did not start serving on port $port" --size 64M \
  --dir "$dir" --client 127.0.0.1 --server ganesha --listen 192.0.2.5 \
  --port "$port" --persist
grep -q "Cannot bind\|binding" "$tmpdir/err"
nothing_left

# This machine's kernel has no nfsd: --server kernel says what to do.
if ! grep -qw nfsd /proc/filesystems && ! modprobe -n -q nfsd 2>/dev/null; then
  expect 1 "this kernel has no NFS server" --size 64M --dir "$dir" \
    --client 127.0.0.1 --server kernel
  grep -qF -- "use --server ganesha" "$tmpdir/err"
elif ! command -v exportfs >/dev/null; then
  expect 1 "apt-get install nfs-kernel-server" --size 64M --dir "$dir" \
    --client 127.0.0.1 --server kernel
fi
if command -v setpriv >/dev/null; then
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$donate" --size 64M \
    --dir "$dir" --client 127.0.0.1 "${lo[@]}" 2> "$tmpdir/err" || rc=$?
  cat "$tmpdir/err"
  [ "$rc" -eq 1 ]
  grep -qF "must run as root" "$tmpdir/err"
fi
nothing_left

# --- a donation --------------------------------------------------------------
"$donate" --size 64M --dir "$dir" --client 127.0.0.1 "${lo[@]}" --persist \
  2> "$tmpdir/err"
cat "$tmpdir/err"
pid=$(sed -n 's/^pid=//p' "$state/state")
echo "$pid" > "$tmpdir/ganesha.pid"
[ "$(cat "/proc/$pid/comm")" = ganesha.nfsd ]
# Safe from the OOM killer, or a warning where root may not do that.
cap_eff=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)
if (((0x$cap_eff >> 24) & 1)); then       # CAP_SYS_RESOURCE
  [ "$(cat "/proc/$pid/oom_score_adj")" -eq -1000 ]
else
  grep -qF "cannot set nfs-ganesha's oom_score_adj" "$tmpdir/err"
fi
# It listens on loopback only.
ss -Hltn "sport = :$port" | awk '{ print $4 }' > "$tmpdir/listen"
cat "$tmpdir/listen"
[ -s "$tmpdir/listen" ]
if grep -v -e '^127\.0\.0\.1:' -e '^\[::ffff:127\.0\.0\.1\]:' "$tmpdir/listen"; then
  fail "ganesha listens beyond loopback"
fi

# The tmpfs: ours, 64 MiB, nodev,nosuid,noexec, only root may enter.
read -r source fstype options < <(findmnt -n -o SOURCE,FSTYPE,OPTIONS \
  --mountpoint "$dir")
[ "$source" = "dram-$name" ]
[ "$fstype" = tmpfs ]
for o in nodev nosuid noexec size=65536k mode=700; do
  [[ ,$options, == *,$o,* ]] || fail "no $o in $options"
done
[ "$(df -B1 --output=size "$dir" | tail -n 1)" -eq $((64 << 20)) ]

# The client writes through the export and reads back what the donor
# has.  (libnfs 4.0's NFS v4 client cannot encode a WRITE of 4 KiB or
# more, "ZDR error: Failed to encode COMPOUND4args", so the file it
# writes stays small.)
head -c 3000 /dev/urandom > "$tmpdir/to-donor"
nfs-cp "$tmpdir/to-donor" "$url/to-donor$query"
cmp "$tmpdir/to-donor" "$dir/to-donor"
[ "$(stat -c %u "$dir/to-donor")" -eq 0 ]     # no root squash
head -c $((2 << 20)) /dev/urandom > "$dir/from-donor"
nfs-cp "$url/from-donor$query" "$tmpdir/from-donor"
cmp "$dir/from-donor" "$tmpdir/from-donor"
nfs-ls "$url$query" > "$tmpdir/ls"
cat "$tmpdir/ls"
grep -q ' to-donor$' "$tmpdir/ls"
grep -q ' from-donor$' "$tmpdir/ls"

# --persist: one line that findmnt parses, the other lines kept.
findmnt --fstab --tab-file "$DRAM_FSTAB" -n -r -o SOURCE,FSTYPE,OPTIONS \
  --mountpoint "$dir" > "$tmpdir/line"
cat "$tmpdir/line"
[ "$(cat "$tmpdir/line")" = \
  "dram-$name tmpfs nodev,nosuid,noexec,size=64M,mode=0700" ]
grep -qxF "LABEL=root / ext4 defaults 0 1" "$DRAM_FSTAB"
[ "$(grep -c "^dram-$name " "$DRAM_FSTAB")" -eq 1 ]

# A second donation at the same place is refused and changes nothing.
cp "$DRAM_FSTAB" "$tmpdir/fstab.a"
expect 1 "is already donated" --size 32M --dir "$dir" --client 127.0.0.1 \
  "${lo[@]}" --persist
cmp "$DRAM_FSTAB" "$tmpdir/fstab.a"
kill -0 "$pid"
cmp "$tmpdir/to-donor" "$dir/to-donor"

# --undo without --persist: no server, no mount, no state; fstab keeps
# its line.
"$donate" --undo --dir "$dir"
if kill -0 "$pid" 2>/dev/null; then fail "ganesha (pid $pid) still runs"; fi
rm -f "$tmpdir/ganesha.pid"
nothing_left "$tmpdir/fstab.a"

# --- a donation to another client, persisted again ---------------------------
# The fstab line is replaced, not added; 127.0.0.1 may not see the export.
"$donate" --size 32M --dir "$dir" --client 192.0.2.1 "${lo[@]}" --persist
pid=$(sed -n 's/^pid=//p' "$state/state")
echo "$pid" > "$tmpdir/ganesha.pid"
[ "$(grep -c "^dram-$name " "$DRAM_FSTAB")" -eq 1 ]
grep -q "^dram-$name $dir tmpfs nodev,nosuid,noexec,size=32M,mode=0700 0 0$" \
  "$DRAM_FSTAB"
[ "$(df -B1 --output=size "$dir" | tail -n 1)" -eq $((32 << 20)) ]
rc=0
timeout 30 nfs-ls "$url$query" > "$tmpdir/out" 2>&1 || rc=$?
cat "$tmpdir/out"
[ "$rc" -ne 0 ] || fail "a client that is not 192.0.2.1 sees the export"
[ "$rc" -ne 124 ] || fail "nfs-ls timed out"
grep -q "failed" "$tmpdir/out"

# --undo --persist removes everything; a second time there is nothing.
"$donate" --undo --dir "$dir" --persist
if kill -0 "$pid" 2>/dev/null; then fail "ganesha (pid $pid) still runs"; fi
rm -f "$tmpdir/ganesha.pid"
nothing_left
"$donate" --undo --dir "$dir" --persist 2> "$tmpdir/err"
cat "$tmpdir/err"
grep -qF "nothing to undo for $dir" "$tmpdir/err"
nothing_left
