#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause

# Debian's own nbd-client on the same donor as test-vm-attach.sh: boot
# Debian's kernel with 128 MiB of RAM, swap on /dev/nbd0 served by
# nbdkit-dram-plugin on the host, and run memverify over 2.5 times the
# RAM (guest-nbd-client.sh does the guest's part).

set -e -x

. "$(dirname "$0")/vm-functions.sh"

vm_requires qemu-system-x86_64 nbdkit busybox cpio gzip depmod
[ -x /usr/sbin/nbd-client ] ||
  vm_skip "/usr/sbin/nbd-client is missing (apt-get install nbd-client)"
vm_require_kernel
[ "$(vm_kernel_config BLK_DEV_NBD)" != n ] ||
  vm_skip "kernel $VM_KERNEL_VERSION has no NBD driver"

swap_mib=512
vm_workdir
vm_find_memverify
# The same donor as dram-attach's test: the standard client's figures
# are the baseline.
vm_start_nbdkit "${DRAM_PLUGIN:-$abs_top_builddir/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}" \
  size="${swap_mib}M"

vm_build_initramfs -o "$VM_WORKDIR/initrd.gz" \
  -s "$VM_DIR/guest-nbd-client.sh" \
  -b /usr/sbin/nbd-client -b "$MEMVERIFY" \
  -m nbd \
  -e NBD_PORT="$VM_NBD_PORT" -e SWAP_MIB="$swap_mib" \
  -e WORK_MIB=200 -e WORK_PROCS=2

# 2 vCPUs run the 2 workers and the swap path better than 1 (TCG).
MEM=128 CPUS=${CPUS:-2} VM_TIMEOUT=${VM_TIMEOUT:-600} \
  vm_boot "$VM_WORKDIR/initrd.gz"

# The guest's own assertions passed; show its measurements.
grep -a '^RESULT\|^memverify: ' "$VM_LOG" | tr -d '\r'
