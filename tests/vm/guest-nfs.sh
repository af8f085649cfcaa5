#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause
# Guest half of test-vm-nfs.sh (busybox sh, run by the VM's /init).
# dram-attach --mode=nfs against nfs-ganesha on the host, which exports
# a tmpfs of EXPORT_MIB lent by dram-donate-nfs, on Debian's kernel:
# refusals that leave nothing behind; a swap file that holds a workload
# of 2.5 times the guest's RAM; --persist's fstab lines, as findmnt reads
# them, added once and removed by --detach.  No mount.nfs here: the
# kernel gets its text options from dram-attach; then, with the host's
# mount.nfs (MOUNT_NFS, when it has one), libmount runs it instead.
# From the host: NFS_PORT, EXPORT (the export's path), MNT_NAME (the
# name dram-attach gives its mountpoint), MOUNT_NFS (mount.nfs, to use
# as /sbin/mount.nfs4 in one phase, or ""), DEAD_PORT (nobody), SWAP_MIB,
# EXPORT_MIB, WORK_MIB, WORK_PROCS.  Then, in the guest alone, the
# kernel's own NFS server (Debian's nfs-kernel-server programs, started
# as its service would): dram-donate-nfs --server kernel lends a tmpfs
# through it, a client here writes and reads through it, --undo
# removes it.

set -e -x

# guest-functions.sh: vmstat, fail, phase, expect, workload.
. /etc/dram-vm-functions.sh

donor=10.0.2.2
target=$donor:$NFS_PORT:$EXPORT
mnt=/run/dram/nfs/$MNT_NAME
file=$mnt/dram-swap

# After a failure or a detach: no NFS mount, no swap, no record, no
# mountpoint.
nothing_left ()
{
  ! grep -q ' nfs4\? ' /proc/mounts || fail "an NFS filesystem is still mounted"
  [ "$(wc -l < /proc/swaps)" -eq 1 ] || fail "swap is still on"
  for f in /run/dram/* /run/dram/nfs/*; do
    [ ! -e "$f" ] || [ "$f" = /run/dram/nfs ] || fail "$f is left"
  done
  [ "$(dram-attach --status --json)" = "[]" ] || fail "--status is not empty"
}

# swap_field FIELD: the /proc/swaps column of the swap file (3 size,
# 5 priority).
swap_field ()
{
  awk -v f="$1" -v d="$file" '$1 == d { print $f }' /proc/swaps
}

syslogd -O /tmp/syslog
# A hang is what this test must not hide: the hung-task reports reach
# the console with their stacks.
echo 7 > /proc/sys/kernel/printk
dram-attach --version
[ ! -e /sbin/mount.nfs ] || fail "this guest should have no mount.nfs"
nothing_left

# --- refusals, each leaving nothing behind ----------------------------
if phase refusals; then
  expect 2 "cannot reach the NFS server $donor port $DEAD_PORT" \
    dram-attach --mode=nfs "$donor:$DEAD_PORT:$EXPORT"
  nothing_left
  expect 2 \
    "this kernel cannot swap over NFS (CONFIG_NFS_SWAP is not set in /etc/dram/config-noswap)" \
    env DRAM_KERNEL_CONFIG=/etc/dram/config-noswap dram-attach --mode=nfs "$target"
  nothing_left
  expect 2 "mount $donor:$EXPORT/nothing-here on" \
    dram-attach --mode=nfs "$donor:$NFS_PORT:$EXPORT/nothing-here"
  nothing_left
  expect 2 "--size 1G is more than the export's free space" \
    dram-attach --mode=nfs --size 1G "$target"
  nothing_left
  echo "RESULT phase=refusals left=nothing"
fi

# --- swap on the NFS file, under global memory pressure ---------------
if phase swap; then
  dram-attach --mode=nfs --size "${SWAP_MIB}M" -p 3 -L nfsswap "$target" \
    > /tmp/out || { cat /tmp/out; fail "dram-attach --mode=nfs failed"; }
  cat /tmp/out
  grep -qF "$file: ${SWAP_MIB}M of swap on $target (NFS 4.2, mounted on $mnt)" \
    /tmp/out || fail "dram-attach did not say what it attached"
  cat /proc/swaps
  grep " $mnt nfs4 " /proc/mounts || fail "$mnt is not an NFS v4 mount"
  grep -q " $mnt nfs4 [^ ]*vers=4.2" /proc/mounts || fail "not NFS v4.2"
  # The header takes one page.
  [ "$(swap_field 3)" -eq $((SWAP_MIB * 1024 - 4)) ] || fail "wrong swap size"
  [ "$(swap_field 5)" -eq 3 ] || fail "wrong priority"
  [ "$(stat -c %a "$file")" = 600 ] || fail "$file is not mode 0600"
  # The label and type, as (util-linux's) blkid reads them.
  [ "$(blkid -p -s TYPE -o value "$file")" = swap ] || fail "blkid: $file is not swap"
  [ "$(blkid -p -s LABEL -o value "$file")" = nfsswap ] ||
    fail "--label: blkid reads '$(blkid -p -s LABEL -o value "$file")', not nfsswap"
  # Written in full: no holes.
  [ "$(stat -c %b "$file")" -ge $((SWAP_MIB * 2048)) ] || fail "$file has holes"
  dram-attach --status | tee /tmp/status
  grep -Eq "^$file +nfs +$target +${SWAP_MIB}M .* 3 +1 +0 mounted$" /tmp/status ||
    fail "--status does not show the swap file"
  dram-attach --status --json | tee /tmp/json
  for kv in "\"device\": \"$file\"" '"mode": "nfs"' '"priority": 3' \
            '"handover": "nfs4.2"' '"state": "mounted"' '"swap": true' \
            "\"size\": $((SWAP_MIB << 20))" "\"export\": \"$EXPORT\""; do
    grep -qF "$kv" /tmp/json || fail "--status --json lacks $kv"
  done
  expect 1 "$mnt is in use: something is mounted on it" \
    dram-attach --mode=nfs --size 16M "$target"
  echo "RESULT phase=attach file=$file swap_kib=$(swap_field 3)"
  free
  workload nfs "$WORK_MIB" both
  # Known by its export too.
  dram-attach --detach "$target"
  nothing_left
  echo "RESULT phase=detach left=nothing"
fi

# --- --nfs-version: 4.1 and 4.0 asked for and had; v3, which this
# server does not speak, refused leaving nothing ----------------------
if phase versions; then
  for v in 4.1 4.0; do
    dram-attach --mode=nfs --nfs-version "$v" --size 16M "$target" > /tmp/out ||
      { cat /tmp/out; fail "--nfs-version $v: the attach failed"; }
    cat /tmp/out
    grep -qF "(NFS $v, mounted on $mnt)" /tmp/out ||
      fail "--nfs-version $v: dram-attach did not say NFS $v"
    grep " $mnt " /proc/mounts
    grep -q " $mnt nfs4 [^ ]*vers=$v[,]" /proc/mounts ||
      fail "--nfs-version $v: the mount is not NFS $v"
    dram-attach --status --json | grep -qF "\"handover\": \"nfs$v\"" ||
      fail "--nfs-version $v: --status does not say nfs$v"
    [ "$(swap_field 3)" -eq $((16 * 1024 - 4)) ] || fail "--nfs-version $v: no swap"
    dram-attach --detach all
    nothing_left
    echo "RESULT phase=versions nfs=$v left=nothing"
  done
  rc=0
  dram-attach --mode=nfs --nfs-version 3 --size 16M "$target" 2> /tmp/err || rc=$?
  cat /tmp/err
  [ "$rc" -eq 2 ] || fail "--nfs-version 3 to a v4-only server exited $rc, not 2"
  grep -qF "(-o vers=3,addr=$donor,nolock,port=$NFS_PORT): Protocol not supported (the server or this kernel does not speak that NFS version: see --nfs-version)" \
    /tmp/err || fail "--nfs-version 3 was refused without saying why"
  nothing_left
  echo "RESULT phase=versions nfs=3 refused left=nothing"
fi

# --- --persist: the mount and the swap in fstab, once, then gone -----
if phase persist; then
  export DRAM_FSTAB=/tmp/fstab
  printf '# the guest'"'"'s fstab\nproc /proc proc defaults 0 0\n' > "$DRAM_FSTAB"
  cp "$DRAM_FSTAB" /tmp/fstab.orig
  # The size by default: the export's free space, less a margin.
  dram-attach --mode=nfs --persist "$target"
  size_kib=$(swap_field 3)
  if [ "$size_kib" -lt $(((EXPORT_MIB - 8) * 1024)) ] ||
     [ "$size_kib" -ge $((EXPORT_MIB * 1024)) ]; then
    fail "a default size of $size_kib KiB for an export of $EXPORT_MIB MiB"
  fi
  echo "RESULT phase=persist default_kib=$size_kib"
  findmnt --fstab --tab-file "$DRAM_FSTAB" -n -r -o SOURCE,TARGET,FSTYPE,OPTIONS |
    tee /tmp/lines
  grep -qx "$donor:$EXPORT $mnt nfs4 vers=4,port=$NFS_PORT,_netdev,nofail,x-mount.mkdir=0700" \
    /tmp/lines || fail "no NFS line in fstab"
  grep -qx "$file none swap nofail" /tmp/lines || fail "no swap line in fstab"
  grep -qx "proc /proc proc defaults" /tmp/lines || fail "fstab lost a line"
  [ "$(wc -l < /tmp/lines)" -eq 3 ] || fail "fstab has other lines"
  # For the host to read with its own findmnt (apart from the trace).
  sed 's/^/FSTAB: /' "$DRAM_FSTAB"
  cp "$DRAM_FSTAB" /tmp/fstab.ours
  dram-attach --detach "$file"
  nothing_left
  cmp "$DRAM_FSTAB" /tmp/fstab.orig || fail "--detach did not restore fstab"

  # With our lines already there (as after a reboot), a second --persist
  # adds nothing.
  cp /tmp/fstab.ours "$DRAM_FSTAB"
  dram-attach --mode=nfs --persist "$target"
  cmp "$DRAM_FSTAB" /tmp/fstab.ours || fail "a second --persist changed fstab"
  dram-attach --detach all
  nothing_left
  cmp "$DRAM_FSTAB" /tmp/fstab.orig || fail "--detach did not restore fstab"
  echo "RESULT phase=persist fstab=once left=nothing"
fi

# --- where mount.nfs exists, libmount runs it -------------------------
if phase helper && [ -n "$MOUNT_NFS" ]; then
  ln -s "$MOUNT_NFS" /sbin/mount.nfs4
  dram-attach -v --mode=nfs --size 16M "$target" 2> /tmp/err
  cat /tmp/err
  grep -qF "mount -t nfs4 -o vers=4,port=$NFS_PORT $donor:$EXPORT $mnt (mount.nfs)" \
    /tmp/err || fail "dram-attach did not use mount.nfs"
  grep -q " $mnt nfs4 [^ ]*vers=4.2" /proc/mounts || fail "not NFS v4.2"
  [ "$(swap_field 3)" -eq $((16 * 1024 - 4)) ] || fail "wrong swap size"
  dram-attach --detach all
  rm /sbin/mount.nfs4
  nothing_left
  echo "RESULT phase=helper mount.nfs=used left=nothing"
fi

# --- dram-donate-nfs --server kernel -----------------------------------
if phase kernel; then
  modprobe nfsd || fail "no nfsd module"
  mount -t nfsd nfsd /proc/fs/nfsd || fail "cannot mount the nfsd filesystem"
  # No 90 s of NFS v4 grace before the first open.
  echo 10 > /proc/fs/nfsd/nfsv4leasetime
  echo 10 > /proc/fs/nfsd/nfsv4gracetime
  mkdir -p /var/lib/nfs/v4recovery /etc/exports.d
  touch /etc/exports /var/lib/nfs/etab /var/lib/nfs/rmtab
  rpc.mountd -N 2 -N 3 -u || fail "rpc.mountd did not start"
  rpc.nfsd -N 3 -U 4 || fail "rpc.nfsd did not start"
  kdir=/mnt/lend
  # What this guest has free: 24M (it refuses more than MemAvailable);
  # the donor's state apart from the recipient's (nothing_left).
  DRAM_RUNDIR=/run/dram-donor \
    dram-donate-nfs --server kernel --size 24M --dir "$kdir" --client 127.0.0.1 \
    > /tmp/out 2>&1 || { cat /tmp/out; fail "dram-donate-nfs --server kernel failed"; }
  cat /tmp/out
  grep -qxF "dram-donate-nfs: $kdir (24M, tmpfs) is exported to 127.0.0.1 by the kernel NFS server" \
    /tmp/out || fail "dram-donate-nfs did not say what it lent"
  grep -q " $kdir tmpfs rw,nosuid,nodev,noexec,.*size=24576k,mode=700" /proc/mounts ||
    fail "$kdir is not the 24M tmpfs"
  exportfs -v | tr -s ' \t' ' ' | tee /tmp/exports
  grep -q "^$kdir 127.0.0.1(sync,.*rw,.*no_root_squash" /tmp/exports ||
    fail "$kdir is not exported read-write, no root squash, to 127.0.0.1"
  # A client on this machine writes and reads through the export.  (Not
  # swap: swapping to an NFS server on the same kernel can deadlock, the
  # server's writes waiting for the reclaim that waits for them.)
  mkdir -p /mnt/client
  kmount () {
    mount -t nfs4 -o vers=4.2,addr=127.0.0.1,clientaddr=127.0.0.1 \
      "127.0.0.1:$kdir" /mnt/client || fail "the export cannot be mounted$1"
  }
  kmount ""
  dd if=/dev/urandom of=/tmp/data bs=1M count=4 2>/dev/null
  cp /tmp/data /mnt/client/data || fail "cannot write through the export"
  umount /mnt/client
  cmp /tmp/data "$kdir/data" || fail "the donor's tmpfs does not hold what was written"
  kmount " again"
  cmp /tmp/data /mnt/client/data || fail "the export gave back other bytes"
  rm /mnt/client/data /tmp/data
  umount /mnt/client
  DRAM_RUNDIR=/run/dram-donor dram-donate-nfs --undo --dir "$kdir" ||
    fail "dram-donate-nfs --undo failed"
  ! exportfs -v | grep -q "$kdir" || fail "--undo left $kdir exported"
  ! grep -q " $kdir " /proc/mounts || fail "--undo left $kdir mounted"
  [ -z "$(ls /run/dram-donor/nfs 2>/dev/null)" ] || fail "--undo left its state"
  rpc.nfsd 0
  echo "RESULT phase=kernel donate=exported client=read-write undo=nothing"
fi

echo "guest-nfs: all phases passed"
