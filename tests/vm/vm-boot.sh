#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause

# Boot Debian's kernel with INITRD (from vm-build-initramfs.sh) under QEMU
# and exit with the guest script's exit code (99 if the guest never
# reported one).  The console log's path is printed.
#   usage: vm-boot.sh INITRD
#   env: MEM, CPUS, VM_TIMEOUT, VM_APPEND, VM_QEMU_OPTS, VM_LOG, VM_LOG_DIR,
#        QEMU, VM_ACCEL (see vm-functions.sh)

set -e

. "$(dirname "$0")/vm-functions.sh"

[ $# -eq 1 ] || { echo "usage: $0 INITRD" >&2; exit 2; }
vm_requires "${QEMU:-qemu-system-x86_64}"
vm_require_kernel
rc=0
vm_boot "$1" || rc=$?
exit "$rc"
