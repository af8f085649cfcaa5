#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# One donor, many recipients: every export name is a region of its own
# (bytes and identity), a name that does not fit is refused and told
# why, a region is freed after its lease and at once when trimmed
# whole, NBD_OPT_LIST shows no recipient's name, and dir= regions
# survive a restart of the donor byte for byte, as a file= region does
# for its owner.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy nbdinfo
requires_nbdsh
make_tmpdir
make_shmdir
export DRAM_RUNDIR=$tmpdir/run
attach=$abs_top_builddir/attach/dram-attach

region_mib=64
head -c $((region_mib << 20)) /dev/urandom > "$tmpdir/a"
head -c $((region_mib << 20)) /dev/urandom > "$tmpdir/b"
head -c $((region_mib << 20)) /dev/zero > "$tmpdir/zero"

# The URI of export $1 on the donor started last.
at () { echo "nbd+unix:///$1?socket=$tmpdir/$name.sock"; }

# The identity a client is told for export $1.
identity ()
{
  nbdinfo "$(at "$1")" > "$tmpdir/info"
  sed -n 's/^\tdescription: dram region \([0-9a-f]\{32\}\)$/\1/p' \
    "$tmpdir/info" | grep .
}

# The regions' memory in the donor, in KiB above the baseline.
region_kib ()
{
  case $name in
    malloc) echo $(( $(status_kib "$pid" RssAnon) - base )) ;;
    *) status_kib "$pid" RssShmem ;;
  esac
}

# Waits up to 10 s for the regions to hold less than $1 KiB.
wait_region_below ()
{
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(region_kib)" -lt "$1" ] && return 0
    sleep 0.1
  done
  fail "$name: the regions still hold $(region_kib) KiB, not under $1"
}

one_percent=$((region_mib * 1024 / 100))
for name in malloc memfd; do
  start_nbdkit "$name" -- size=$((2 * region_mib))M region=${region_mib}M \
    lease=2s backing=$name
  pid=$(cat "$tmpdir/$name.pid")
  # A connection first, so that nbdkit's own buffers are in the
  # baseline (the default export's region, empty, is freed at its close).
  nbdsh -u "$(at "")" -c 'h.pread(4096, 0)'
  base=$(status_kib "$pid" RssAnon)

  # Two names, two regions: each reads back its own bytes, under an
  # identity of its own, across connections (a reconnect within the
  # lease finds data and identity).
  nbdcopy "$tmpdir/a" "$(at recipA)"
  id_a=$(identity recipA)
  # The list shows the default export alone, with the capacity.
  nbdinfo --list "$(at "")" > "$tmpdir/list"
  cat "$tmpdir/list"
  [ "$(grep -c '^export=' "$tmpdir/list")" -eq 1 ] ||
    fail "NBD_OPT_LIST shows more than the default export"
  grep -qx 'export="":' "$tmpdir/list"
  ! grep -q recip "$tmpdir/list" || fail "NBD_OPT_LIST shows a recipient's name"
  grep -qF "description: dram donor: ${region_mib}M free of $((2 * region_mib))M in regions of ${region_mib}M, 1 lent (size=$((2 * region_mib << 20)) region=$((region_mib << 20)) free=$((region_mib << 20)) regions=1)" \
    "$tmpdir/list" || fail "the list does not describe the capacity"

  nbdcopy "$tmpdir/b" "$(at recipB)"
  id_b=$(identity recipB)
  [ "$id_a" != "$id_b" ] || fail "two regions with one identity"
  nbdcopy "$(at recipA)" - | cmp - "$tmpdir/a"
  nbdcopy "$(at recipB)" - | cmp - "$tmpdir/b"
  [ "$(identity recipA)" = "$id_a" ] || fail "recipA's identity changed"
  full=$(region_kib)
  [ "$full" -ge $((2 * region_mib * 1024 * 95 / 100)) ] ||
    fail "$name: two regions written hold only $full KiB"

  # A third does not fit: refused, and the client is told why.
  ! nbdinfo "$(at recipC)" 2> "$tmpdir/err" || fail "a third region was made"
  set +e
  "$attach" --mode=fuse --no-swap -e recipC --unix "$tmpdir/$name.sock" \
    2> "$tmpdir/err"
  rc=$?
  set -e
  cat "$tmpdir/err"
  [ "$rc" -eq 2 ] || fail "dram-attach on a full donor exited $rc, not 2"
  grep -qxF "dram-attach: donor unix:$tmpdir/$name.sock: all $((2 * region_mib))M lent (2 regions of ${region_mib}M); nothing left for this recipient" \
    "$tmpdir/err" || fail "dram-attach did not say why it was refused"
  [ -z "$(ls -A "$DRAM_RUNDIR" 2>/dev/null | grep -v '^fuse$')" ] ||
    fail "a refused attach left a record"

  # Trimmed whole, recipA is freed at its close: memory, name, identity.
  nbdsh -u "$(at recipA)" -c "
for off in range(0, h.get_size(), 16 << 20):
    h.trim(16 << 20, off)
"
  wait_region_below $((region_mib * 1024 + one_percent))
  nbdinfo --list "$(at "")" | grep -qF "free=$((region_mib << 20)) regions=1)" ||
    fail "recipA was not freed at once after a whole trim"
  [ "$(identity recipA)" != "$id_a" ] || fail "recipA kept its identity"
  nbdcopy "$(at recipA)" - | cmp - "$tmpdir/zero"
  nbdcopy "$(at recipB)" - | cmp - "$tmpdir/b"

  # recipB's lease (2 s) ends: all the memory goes back.
  wait_region_below "$one_percent"
  echo "$name: two regions ${full} KiB, after trim and lease $(region_kib) KiB"
  [ "$(identity recipB)" != "$id_b" ] || fail "recipB outlived its lease"
  stop_pidfile "$tmpdir/$name.pid"
done

# dir=: a restarted donor finds each region, byte for byte, under its
# identity; the files are named by tokens, not by the export names.
name=dir
start_nbdkit "$name" -- size=$((2 * region_mib))M region=${region_mib}M \
  dir="$shmdir"
nbdcopy "$tmpdir/a" "$(at recipA)"
nbdcopy "$tmpdir/b" "$(at 'recip/../B')"
id_a=$(identity recipA)
id_b=$(identity 'recip/../B')
stop_pidfile "$tmpdir/$name.pid"
ls -la "$shmdir"
[ "$(ls "$shmdir" | grep -c '^[0-9a-f]\{32\}\.dram$')" -eq 2 ] ||
  fail "dir= does not hold one file per region"
! ls "$shmdir" | grep -q recip || fail "a file in dir= is named by its export"
# The records name the owners, whose names give access: root's alone.
[ "$(stat -c %a "$shmdir"/*.dram-id | sort -u)" = 600 ] ||
  fail "a region's record is readable by others"
start_nbdkit "$name" -- size=$((2 * region_mib))M region=${region_mib}M \
  dir="$shmdir"
[ "$(identity recipA)" = "$id_a" ] || fail "recipA's identity was not kept"
[ "$(identity 'recip/../B')" = "$id_b" ] || fail "recip/../B's identity was not kept"
nbdcopy "$(at recipA)" - | cmp - "$tmpdir/a"
nbdcopy "$(at 'recip/../B')" - | cmp - "$tmpdir/b"
stop_pidfile "$tmpdir/$name.pid"

# file=: one region, its owner's across a restart (the start-up checks
# touch neither its data nor its identity); under another name it is
# wiped and new.
name=file
start_nbdkit "$name" -- size=${region_mib}M file="$shmdir/region"
nbdcopy "$tmpdir/a" "$(at recipA)"
id_a=$(identity recipA)
stop_pidfile "$tmpdir/$name.pid"
start_nbdkit "$name" -- size=${region_mib}M file="$shmdir/region"
[ "$(identity recipA)" = "$id_a" ] || fail "file=: recipA's identity was not kept"
nbdcopy "$(at recipA)" - | cmp - "$tmpdir/a"
stop_pidfile "$tmpdir/$name.pid"
start_nbdkit "$name" -- size=${region_mib}M file="$shmdir/region"
[ "$(identity recipB)" != "$id_a" ] || fail "file=: recipB was given recipA's identity"
nbdcopy "$(at recipB)" - | cmp - "$tmpdir/zero"
stop_pidfile "$tmpdir/$name.pid"
