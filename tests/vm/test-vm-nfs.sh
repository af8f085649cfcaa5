#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# dram-attach --mode=nfs on a real kernel: on the host, dram-donate-nfs
# lends a tmpfs through nfs-ganesha on a free loopback port; Debian's
# kernel in QEMU with 128 MiB of RAM mounts it and swaps on a file there
# (guest-nfs.sh has the guest's part and assertions).  QEMU's user
# network brings the guest's connections to 10.0.2.2:PORT to the host's
# 127.0.0.1:PORT, from 127.0.0.1: ganesha listens on loopback only and
# exports to 127.0.0.1 only.  Here, on the host: the guest's results,
# the tmpfs filling while the guest swaps and empty after --detach, and
# the guest's --persist fstab as the host's findmnt reads it.
# The guest also runs the kernel's own NFS server (its programs from
# Debian's nfs-kernel-server and nfs-common, fetched, not installed
# here) for dram-donate-nfs --server kernel.
# VM_PHASES="refusals swap persist helper kernel" runs only those phases
# of the guest's.
set -e -x

. "$(dirname "$0")/vm-functions.sh"

vm_requires qemu-system-x86_64 busybox cpio gzip depmod ganesha.nfsd findmnt blkid
requires_root
vm_require_kernel
if [ "$(vm_kernel_config NFS_FS)" = n ] || [ "$(vm_kernel_config NFS_V4)" = n ]; then
  vm_skip "kernel $VM_KERNEL_VERSION has no NFS v4 client"
fi
[ "$(vm_kernel_config NFS_SWAP)" = y ] ||
  vm_skip "kernel $VM_KERNEL_VERSION cannot swap over NFS (no CONFIG_NFS_SWAP)"
ganesha_has_vfs || vm_skip "$no_ganesha_vfs"
[ "$(vm_kernel_config NFSD)" != n ] ||
  vm_skip "kernel $VM_KERNEL_VERSION has no NFS server (nfsd)"
# The kernel NFS server's programs, for the guest.
vm_fetch_debs nfs-kernel-server nfs-common ||
  fail "the kernel NFS server's programs could not be fetched (see above)"
knfs=()
for b in usr/sbin/exportfs usr/sbin/rpc.nfsd usr/sbin/rpc.mountd; do
  knfs+=(-b "$VM_DEBS_ROOT/$b")
done
# dram-donate-nfs is bash and takes what busybox lacks from coreutils
# and util-linux.
for b in bash realpath getconf getopt install mktemp stat df cksum; do
  knfs+=(-b "$(command -v "$b")")
done

attach=$abs_top_builddir/attach/dram-attach
donate=$abs_top_srcdir/scripts/dram-donate-nfs
[ -x "$attach" ] || vm_fail "build dram-attach first ($attach)"
export_mib=288
swap_mib=256
# The guest sees about 80 MiB of its 128 (MemTotal): 2.5 times that.
work_mib=200

vm_workdir
vm_find_memverify
# The donor's state stays in the test's directory.
run=$VM_WORKDIR/run
dir=$VM_WORKDIR/send
donor ()
{
  DRAM_RUNDIR=$run "$donate" "$@"
}
port=$(vm_free_port)
dead_port=$(vm_free_port)
vm_on_exit "DRAM_RUNDIR='$run' '$donate' --undo --dir '$dir'"
donor --size ${export_mib}M --dir "$dir" --client 127.0.0.1 \
  --server ganesha --listen 127.0.0.1 --port "$port"

# The name dram-attach gives the export's mountpoint (nfs_mountpoint_name):
# letters, digits and '.' kept, '/' as '-', other bytes as _XX.
mnt_name=10.0.2.2:$port
for ((i = 0; i < ${#dir}; i++)); do
  c=${dir:i:1}
  case "$c" in
    [A-Za-z0-9.]) mnt_name+=$c ;;
    /) mnt_name+=- ;;
    *) mnt_name+=$(printf '_%02x' "'$c") ;;
  esac
done

# How full the donor's tmpfs is, sampled while the guest runs (bounded
# by the VM's own timeout), untraced.
used_log=$VM_WORKDIR/used
( set +x
  for ((i = 0; i < 2400; i++)); do
    df -k --output=used "$dir" 2>/dev/null | tail -n 1 || break
    sleep 0.5
  done ) > "$used_log" &
sampler=$!
vm_on_exit "kill $sampler 2>/dev/null"

# The host's mount.nfs, for the guest to try as a helper.
mount_nfs=$(PATH=/sbin:/usr/sbin:$PATH command -v mount.nfs || :)
helper=()
[ -z "$mount_nfs" ] || helper=(-b "$mount_nfs:/opt/mount.nfs")

# A kernel configuration without NFS swap, for the refusal.
printf '# CONFIG_NFS_SWAP is not set\n' > "$VM_WORKDIR/config-noswap"

# dram-attach's and findmnt's libraries come from the host over 9p.
# The guest gets its kernel's configuration where dram-attach looks.
vm_build_initramfs -L -o "$VM_WORKDIR/initrd.gz" \
  -s "$VM_DIR/guest-nfs.sh" \
  -b "$attach" -b "$MEMVERIFY" -b "$(command -v findmnt)" \
  -b "$(command -v blkid)" "${helper[@]}" "${knfs[@]}" \
  -b "$donate" -m nfsd \
  -f /etc/services:/etc/services -f /etc/netconfig:/etc/netconfig \
  -m nfsv4 \
  -f "$VM_KERNEL_CONFIG:/boot/config-$VM_KERNEL_VERSION" \
  -f "$VM_WORKDIR/config-noswap:/etc/dram/config-noswap" \
  -e NFS_PORT="$port" -e EXPORT="$dir" -e MNT_NAME="$mnt_name" \
  -e MOUNT_NFS="${mount_nfs:+/opt/mount.nfs}" \
  -e DEAD_PORT="$dead_port" -e SWAP_MIB="$swap_mib" \
  -e EXPORT_MIB="$export_mib" \
  -e WORK_MIB="$work_mib" -e WORK_PROCS=2 -e PHASES="${VM_PHASES:-all}"

MEM=128 CPUS=${CPUS:-2} VM_TIMEOUT=${VM_TIMEOUT:-1200} \
  vm_boot "$VM_WORKDIR/initrd.gz"
kill "$sampler" 2>/dev/null || :

results=$VM_WORKDIR/results
vm_results "$results"

if vm_ran refusals; then
  grep -qx 'RESULT phase=refusals left=nothing' "$results"
fi
if vm_ran swap; then
  grep -qx "RESULT phase=attach file=/run/dram/nfs/$mnt_name/dram-swap swap_kib=$((swap_mib * 1024 - 4))" \
    "$results"
  grep -q '^memverify: OK' "$results"
  grep -qx 'RESULT phase=detach left=nothing' "$results"
  # The swap file lived in the donor's tmpfs, written in full.
  peak_kib=$(sort -n "$used_log" | tail -n 1)
  echo "donor tmpfs peak: $((peak_kib / 1024)) MiB"
  [ "$peak_kib" -ge $((swap_mib * 1024)) ]
fi
if vm_ran persist; then
  grep -qx 'RESULT phase=persist fstab=once left=nothing' "$results"
  # The guest's fstab, as the host's findmnt reads it.
  tr -d '\r' < "$VM_LOG" | sed -n 's/^FSTAB: //p' > "$VM_WORKDIR/fstab"
  cat "$VM_WORKDIR/fstab"
  findmnt --fstab --tab-file "$VM_WORKDIR/fstab" -n -r \
    -o SOURCE,TARGET,FSTYPE,OPTIONS > "$VM_WORKDIR/lines"
  cat "$VM_WORKDIR/lines"
  grep -qx "10.0.2.2:$dir /run/dram/nfs/$mnt_name nfs4 vers=4,port=$port,_netdev,nofail,x-mount.mkdir=0700" \
    "$VM_WORKDIR/lines"
  grep -qx "/run/dram/nfs/$mnt_name/dram-swap none swap nofail" \
    "$VM_WORKDIR/lines"
  [ "$(wc -l < "$VM_WORKDIR/lines")" -eq 3 ]
fi
if vm_ran versions; then
  for v in 4.1 4.0 "3 refused"; do
    grep -qx "RESULT phase=versions nfs=$v left=nothing" "$results" ||
      vm_fail "--nfs-version $v: no result" || exit 1
  done
fi
if vm_ran kernel; then
  grep -qx 'RESULT phase=kernel donate=exported client=read-write undo=nothing' "$results" ||
    vm_fail "dram-donate-nfs --server kernel: no result" || exit 1
fi
if vm_ran helper && [ -n "$mount_nfs" ]; then
  grep -qx 'RESULT phase=helper mount.nfs=used left=nothing' "$results"
fi
# Every detach removed its swap file from the donor.
ls -A "$dir"
[ -z "$(ls -A "$dir")" ]
