#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause

# Build a test VM initramfs; the options are those of vm_build_initramfs
# in vm-functions.sh:
#   vm-build-initramfs.sh -o OUT -s GUEST_SCRIPT [-b BIN[:DEST]]...
#       [-m "MODULE [PARAM=VALUE...]"]... [-f SRC:/DEST]... [-e NAME=VALUE]...
#       [-n static|dhcp|none]
# Exits 77 when the kernel cannot be had, 1 on any other error.

set -e

. "$(dirname "$0")/vm-functions.sh"

vm_require_kernel
vm_build_initramfs "$@"
