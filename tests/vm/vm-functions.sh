# dram — SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# shellcheck disable=SC2012  # ls on directories whose names we know
# shellcheck disable=SC2034  # the VM_* results are for the tests

# Functions for tests that boot Debian's kernel in QEMU with a busybox
# initramfs.  Source this file from a bash test:
#
#   . "$(dirname "$0")/vm-functions.sh"
#
# Functions set variables (VM_*) rather than print results, so call them
# directly, never inside $(...).  Messages go to stderr.  Cleanup actions
# registered with vm_on_exit run in reverse order when the test exits.
#
# Environment (all optional):
#   DRAM_VM_CACHE           where the unpacked kernel is kept
#                           (/var/cache/dram-vm, or ~/.cache/dram-vm when
#                           that is not writable)
#   DRAM_VM_KERNEL_PACKAGE  kernel package to use instead of the one
#                           linux-image-amd64 depends on
#   QEMU                    qemu binary (qemu-system-x86_64)
#   VM_ACCEL                QEMU accelerator (tcg: KVM aborts on these hosts)
#   MEM, CPUS               guest RAM in MiB (128) and CPUs (1)
#   VM_TIMEOUT              seconds before the VM is killed (300)
#   VM_APPEND               extra kernel command line
#   VM_QEMU_OPTS            extra QEMU arguments (word-split)
#   VM_NIC                  QEMU NIC device and properties (e1000)
#   VM_LOG                  console log file (VM_LOG_DIR/NAME.console.log)
#   VM_LOG_DIR              directory of the console log (.)
#   VM_KEEP                 if non-empty, keep $VM_WORKDIR for inspection
#   MEMVERIFY               memverify binary to put in the guest
#   VM_HOSTLIB_DIR          the libraries -L shares (/usr/lib/<multiarch>)
#   abs_top_builddir, abs_top_srcdir   where to look for memverify
#
# Scripts find each other through this file's own directory, so tests work
# from any build directory.

# Directory of this file, which holds the guest-side scripts.
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The shared test functions: skip, requires, on_exit, free_port.
# shellcheck source=../functions.sh
. "$VM_DIR/../functions.sh"

# Modules tools and mkswap live in sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin

# Name used for the console log: the test script's name.
VM_NAME=${VM_NAME:-$(basename "$0" .sh)}

# The host's library directory, shared with the guest by -L.
VM_HOSTLIB_DIR=${VM_HOSTLIB_DIR:-/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)}


# vm_untraced FUNCTION [ARGS...]
# Run FUNCTION with xtrace off, so that a test's "set -x" shows the steps
# of the test rather than the harness's inner loops, and restore it.
# FUNCTION runs in a conditional context (errexit is off): the harness
# checks every step itself and returns non-zero saying why.
vm_untraced ()
{
  { local vm_flags=$- vm_rc=0; set +x; } 2>/dev/null
  "$@" || vm_rc=$?
  [[ $vm_flags != *x* ]] || set -x
  return "$vm_rc"
}

# vm_skip REASON...
# Skip the test (exit 77), saying why.
vm_skip ()
{
  skip "$*"
}

# vm_fail MESSAGE...
# Print an error; for use as "cmd || vm_fail ...", returns 1.
vm_fail ()
{
  echo "$VM_NAME: error: $*" >&2
  return 1
}

# vm_requires CMD...
# Skip the test unless every CMD is found on PATH.
vm_requires ()
{
  requires "$@"
}

# vm_on_exit COMMAND...
# on_exit: run COMMAND (a string, eval'd) when the shell exits, last
# registered first.  The test's exit status is preserved.
vm_on_exit ()
{
  on_exit "$@"
}

# vm_workdir
# Create $VM_WORKDIR, a private temporary directory removed at exit
# (unless VM_KEEP is set).  Idempotent.
vm_workdir ()
{
  [ -z "${VM_WORKDIR:-}" ] || return 0
  VM_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/dram-vm.XXXXXX") ||
    vm_fail "cannot create a temporary directory" || return 1
  vm_on_exit vm_remove_workdir
}

vm_remove_workdir ()
{
  if [ -n "${VM_KEEP:-}" ]; then
    echo "$VM_NAME: keeping $VM_WORKDIR" >&2
  else
    rm -rf "$VM_WORKDIR"
  fi
}

# vm_pid_alive PID
# True if PID exists and is not a zombie.
vm_pid_alive ()
{
  local state

  [ -e "/proc/$1" ] || return 1
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}

# vm_kill_pid PID
# Stop a process this test started: SIGTERM, up to 10 s, then SIGKILL.
# Reaps it if it is our child.
vm_kill_pid ()
{
  vm_untraced vm__kill_pid "$@"
}

vm__kill_pid ()
{
  local pid=$1 i

  if vm_pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      vm_pid_alive "$pid" || break
      sleep 0.1
    done
    if vm_pid_alive "$pid"; then
      echo "$VM_NAME: pid $pid ignored SIGTERM, sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# --- the kernel --------------------------------------------------------

vm_cache_dir ()
{
  if [ -n "${DRAM_VM_CACHE:-}" ]; then
    VM_CACHE=$DRAM_VM_CACHE
  elif mkdir -p /var/cache/dram-vm 2>/dev/null &&
       [ -w /var/cache/dram-vm ]; then
    VM_CACHE=/var/cache/dram-vm
  else
    VM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/dram-vm
  fi
  mkdir -p "$VM_CACHE" ||
    vm_fail "cannot create the kernel cache $VM_CACHE (set DRAM_VM_CACHE)" ||
    return 1
  # Module paths are matched against it: make it absolute.
  VM_CACHE=$(cd "$VM_CACHE" && pwd)
}

# Set pkg and ver (the caller's locals) to the kernel package that
# linux-image-amd64 depends on, and its candidate version.
vm_resolve_kernel_package ()
{
  command -v apt-cache >/dev/null 2>&1 || return 1
  pkg=${DRAM_VM_KERNEL_PACKAGE:-}
  if [ -z "$pkg" ]; then
    pkg=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
          sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-amd64\).*/\1/p' |
          head -n 1)
    [ -n "$pkg" ] || return 1
  fi
  ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
        sed -n 's/^Version: //p' | head -n 1)
  [ -n "$ver" ]
}

# Set VM_KERNEL_* from an unpacked package tree.
vm_use_kernel_tree ()
{
  local root=$1 d

  for d in "$root/lib/modules" "$root/usr/lib/modules"; do
    if [ -d "$d" ]; then
      VM_KERNEL_MODBASE=${d%/lib/modules}
      VM_KERNEL_VERSION=$(ls "$d" | head -n 1)
      break
    fi
  done
  [ -n "${VM_KERNEL_VERSION:-}" ] ||
    vm_fail "no lib/modules in $root" || return 1
  VM_KERNEL_ROOT=$root
  VM_KERNEL_IMAGE=$root/boot/vmlinuz-$VM_KERNEL_VERSION
  VM_KERNEL_CONFIG=$root/boot/config-$VM_KERNEL_VERSION
  VM_KERNEL_MODDIR=$VM_KERNEL_MODBASE/lib/modules/$VM_KERNEL_VERSION
  [ -r "$VM_KERNEL_IMAGE" ] ||
    vm_fail "no readable kernel image $VM_KERNEL_IMAGE" || return 1
  [ -e "$VM_KERNEL_MODDIR/modules.dep" ] ||
    vm_fail "$VM_KERNEL_MODDIR has no modules.dep" || return 1
  echo "$VM_NAME: kernel $VM_KERNEL_VERSION: $VM_KERNEL_IMAGE" >&2
}

# Download and unpack package pkg version ver into $VM_CACHE/$name.
# Runs under the cache lock.
vm_download_kernel ()
{
  local name=$1 tmp deb modbase kver

  tmp=$(mktemp -d "$VM_CACHE/download.XXXXXX") || return 1
  # apt drops privileges to _apt for downloads; let it write here.
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$tmp"
  fi
  echo "$VM_NAME: downloading $pkg=$ver into $VM_CACHE" >&2
  if ! (cd "$tmp" && apt-get download "$pkg=$ver" >&2); then
    rm -rf "$tmp"
    vm_fail "apt-get download $pkg=$ver failed"
    return 1
  fi
  deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1)
  if [ -z "$deb" ] || ! dpkg-deb -x "$deb" "$tmp/root"; then
    rm -rf "$tmp"
    vm_fail "unpacking $pkg failed"
    return 1
  fi
  # Debian ships the modules without modules.dep.  Newer packages put
  # them in usr/lib/modules.
  modbase=$tmp/root
  [ -d "$modbase/lib/modules" ] || modbase=$tmp/root/usr
  kver=$(ls "$modbase/lib/modules" 2>/dev/null | head -n 1)
  if ! depmod -b "$modbase" "$kver"; then
    rm -rf "$tmp"
    vm_fail "depmod -b $modbase $kver failed"
    return 1
  fi
  echo "$pkg $ver" >"$tmp/root/.dram-vm-complete"
  rm -rf "${VM_CACHE:?}/$name"
  mv "$tmp/root" "$VM_CACHE/$name" && rm -rf "$tmp"
}

# vm_fetch_kernel
# Make Debian's amd64 kernel available, unpacked, with modules.dep:
# download the package linux-image-amd64 depends on (needs apt-get update
# done once) or reuse the cache.  Sets VM_KERNEL_VERSION, VM_KERNEL_ROOT,
# VM_KERNEL_IMAGE, VM_KERNEL_CONFIG, VM_KERNEL_MODBASE (the directory
# holding lib/modules) and VM_KERNEL_MODDIR.  Returns 1 saying why when the
# kernel cannot be had.
vm_fetch_kernel ()
{
  vm_untraced vm__fetch_kernel
}

vm__fetch_kernel ()
{
  local pkg ver name fd newest cmd

  [ -z "${VM_KERNEL_ROOT:-}" ] || return 0
  vm_cache_dir || return 1

  if ! vm_resolve_kernel_package; then
    # No apt or no package lists: fall back to a kernel already cached.
    newest=$(ls -dt "$VM_CACHE/${DRAM_VM_KERNEL_PACKAGE:-linux-image-}"*/.dram-vm-complete \
               2>/dev/null | head -n 1)
    if [ -n "$newest" ]; then
      vm_use_kernel_tree "$(dirname "$newest")"
      return
    fi
    vm_fail "cannot resolve Debian's kernel package" \
            "${DRAM_VM_KERNEL_PACKAGE:-linux-image-amd64}" \
            "(not a Debian system, or run apt-get update)"
    return 1
  fi
  name=${pkg}_${ver//:/%3a}

  if [ ! -e "$VM_CACHE/$name/.dram-vm-complete" ]; then
    for cmd in apt-get dpkg-deb depmod flock; do
      command -v "$cmd" >/dev/null 2>&1 ||
        vm_fail "'$cmd' is needed to fetch the kernel" || return 1
    done
    # Tests may run in parallel: one downloads, the others wait.
    exec {fd}>>"$VM_CACHE/.lock" || return 1
    if ! flock -w 900 "$fd"; then
      exec {fd}>&-
      vm_fail "timed out waiting for the lock on $VM_CACHE"
      return 1
    fi
    if [ ! -e "$VM_CACHE/$name/.dram-vm-complete" ] &&
       ! vm_download_kernel "$name"; then
      exec {fd}>&-
      return 1
    fi
    exec {fd}>&-
  fi
  vm_use_kernel_tree "$VM_CACHE/$name"
}

# vm_require_kernel
# vm_fetch_kernel.  Skips the test where Debian's tools for fetching it
# are missing (not a Debian system); any other failure to get it (a
# download, an unpacking, depmod) fails the test.
vm_require_kernel ()
{
  local cmd

  for cmd in apt-cache apt-get dpkg-deb; do
    command -v "$cmd" >/dev/null 2>&1 ||
      vm_skip "'$cmd' is missing: Debian's kernel cannot be fetched here"
  done
  vm_fetch_kernel ||
    fail "Debian's kernel package could not be obtained (see above)"
}

# vm_kernel_config SYMBOL
# Print y, m or n: how CONFIG_SYMBOL is set in the fetched kernel.
vm_kernel_config ()
{
  local v

  v=$(sed -n "s/^CONFIG_$1=\(.*\)/\1/p" "$VM_KERNEL_CONFIG")
  echo "${v:-n}"
}

# vm_fetch_debs PACKAGE...
# Debian's PACKAGEs (their candidate versions), fetched with apt-get
# download and unpacked with dpkg-deb -x under $VM_CACHE, once: for
# programs the guest runs that the host need not install (and start).
# Sets VM_DEBS_ROOT, the unpacked tree.  Returns 1 saying why when they
# cannot be had.
vm_fetch_debs ()
{
  vm_untraced vm__fetch_debs "$@"
}

vm__fetch_debs ()
{
  local name='' pkg ver tmp deb fd

  vm_cache_dir || return 1
  for pkg in "$@"; do
    ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
          sed -n 's/^Version: //p' | head -n 1)
    [ -n "$ver" ] || vm_fail "no package $pkg (run apt-get update)" || return 1
    name+=${name:++}${pkg}_${ver//:/%3a}
  done
  VM_DEBS_ROOT=$VM_CACHE/debs/$name
  [ ! -e "$VM_DEBS_ROOT/.dram-vm-complete" ] || return 0
  mkdir -p "$VM_CACHE/debs" || return 1
  exec {fd}>>"$VM_CACHE/.lock" || return 1
  if ! flock -w 900 "$fd"; then
    exec {fd}>&-
    vm_fail "timed out waiting for the lock on $VM_CACHE"
    return 1
  fi
  if [ ! -e "$VM_DEBS_ROOT/.dram-vm-complete" ]; then
    tmp=$(mktemp -d "$VM_CACHE/download.XXXXXX") || { exec {fd}>&-; return 1; }
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
      chown _apt "$tmp"
    fi
    echo "$VM_NAME: downloading $* into $VM_CACHE" >&2
    if ! (cd "$tmp" && apt-get download "$@" >&2); then
      rm -rf "$tmp"
      exec {fd}>&-
      vm_fail "apt-get download $* failed"
      return 1
    fi
    for deb in "$tmp"/*.deb; do
      if ! dpkg-deb -x "$deb" "$tmp/root"; then
        rm -rf "$tmp"
        exec {fd}>&-
        vm_fail "unpacking $deb failed"
        return 1
      fi
    done
    echo "$*" > "$tmp/root/.dram-vm-complete"
    rm -rf "$VM_DEBS_ROOT"
    mv "$tmp/root" "$VM_DEBS_ROOT" && rm -rf "$tmp"
  fi
  exec {fd}>&-
}

# --- the initramfs -----------------------------------------------------

# Copy file $1 to $root$2, creating directories; follow symlinks.
vm_install_file ()
{
  mkdir -p "$root$(dirname "$2")" && cp -L --remove-destination "$1" "$root$2"
}

# Copy binary $1 to $root$2 with the shared libraries and dynamic loader
# that ldd lists, each at the same path.
vm_install_binary ()
{
  local src=$1 dest=$2 lib

  [ -f "$src" ] && [ -x "$src" ] ||
    vm_fail "binary $src not found or not executable" || return 1
  vm_install_file "$src" "$dest" || return 1
  if ldd "$src" 2>/dev/null | grep -q 'not found'; then
    vm_fail "$src: $(ldd "$src" | grep 'not found' | tr -s ' \t\n' ' ')"
    return 1
  fi
  # With -L the guest mounts the host's libraries instead.
  [ -z "${vm_hostlib:-}" ] || return 0
  # ldd fails on static binaries and scripts: nothing to add.
  for lib in $(ldd "$src" 2>/dev/null |
               awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
  do
    [ -e "$root$lib" ] || vm_install_file "$lib" "$lib" || return 1
  done
}

# Copy module NAME and what it depends on into $root; add to $modules
# the ones the guest must load.
vm_install_module ()
{
  local name=$1 params=$2 out kind path

  out=$(modprobe -C /dev/null -d "$VM_KERNEL_MODBASE" -S "$VM_KERNEL_VERSION" \
                 --show-depends "$name" 2>&1) ||
    vm_fail "module $name: $out" || return 1
  while read -r kind path _; do
    case "$kind" in
      builtin)
        echo "$VM_NAME: module $path is built into the kernel" >&2
        ;;
      insmod)
        vm_install_file "$path" "/lib/modules/$VM_KERNEL_VERSION/${path#"$VM_KERNEL_MODDIR"/}" ||
          return 1
        ;;
    esac
  done <<<"$out"
  if grep -q '^insmod ' <<<"$out"; then
    modules+="$name${params:+ $params}"$'\n'
  fi
}

# Quote $1 for sh, in single quotes.
vm_shell_quote ()
{
  printf "'%s'" "${1//\'/\'\\\'\'}"
}

# vm_build_initramfs -o OUT -s GUEST_SCRIPT [-b BIN[:DEST]]... [-m MODULE]...
#                    [-f SRC:DEST]... [-e NAME=VALUE]... [-n static|dhcp|none]
#                    [-L]
# Build a gzip'd newc cpio initramfs for the fetched kernel (calls
# vm_fetch_kernel if needed) holding:
#   - busybox (from PATH, or $BUSYBOX) with all its applets as symlinks;
#   - each BIN at DEST (default /usr/local/bin/BASENAME, which comes first
#     in the guest's PATH), with its shared libraries and dynamic loader;
#   - each MODULE ("NAME" or "NAME PARAM=VALUE...") and its dependencies,
#     loaded at boot in the order given; e1000 is added when the network
#     is on; built-in ones are skipped;
#   - each extra file or directory SRC at DEST;
#   - /etc/dram-vm.conf, exporting each NAME=VALUE to the guest script;
#   - /init (vm-init.sh) and GUEST_SCRIPT, run by busybox sh as the last
#     step of /init.  Its exit code is the VM's;
#   - /etc/dram-vm-functions.sh (guest-functions.sh), for GUEST_SCRIPT to
#     source.
# Network (-n): static 10.0.2.15/24 via 10.0.2.2 (default), dhcp, none.
# -L: the binaries' shared libraries stay on the host: the guest mounts
# the host's $VM_HOSTLIB_DIR read-only over virtio-9p at the same path
# (vm_boot adds the device), instead of holding copies in RAM.  For
# binaries whose libraries would not fit (libnbd pulls in 30 MB of ICU
# data through libxml2).
vm_build_initramfs ()
{
  vm_untraced vm__build_initramfs "$@"
}

vm__build_initramfs ()
{
  local out='' script='' net=static modules='' opt bin dest spec name params
  local root busybox applet cmd moddir vm_hostlib=''
  local -a bins=() mods=() files=() envs=()
  local OPTIND=1 OPTARG

  while getopts "o:s:b:m:f:e:n:L" opt; do
    case "$opt" in
      o) out=$OPTARG ;;
      s) script=$OPTARG ;;
      b) bins+=("$OPTARG") ;;
      m) mods+=("$OPTARG") ;;
      f) files+=("$OPTARG") ;;
      e) envs+=("$OPTARG") ;;
      n) net=$OPTARG ;;
      L) vm_hostlib=$VM_HOSTLIB_DIR ;;
      *) vm_fail "vm_build_initramfs: bad option"; return 1 ;;
    esac
  done
  shift $((OPTIND - 1))
  [ $# -eq 0 ] || vm_fail "vm_build_initramfs: unexpected argument '$1'" ||
    return 1
  [ -n "$out" ] || vm_fail "vm_build_initramfs: -o OUT is required" ||
    return 1
  [ -r "$script" ] ||
    vm_fail "vm_build_initramfs: guest script '$script' not readable" ||
    return 1
  case "$net" in
    static|dhcp|none) ;;
    *) vm_fail "vm_build_initramfs: -n: unknown network mode '$net'"; return 1 ;;
  esac
  for spec in "${envs[@]}"; do
    [[ "$spec" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] ||
      vm_fail "vm_build_initramfs: -e: '$spec' is not NAME=VALUE" || return 1
  done
  for cmd in cpio gzip ldd modprobe depmod; do
    command -v "$cmd" >/dev/null 2>&1 ||
      vm_fail "vm_build_initramfs: '$cmd' is not installed" || return 1
  done
  busybox=${BUSYBOX:-$(command -v busybox)} ||
    vm_fail "vm_build_initramfs: busybox is not installed" || return 1
  vm_fetch_kernel || return 1
  vm_workdir || return 1

  root=$(mktemp -d "$VM_WORKDIR/initramfs.XXXXXX") || return 1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,dev,proc,sys,tmp,run,root,var} &&
    ln -s ../run "$root/var/run" || return 1
  # The kernel opens /dev/console before running /init.
  if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$root/dev/console" c 5 1 || return 1
  fi

  ( vm_hostlib='' && vm_install_binary "$busybox" /bin/busybox ) || return 1
  if [ -n "$vm_hostlib" ]; then
    # The loader and library paths that binaries name lead into the
    # mount; the kernel modules under /lib stay in the initramfs.
    mkdir -p "$root$vm_hostlib" "$root/lib" "$root/lib64" &&
      ln -s "$vm_hostlib" "$root/lib/$(basename "$vm_hostlib")" &&
      ln -s "$vm_hostlib/ld-linux-x86-64.so.2" \
        "$root/lib64/ld-linux-x86-64.so.2" || return 1
    mods=(virtio_pci 9pnet_virtio 9p "${mods[@]}")
  fi
  for applet in $("$busybox" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet" || return 1
  done

  for spec in "${bins[@]}"; do
    bin=${spec%%:*}
    dest=${spec#"$bin"}
    dest=${dest#:}
    vm_install_binary "$bin" "${dest:-/usr/local/bin/$(basename "$bin")}" ||
      return 1
  done

  # The NIC's driver comes first, unless the caller lists it (with
  # parameters, say).
  if [ "$net" != none ] && [ "$(vm_kernel_config E1000)" = m ] &&
     ! printf '%s\n' "${mods[@]}" | grep -qE '^e1000( |$)'; then
    mods=(e1000 "${mods[@]}")
  fi
  for spec in "${mods[@]}"; do
    read -r name params <<<"$spec"
    vm_install_module "$name" "$params" || return 1
  done
  moddir=$root/lib/modules/$VM_KERNEL_VERSION
  mkdir -p "$moddir" &&
    cp "$VM_KERNEL_MODDIR"/modules.{order,builtin,builtin.modinfo} "$moddir" &&
    depmod -b "$root" "$VM_KERNEL_VERSION" ||
    vm_fail "depmod in the initramfs failed" || return 1

  for spec in "${files[@]}"; do
    [[ "$spec" == *:/* ]] ||
      vm_fail "vm_build_initramfs: -f: '$spec' is not SRC:/DEST" || return 1
    mkdir -p "$root$(dirname "${spec##*:}")" &&
      cp -a "${spec%:*}" "$root${spec##*:}" ||
      vm_fail "vm_build_initramfs: cannot copy ${spec%:*}" || return 1
  done

  {
    echo "# generated by vm_build_initramfs"
    echo "VM_MODULES=$(vm_shell_quote "$modules")"
    echo "VM_NET=$net"
    echo "VM_HOSTLIB=$(vm_shell_quote "$vm_hostlib")"
    for spec in "${envs[@]}"; do
      echo "export ${spec%%=*}=$(vm_shell_quote "${spec#*=}")"
    done
  } >"$root/etc/dram-vm.conf" || return 1
  install -m 755 "$VM_DIR/vm-init.sh" "$root/init" &&
    install -m 755 "$VM_DIR/vm-udhcpc.sh" "$root/etc/dram-vm-udhcpc.sh" &&
    install -m 644 "$VM_DIR/guest-functions.sh" "$root/etc/dram-vm-functions.sh" &&
    install -m 755 "$script" "$root/dram-vm-guest.sh" || return 1

  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
     cpio -o -H newc --owner=0:0 --quiet) | gzip -6 >"$out" ||
    vm_fail "writing $out failed" || return 1
  # vm_boot reads this to share the libraries.
  if [ -n "$vm_hostlib" ]; then
    echo "$vm_hostlib" >"$out.hostlib" || return 1
  else
    rm -f "$out.hostlib"
  fi
  rm -rf "$root"
  modules=${modules//$'\n'/ }
  echo "$VM_NAME: initramfs $out ($(du -k "$out" | cut -f1) KiB)," \
       "modules: ${modules% }" >&2
}

# --- booting -----------------------------------------------------------

# vm_boot INITRD
# Boot the fetched kernel with INITRD under QEMU (TCG), with an e1000 NIC
# on QEMU user networking (the host's 127.0.0.1 is 10.0.2.2 in the guest).
# Saves the console to $VM_LOG and prints its path.  Returns the guest
# script's exit code, or 99 with the log's tail when the guest never
# reported one (panic, hang, timeout).
vm_boot ()
{
  vm_untraced vm__boot "$@"
}

vm__boot ()
{
  local initrd=$1 qemu=${QEMU:-qemu-system-x86_64} nonce rc code started pid
  local -a share=()

  [ -r "$initrd" ] || vm_fail "vm_boot: initrd '$initrd' not readable" ||
    return 99
  command -v "$qemu" >/dev/null 2>&1 ||
    vm_fail "vm_boot: $qemu is not installed" || return 99
  vm_fetch_kernel || return 99

  VM_LOG=${VM_LOG:-${VM_LOG_DIR:-.}/$VM_NAME.console.log}
  : >"$VM_LOG" || vm_fail "vm_boot: cannot write $VM_LOG" || return 99
  VM_LOG=$(realpath "$VM_LOG")
  nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
  echo "$VM_NAME: booting (${MEM:-128} MiB, ${CPUS:-1} CPU(s)," \
       "timeout ${VM_TIMEOUT:-300} s), console log: $VM_LOG" >&2

  if [ -s "$initrd.hostlib" ]; then
    share=(-virtfs "local,path=$(cat "$initrd.hostlib"),mount_tag=hostlib,security_model=none,readonly=on")
  fi

  started=$SECONDS
  rc=0
  # In the background so that a signal to the test interrupts "wait" and
  # the cleanup stops QEMU (timeout passes SIGTERM on to it).
  # shellcheck disable=SC2086  # VM_QEMU_OPTS is a list of words
  timeout -k 10 "${VM_TIMEOUT:-300}" \
    "$qemu" -accel "${VM_ACCEL:-tcg}" -m "${MEM:-128}" -smp "${CPUS:-1}" \
      -kernel "$VM_KERNEL_IMAGE" -initrd "$initrd" \
      -append "console=ttyS0 panic=-1 quiet dram_vm_nonce=$nonce ${VM_APPEND:-}" \
      -nographic -no-reboot \
      -netdev user,id=n0 -device "${VM_NIC:-e1000},netdev=n0" \
      "${share[@]}" ${VM_QEMU_OPTS:-} \
      </dev/null >"$VM_LOG" 2>&1 &
  pid=$!
  vm_on_exit "vm_kill_pid $pid"
  wait "$pid" || rc=$?
  VM_BOOT_SECONDS=$((SECONDS - started))

  code=$(tr -d '\r' <"$VM_LOG" |
         grep -a -o "DRAM-VM-EXIT=[0-9]* nonce=$nonce" | tail -n 1 |
         sed 's/^DRAM-VM-EXIT=\([0-9]*\) .*/\1/')
  if [ -z "$code" ]; then
    echo "$VM_NAME: error: the guest did not report an exit code" >&2
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
      echo "$VM_NAME: the VM was killed after ${VM_TIMEOUT:-300} s" >&2
    else
      echo "$VM_NAME: QEMU exited with status $rc" >&2
    fi
    echo "--- last 40 lines of $VM_LOG ---" >&2
    tail -n 40 "$VM_LOG" | tr -d '\r' >&2
    echo "--- end of $VM_LOG ---" >&2
    return 99
  fi
  if [ "$rc" != 0 ]; then
    echo "$VM_NAME: warning: QEMU exited with status $rc after the guest" \
         "finished (poweroff failed?)" >&2
  fi
  echo "$VM_NAME: guest exit code $code after $VM_BOOT_SECONDS s," \
       "console log: $VM_LOG" >&2
  return "$code"
}

# --- servers on the host -----------------------------------------------

# vm_free_port
# Print a TCP port that no socket on this host uses now.
vm_free_port ()
{
  free_port
}

# vm_start_nbdkit PLUGIN [ARGS...]
# Start "nbdkit -f --exit-with-parent -P PIDFILE -i ADDR -p PORT
# PLUGIN ARGS..." ($NBDKIT, default nbdkit) on a free loopback port
# (ADDR: $VM_NBD_LISTEN, 127.0.0.1 by default; ::1 is fec0::2 to the
# guest), wait
# until it listens, and register its kill.  Sets VM_NBD_PORT (the guest
# connects to 10.0.2.2:$VM_NBD_PORT), VM_NBDKIT_PID, VM_NBDKIT_PIDFILE and
# VM_NBDKIT_LOG, each instance having its own.  Retries with another port
# if the port was taken meanwhile.
vm_start_nbdkit ()
{
  vm_untraced vm__start_nbdkit "$@"
}

vm__start_nbdkit ()
{
  local nbdkit=${NBDKIT:-nbdkit} pidfile port pid attempt i

  command -v "$nbdkit" >/dev/null 2>&1 ||
    vm_fail "$nbdkit is not installed" || return 1
  vm_workdir || return 1
  VM_NBDKIT_COUNT=$((${VM_NBDKIT_COUNT:-0} + 1))
  pidfile=$VM_WORKDIR/nbdkit-$VM_NBDKIT_COUNT.pid
  VM_NBDKIT_PIDFILE=$pidfile
  VM_NBDKIT_LOG=$VM_WORKDIR/nbdkit-$VM_NBDKIT_COUNT.log
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(vm_free_port) || return 1
    rm -f "$pidfile"
    "$nbdkit" -f --exit-with-parent -P "$pidfile" \
      -i "${VM_NBD_LISTEN:-127.0.0.1}" -p "$port" \
      "$@" >>"$VM_NBDKIT_LOG" 2>&1 &
    pid=$!
    vm_on_exit "vm_kill_pid $pid"
    # The pidfile appears once nbdkit listens.
    for ((i = 0; i < 300; i++)); do
      [ -s "$pidfile" ] && break
      vm_pid_alive "$pid" || break
      sleep 0.1
    done
    if [ -s "$pidfile" ]; then
      VM_NBDKIT_PID=$(cat "$pidfile")
      VM_NBD_PORT=$port
      [ "$VM_NBDKIT_PID" = "$pid" ] ||
        vm_fail "nbdkit pidfile says $VM_NBDKIT_PID, started $pid" || return 1
      echo "$VM_NAME: nbdkit pid $pid on ${VM_NBD_LISTEN:-127.0.0.1} port $port" >&2
      return 0
    fi
    if vm_pid_alive "$pid"; then
      vm_kill_pid "$pid"
      vm_fail "nbdkit did not start listening within 30 s" || break
    fi
    wait "$pid" 2>/dev/null || true
    echo "$VM_NAME: nbdkit failed on port $port (attempt $attempt)" >&2
  done
  cat "$VM_NBDKIT_LOG" >&2
  vm_fail "could not start nbdkit $*"
}

# --- test programs -----------------------------------------------------

# vm_results FILE: the guest's RESULT lines (and memverify's verdicts)
# from the console, into FILE and shown.
vm_results ()
{
  grep -a '^RESULT\|^memverify: \|all phases passed' "$VM_LOG" | tr -d '\r' |
    tee "$1"
}

# vm_ran PHASE: whether the guest was asked to run PHASE (VM_PHASES:
# "all", the default, or a list of names).
vm_ran ()
{
  case " ${VM_PHASES:-all} " in
    *" all "*|*" $1 "*) return 0 ;;
    *) return 1 ;;
  esac
}

# vm_psk_key FILE: a TLS-PSK key file (user "dram", a random key) as
# nbdkit --tls-psk and dram-attach --tls-psk read it.
vm_psk_key ()
{
  printf 'dram:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    > "$1"
}

# vm_find_memverify, vm_find_pageout
# Set MEMVERIFY (PAGEOUT) to the memverify (pageout) test helper: the
# variable's own value, the build tree's ($abs_top_builddir/tests/NAME,
# ./NAME as automake runs tests in tests/, or next to this directory),
# or else one compiled now from NAME.c with $CC (static if possible).
vm_find_memverify ()
{
  vm_untraced vm__find_helper memverify MEMVERIFY
}

vm_find_pageout ()
{
  vm_untraced vm__find_helper pageout PAGEOUT
}

vm__find_helper ()
{
  local name=$1 var=$2 cand src out

  for cand in "${!var:-}" \
              "${abs_top_builddir:+$abs_top_builddir/tests/$name}" \
              "$PWD/$name" "$VM_DIR/../$name"; do
    if [ -n "$cand" ] && [ -f "$cand" ] && [ -x "$cand" ]; then
      printf -v "$var" '%s' "$cand"
      return 0
    fi
  done
  src=${abs_top_srcdir:+$abs_top_srcdir/tests/$name.c}
  [ -n "$src" ] && [ -r "$src" ] || src=$VM_DIR/../$name.c
  [ -r "$src" ] || vm_fail "$name.c not found" || return 1
  vm_workdir || return 1
  out=$VM_WORKDIR/$name
  echo "$VM_NAME: no $name built, compiling $src" >&2
  # Outside the build, an empty config.h stands in for its.
  [ -e "$VM_WORKDIR/config.h" ] || : > "$VM_WORKDIR/config.h"
  "${CC:-cc}" -O2 -static -I"$VM_WORKDIR" -o "$out" "$src" 2>/dev/null ||
    "${CC:-cc}" -O2 -I"$VM_WORKDIR" -o "$out" "$src" ||
    vm_fail "cannot compile $src" || return 1
  printf -v "$var" '%s' "$out"
}
