#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause

# Fetch and unpack Debian's amd64 kernel into the cache (see
# vm_fetch_kernel in vm-functions.sh) and print, as shell assignments,
# VM_KERNEL_VERSION, VM_KERNEL_IMAGE, VM_KERNEL_ROOT, VM_KERNEL_MODDIR and
# VM_KERNEL_CONFIG.  Exits 77 saying why when the kernel cannot be had.
#   usage: vm-fetch-kernel.sh        env: DRAM_VM_CACHE, DRAM_VM_KERNEL_PACKAGE

set -e

. "$(dirname "$0")/vm-functions.sh"

[ $# -eq 0 ] || { echo "usage: $0" >&2; exit 2; }
vm_require_kernel
for var in VM_KERNEL_VERSION VM_KERNEL_IMAGE VM_KERNEL_ROOT \
           VM_KERNEL_MODDIR VM_KERNEL_CONFIG; do
  printf '%s=%q\n' "$var" "${!var}"
done
