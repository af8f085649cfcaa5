#!/bin/sh
# dram — SPDX-License-Identifier: BSD-3-Clause

# /init of the dram test VM (busybox sh).  vm_build_initramfs installs it
# with /etc/dram-vm.conf, which sets:
#   VM_MODULES  kernel modules to load, one "NAME [PARAM=VALUE...]" a line
#   VM_NET      static (10.0.2.15/24 via 10.0.2.2), dhcp or none
#   VM_HOSTLIB  a directory to mount from the host over 9p, or empty
# and exports the test's own variables.  It sets the machine up, runs
# /dram-vm-guest.sh, prints "DRAM-VM-EXIT=<code> nonce=<nonce>" (the nonce
# comes from dram_vm_nonce= on the kernel command line, so that the host
# cannot mistake stray output for the marker), then powers off.
# Set-up failures are reported as exit code 99.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel opened /dev/console before init only if the initramfs had it.
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ln -sf /proc/self/fd /dev/fd

nonce=none
read -r cmdline </proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    dram_vm_nonce=*) nonce="${arg#dram_vm_nonce=}" ;;
  esac
done

finish ()
{
  echo
  echo "DRAM-VM-EXIT=$1 nonce=$nonce"
  sync
  poweroff -f
  # poweroff should not return; if it does, make the kernel do it.
  echo o >/proc/sysrq-trigger
  sleep 10
  exit "$1"
}

fail_setup ()
{
  echo "dram-vm: $*" >&2
  finish 99
}

# shellcheck disable=SC1091  # written by vm_build_initramfs
. /etc/dram-vm.conf || fail_setup "cannot read /etc/dram-vm.conf"

load_modules ()
{
  echo "$VM_MODULES" | while read -r name params; do
    [ -n "$name" ] || continue
    # Word splitting of $params is wanted: one argument per parameter.
    # shellcheck disable=SC2086
    modprobe "$name" $params || return 1
  done
}

# Wait up to 10 s for a network interface to appear.
wait_for_interface ()
{
  i=0
  while [ ! -e "/sys/class/net/$1" ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || return 1
    sleep 0.1
  done
}

setup_network ()
{
  ip link set lo up || return 1
  [ "$VM_NET" != none ] || return 0
  wait_for_interface eth0 || { echo "dram-vm: no eth0" >&2; return 1; }
  ip link set eth0 up || return 1
  case "$VM_NET" in
    static)
      ip addr add 10.0.2.15/24 dev eth0 &&
        ip route add default via 10.0.2.2
      ;;
    dhcp)
      udhcpc -i eth0 -n -q -t 5 -T 2 -s /etc/dram-vm-udhcpc.sh
      ;;
    *)
      echo "dram-vm: unknown VM_NET '$VM_NET'" >&2
      return 1
      ;;
  esac
}

# With vm_build_initramfs -L, binaries' libraries come from the host.
mount_hostlib ()
{
  [ -n "$VM_HOSTLIB" ] || return 0
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose \
    hostlib "$VM_HOSTLIB"
}

load_modules || fail_setup "loading modules failed"
mount_hostlib || fail_setup "mounting the host's libraries failed"
setup_network || fail_setup "network set-up ($VM_NET) failed"

echo "dram-vm: kernel $(uname -r), $(nproc) CPU(s)," \
     "$(awk '/^MemTotal/ {print $2, $3}' /proc/meminfo) RAM, running guest script"
cd /
/bin/sh /dram-vm-guest.sh
finish $?
