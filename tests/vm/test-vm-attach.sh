#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# dram-attach on a real kernel: Debian's kernel in QEMU with 128 MiB of
# RAM swaps to nbdkit-dram-plugin on the host (guest-attach.sh has the
# guest's part and assertions).  Here, on the host: the netlink phase's
# donor holds what the guest swapped out, and with --discard gives it
# back once the guest has freed it.  VM_PHASES="ioctl tls" runs only
# those phases of the guest's (for debugging).
set -e -x

. "$(dirname "$0")/vm-functions.sh"

vm_requires qemu-system-x86_64 nbdkit nbdinfo busybox cpio gzip depmod blkid
vm_require_kernel
[ "$(vm_kernel_config BLK_DEV_NBD)" != n ] ||
  vm_skip "kernel $VM_KERNEL_VERSION has no NBD driver"

plugin=${DRAM_PLUGIN:-$abs_top_builddir/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}
attach=$abs_top_builddir/attach/dram-attach
[ -x "$attach" ] || vm_fail "build dram-attach first ($attach)"
swap_mib=512
# The guest sees about 80 MiB of its 128 (MemTotal): 2.5 times that.
work_mib=200
# 3 times a memory cgroup's limit, which must fit in the 50 MiB or so
# the guest has available (more would be global pressure).
cgroup_mib=16
cgroup_work_mib=48

vm_workdir
vm_find_memverify
psk=$VM_WORKDIR/keys.psk
vm_psk_key "$psk"
vm_psk_key "$VM_WORKDIR/wrong.psk"

vm_start_nbdkit "$plugin" size=${swap_mib}M
netlink_port=$VM_NBD_PORT
netlink_pid=$VM_NBDKIT_PID
vm_start_nbdkit "$plugin" size=${swap_mib}M
plain_port=$VM_NBD_PORT
VM_NBD_LISTEN=::1 vm_start_nbdkit "$plugin" size=${swap_mib}M
plain6_port=$VM_NBD_PORT
vm_start_nbdkit --filter=multi-conn "$plugin" size=64M multi-conn-mode=disable
single_port=$VM_NBD_PORT
vm_start_nbdkit --tls=require --tls-psk="$psk" "$plugin" size=${swap_mib}M
tls_port=$VM_NBD_PORT
vm_start_nbdkit --filter=exportname "$plugin" size=64M exportname=swap \
  exportname-strict=true
strict_port=$VM_NBD_PORT
pair_mib=128
vm_start_nbdkit "$plugin" size=$((2 * pair_mib))M region=${pair_mib}M
pair_port=$VM_NBD_PORT
dead_port=$(vm_free_port)

# The netlink phase's donor's RSS, sampled while the guest runs
# (bounded by the VM's own timeout), untraced.
rss_log=$VM_WORKDIR/rss
( set +x
  for ((i = 0; i < 2400; i++)); do
    awk '/^VmRSS:/ { print $2 }' "/proc/$netlink_pid/status" 2>/dev/null || break
    sleep 0.5
  done ) > "$rss_log" &
sampler=$!
vm_on_exit "kill $sampler 2>/dev/null"

# Kernel TLS: the tls module and the ciphers' crypto modules, which a
# full system loads on demand (the crypto API asks for them by name).
ktls_modules="-m tls -m chacha_generic -m poly1305_generic -m chacha20poly1305
  -m ctr -m ghash-generic -m gcm"

# dram-attach's libraries (libnbd, gnutls, libxml2 and ICU) come from
# the host over 9p: copied into the initramfs they would not fit in RAM.
vm_build_initramfs -L -o "$VM_WORKDIR/initrd.gz" \
  -s "$VM_DIR/guest-attach.sh" \
  -b "$attach" -b "$MEMVERIFY" -b "$(command -v blkid)" -m nbd $ktls_modules \
  -f "$psk:/etc/dram/keys.psk" -f "$VM_WORKDIR/wrong.psk:/etc/dram/wrong.psk" \
  -e NETLINK_PORT="$netlink_port" -e PLAIN_PORT="$plain_port" \
  -e PLAIN6_PORT="$plain6_port" -e SINGLE_PORT="$single_port" \
  -e TLS_PORT="$tls_port" -e PAIR_PORT="$pair_port" -e PAIR_MIB="$pair_mib" \
  -e STRICT_PORT="$strict_port" -e DEAD_PORT="$dead_port" \
  -e SWAP_MIB="$swap_mib" -e STRICT_MIB=64 \
  -e WORK_MIB="$work_mib" -e CGROUP_MIB="$cgroup_mib" \
  -e CGROUP_WORK_MIB="$cgroup_work_mib" -e WORK_PROCS=2 \
  -e PHASES="${VM_PHASES:-all}"

MEM=128 CPUS=${CPUS:-2} VM_TIMEOUT=${VM_TIMEOUT:-1200} \
  vm_boot "$VM_WORKDIR/initrd.gz"
kill "$sampler" 2>/dev/null || :

results=$VM_WORKDIR/results
vm_results "$results"
grep -q "guest-attach: all phases passed" "$results" ||
  vm_fail "the guest did not pass every phase" || exit 1
if vm_ran netlink; then
  # While the guest swapped, the donor held its pages: at the peak, at
  # least what did not fit in the guest's RAM; with --discard, once the
  # guest had freed them, it gave them back.
  peak_kib=$(sort -n "$rss_log" | tail -1)
  after_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$netlink_pid/status")
  echo "netlink donor: peak RSS $((peak_kib / 1024)) MiB, after the discards $((after_kib / 1024)) MiB"
  [ "$peak_kib" -ge $(((work_mib - 80) * 1024 * 3 / 4)) ] ||
    vm_fail "the donor never held what the guest swapped out" || exit 1
  [ "$after_kib" -lt $((peak_kib / 4)) ] ||
    vm_fail "--discard: the donor kept $((after_kib / 1024)) MiB after the guest freed its swap" ||
    exit 1
fi
if vm_ran regions; then
  # --detach trimmed both regions whole: the donor freed them at once,
  # not at the end of their lease.
  nbdinfo --list "nbd://127.0.0.1:$pair_port/" | tee "$VM_WORKDIR/list"
  grep -qF "free=$((2 * pair_mib << 20)) regions=0)" "$VM_WORKDIR/list" ||
    vm_fail "the detached regions were not freed at once" || exit 1
fi
for p in tlsproxy ipv6; do
  vm_ran "${p/ipv6/uris}" || continue
  grep -Eq "^RESULT phase=$p mib=$cgroup_work_mib mode=both .* pswpout=" "$results" ||
    vm_fail "no swap workload in phase $p" || exit 1
done
