#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# dram-attach --mode=fuse on a real kernel: Debian's kernel in QEMU with
# 128 MiB of RAM puts swap on a loop device over a FUSE file served from
# nbdkit-dram-plugin on the host (guest-fuse.sh has the guest's part and
# assertions).  Here, on the host: the guest's results, and the donor
# holds what the guest wrote.  VM_PHASES="refusal" runs only those
# phases of the guest's.  VM_PHASES=global reproduces the livelock under
# global memory pressure that README's "Deadlocks" reports: the VM's
# timeout (VM_TIMEOUT) turns it into a failure with the console kept.
set -e -x

. "$(dirname "$0")/vm-functions.sh"

vm_requires qemu-system-x86_64 nbdkit busybox cpio gzip depmod
vm_require_kernel
[ "$(vm_kernel_config FUSE_FS)" != n ] ||
  vm_skip "kernel $VM_KERNEL_VERSION has no FUSE"
[ "$(vm_kernel_config BLK_DEV_LOOP)" != n ] ||
  vm_skip "kernel $VM_KERNEL_VERSION has no loop devices"

plugin=${DRAM_PLUGIN:-$abs_top_builddir/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}
attach=$abs_top_builddir/attach/dram-attach
[ -x "$attach" ] || vm_fail "build dram-attach first ($attach)"
swap_mib=512
# 3 times a memory cgroup's limit, which must fit in the 50 MiB or so
# the guest has available (more would be global pressure).
cgroup_mib=16
work_mib=48
# The guest sees about 80 MiB of its 128 (MemTotal): 2.5 times that.
global_mib=200

vm_workdir
vm_find_memverify
vm_start_nbdkit "$plugin" size=${swap_mib}M
plain_port=$VM_NBD_PORT
plain_pid=$VM_NBDKIT_PID
dead_port=$(vm_free_port)

# The donor's RSS, sampled while the guest runs (bounded by the VM's
# own timeout), untraced: a hung guest would bury the log in samples.
rss_log=$VM_WORKDIR/rss
( set +x
  for ((i = 0; i < 2400; i++)); do
    awk '/^VmRSS:/ { print $2 }' "/proc/$plain_pid/status" 2>/dev/null || break
    sleep 0.5
  done ) > "$rss_log" &
sampler=$!
vm_on_exit "kill $sampler 2>/dev/null"

# dram-attach's libraries (libnbd, libfuse3, gnutls, libxml2 and ICU)
# come from the host over 9p.
vm_build_initramfs -L -o "$VM_WORKDIR/initrd.gz" \
  -s "$VM_DIR/guest-fuse.sh" \
  -b "$attach" -b "$MEMVERIFY" -m fuse -m loop \
  -e PLAIN_PORT="$plain_port" -e DEAD_PORT="$dead_port" \
  -e SWAP_MIB="$swap_mib" -e CGROUP_MIB="$cgroup_mib" \
  -e WORK_MIB="$work_mib" -e GLOBAL_MIB="$global_mib" -e WORK_PROCS=2 -e PHASES="${VM_PHASES:-all}"

MEM=128 CPUS=${CPUS:-2} VM_TIMEOUT=${VM_TIMEOUT:-900} \
  vm_boot "$VM_WORKDIR/initrd.gz"
kill "$sampler" 2>/dev/null || :

results=$VM_WORKDIR/results
vm_results "$results"

if vm_ran refusal; then
  grep -qx 'RESULT phase=refusal exit=2 left=nothing' "$results"
fi
if vm_ran fuse; then
  grep -Eqx "RESULT phase=attach device=/dev/loop[0-9]+ swap_kib=$((swap_mib * 1024 - 4)) dio=1" \
    "$results"
  grep -qx 'RESULT phase=fuse verified_mib=8' "$results"
  grep -qx 'RESULT phase=detach left=nothing' "$results"
  # The donor held what the guest wrote through the FUSE file.
  peak_kib=$(sort -n "$rss_log" | tail -1)
  echo "donor peak RSS: $((peak_kib / 1024)) MiB"
  [ "$peak_kib" -ge $((8 * 1024)) ]
fi
if vm_ran memcg; then
  grep -Eq "^RESULT phase=memcg mib=$work_mib mode=both .* pswpout=" \
    "$results"
  grep -qx 'RESULT phase=detach left=nothing' "$results"
fi
case " ${VM_PHASES:-} " in
  *" global "*)
    grep -q "^RESULT phase=global .* pswpout=" "$results"
    grep -qx 'RESULT phase=detach left=nothing' "$results"
    ;;
esac
