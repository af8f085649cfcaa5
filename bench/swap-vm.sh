#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The swap benchmark (`make bench`; not a test).  Debian's kernel in
# QEMU with 128 MiB of RAM runs the same workload (memverify, 2.5 times
# its RAM) on swap from the same donor (nbdkit + dram.so on the host),
# attached by dram-attach (1 and 4 connections) and by Debian's
# nbd-client (1 and 4); and, for the NFS route, on a swapfile that
# dram-attach --mode=nfs makes on a tmpfs that dram-donate-nfs exports
# with nfs-ganesha on the host.  One boot per measurement; the order of
# the clients rotates from run to run.  Prints the medians and ratios.
#
# Environment: BENCH_RUNS (3), BENCH_WORK_MIB (200), BENCH_WORK_MODE
# (both: sequential then random), BENCH_OUT (bench/results/swap-vm.txt).
set -e

here=$(cd "$(dirname "$0")" && pwd)
top=${abs_top_builddir:-$(cd "$here/.." && pwd)}
export abs_top_builddir=$top
# shellcheck source=../tests/vm/vm-functions.sh
. "${abs_top_srcdir:-$here/..}/tests/vm/vm-functions.sh"

runs=${BENCH_RUNS:-3}
work_mib=${BENCH_WORK_MIB:-200}
work_mode=${BENCH_WORK_MODE:-both}
out=${BENCH_OUT:-$top/bench/results/swap-vm.txt}
plugin=${DRAM_PLUGIN:-$top/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}
attach=$top/attach/dram-attach
python=/usr/bin/python3

vm_requires qemu-system-x86_64 nbdkit busybox cpio gzip depmod ganesha.nfsd \
  "$python"
[ -x /usr/sbin/nbd-client ] || vm_fail "nbd-client is not installed" || exit 1
[ -x "$attach" ] || vm_fail "build first ($attach missing)" || exit 1
vm_fetch_kernel || exit 1
vm_workdir
vm_find_memverify

# name, client, connections
configs=("dram-attach 1" "dram-attach 4" "nbd-client 1" "nbd-client 4"
         "dram-attach-nfs 1")
donate=${abs_top_srcdir:-$here/..}/scripts/dram-donate-nfs
nfs_run=$VM_WORKDIR/run
nfs_dir=$VM_WORKDIR/send
vm_on_exit "DRAM_RUNDIR='$nfs_run' '$donate' --undo --dir '$nfs_dir' >/dev/null 2>&1"

# Starts the donor for CLIENT; sets port and the guest's extra options.
donor_up ()
{
  if [ "$1" = dram-attach-nfs ]; then
    port=$(vm_free_port)
    DRAM_RUNDIR=$nfs_run "$donate" --size 288M --dir "$nfs_dir" \
      --client 127.0.0.1 --server ganesha --listen 127.0.0.1 \
      --port "$port" >&2
    guest=(-m nfsv4 -f "$VM_KERNEL_CONFIG:/boot/config-$VM_KERNEL_VERSION"
           -e EXPORT="$nfs_dir")
  else
    vm_start_nbdkit "$plugin" size=512M
    port=$VM_NBD_PORT
    guest=(-m nbd)
  fi
}
donor_down ()
{
  if [ "$1" = dram-attach-nfs ]; then
    DRAM_RUNDIR=$nfs_run "$donate" --undo --dir "$nfs_dir" >&2
  else
    vm_kill_pid "$VM_NBDKIT_PID"
  fi
}

results=$VM_WORKDIR/results
: > "$results"
echo "swap-vm: $runs runs of memverify $work_mib MiB ($work_mode)," \
     "guest 128 MiB, kernel $VM_KERNEL_VERSION, host $(nproc) CPUs" >&2
for ((r = 0; r < runs; r++)); do
  for ((k = 0; k < ${#configs[@]}; k++)); do
    read -r client conns <<<"${configs[(k + r) % ${#configs[@]}]}"
    donor_up "$client"
    vm_build_initramfs -L -o "$VM_WORKDIR/initrd.gz" \
      -s "$here/guest-swap.sh" \
      -b "$attach" -b /usr/sbin/nbd-client -b "$MEMVERIFY" "${guest[@]}" \
      -e CLIENT="$client" -e CONNS="$conns" -e PORT="$port" \
      -e WORK_MIB="$work_mib" -e WORK_MODE="$work_mode" 2>/dev/null
    VM_LOG=$VM_WORKDIR/console.log MEM=128 CPUS=2 VM_TIMEOUT=1200 \
      vm_boot "$VM_WORKDIR/initrd.gz" || {
        echo "swap-vm: $client x$conns failed; see below" >&2
        tail -30 "$VM_WORKDIR/console.log" >&2
        exit 1
      }
    line=$(tr -d '\r' < "$VM_WORKDIR/console.log" | grep -a '^BENCH ')
    echo "  run $((r + 1)): $line" >&2
    echo "$line" >> "$results"
    donor_down "$client"
  done
done

mkdir -p "$(dirname "$out")"
"$python" - "$results" "$work_mib" "$work_mode" <<'PY' | tee "$out"
import statistics, sys
from collections import defaultdict
t = defaultdict(list)
for line in open(sys.argv[1]):
    f = dict(kv.split("=") for kv in line.split()[1:])
    t[(f["client"], int(f["conns"]))].append(float(f["seconds"]))
base = statistics.median(t[("nbd-client", 1)])
print()
print(f"memverify {sys.argv[2]} MiB ({sys.argv[3]}) in a 128 MiB guest; "
      f"seconds, lower is better")
print()
print("| client | connections | runs | median | min | max "
      "| vs nbd-client x1 | vs nbd-client, same connections |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for (client, conns) in sorted(t):
    v = t[(client, conns)]
    m = statistics.median(v)
    same = statistics.median(t[("nbd-client", conns)]) if ("nbd-client", conns) in t else m
    print(f"| {client} | {conns} | {len(v)} | {m:.1f} | {min(v):.1f} "
          f"| {max(v):.1f} | {m / base:.2f} | {m / same:.2f} |")
PY
echo "swap-vm: table saved in $out" >&2
