#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The module-free swap benchmark (`make bench`; not a test), on this
# machine's own kernel: a memory cgroup's workload (memverify, 3 times
# the cgroup's limit, 3 processes, sequential then random) timed on
#   dram      dram-attach --mode=fuse, donor nbdkit + dram.so
#   nbdfuse   the off-the-shelf route: nbdkit memory + nbdfuse +
#             losetup --direct-io
#   memfuse   the floor of any FUSE + loop route: bench/memfuse serves
#             the file from its own locked memory (no donor, no network),
#             under the same loop device set-up as nbdfuse's
#   zram      local compressed RAM
#   disk      a swapfile on the local disk
# one swap at a time, several runs each, the order rotating from run to
# run.  Prints medians and ratios, and draws them (gnuplot) as a PNG.
#
# Environment: BENCH_RUNS (3), BENCH_LIMIT_MIB (128), BENCH_OUT
# (bench/results/swap-host.txt; the chart beside it, .png), BENCH_KINDS
# (all five; a subset, say "dram memfuse", for a quicker comparison:
# the table then has the ratios to the peers that ran).
set -e

here=$(cd "$(dirname "$0")" && pwd)
top=${abs_top_builddir:-$(cd "$here/.." && pwd)}
export abs_top_builddir=$top
# shellcheck source=../tests/functions.sh
. "${abs_top_srcdir:-$here/..}/tests/functions.sh"

runs=${BENCH_RUNS:-3}
limit=${BENCH_LIMIT_MIB:-128}
work=$((limit * 3))
swap_mib=$((work * 2))
out=${BENCH_OUT:-$top/bench/results/swap-host.txt}
attach=$top/attach/dram-attach
memverify=$top/tests/memverify
memfuse=$top/bench/memfuse
python=/usr/bin/python3

requires_root
requires nbdkit nbdfuse losetup zramctl mkswap swapon swapoff gnuplot "$python"
[ -x "$attach" ] && [ -x "$memverify" ] && [ -x "$memfuse" ] || {
  echo "swap-host: build first (make, make -C tests memverify," \
       "make -C bench memfuse)" >&2; exit 1; }
if grep -q . <(tail -n +2 /proc/swaps); then
  echo "swap-host: swap is already on here; turn it off first:" >&2
  cat /proc/swaps >&2
  exit 1
fi

make_tmpdir
export DRAM_RUNDIR=$tmpdir/run
make_memcg "dram-bench-$$" "$limit"
disk=$(mktemp -d /var/tmp/dram-bench.XXXXXX)
on_exit "rm -rf '$disk'"

# Each kind: up (prints the swap device), down.
dram_up ()
{
  # Locked: this machine's only swap is the one it serves (see
  # tests/test-fuse-reconnect.sh).
  start_nbdkit dram -- size=${swap_mib}M mlock=true
  "$attach" --mode=fuse --unix "$tmpdir/dram.sock" >&2
  awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps
}
dram_down ()
{
  "$attach" --detach all >&2
  stop_pidfile "$tmpdir/dram.pid"
}

# Swap on a loop device over FILE, as losetup sets it up by hand.
loop_swap_up ()
{
  local dev
  dev=$(losetup --direct-io=on --sector-size 4096 -f --show "$1")
  mkswap "$dev" >/dev/null
  swapon "$dev"
  echo "$dev"
}
# And down: the loop device DEV, then the FUSE mount DIR and its server.
loop_swap_down ()
{
  swapoff "$1"
  losetup -d "$1"
  fusermount3 -u "$2" 2>/dev/null || umount "$2"
  stop_pidfile "$3"
}

nbdfuse_up ()
{
  rm -f "$tmpdir/mem.sock" "$tmpdir/mem.pid"
  nbdkit -U "$tmpdir/mem.sock" -P "$tmpdir/mem.pid" memory ${swap_mib}M
  wait_for_file "$tmpdir/mem.sock"
  mkdir -p "$tmpdir/nbdfuse"
  # Not holding our stdout: this runs inside $(...).
  nbdfuse "$tmpdir/nbdfuse" --unix "$tmpdir/mem.sock" \
    </dev/null >/dev/null 2>"$tmpdir/nbdfuse.log" &
  echo $! > "$tmpdir/nbdfuse.pid"
  wait_for_file "$tmpdir/nbdfuse/nbd"
  loop_swap_up "$tmpdir/nbdfuse/nbd"
}
nbdfuse_down ()
{
  loop_swap_down "$1" "$tmpdir/nbdfuse" "$tmpdir/nbdfuse.pid"
  stop_pidfile "$tmpdir/mem.pid"
}

memfuse_up ()
{
  mkdir -p "$tmpdir/memfuse"
  "$memfuse" "$tmpdir/memfuse" "$swap_mib" \
    </dev/null >/dev/null 2>"$tmpdir/memfuse.log" &
  echo $! > "$tmpdir/memfuse.pid"
  wait_for_file "$tmpdir/memfuse/swap"
  loop_swap_up "$tmpdir/memfuse/swap"
}
memfuse_down ()
{
  loop_swap_down "$1" "$tmpdir/memfuse" "$tmpdir/memfuse.pid"
}

zram_up ()
{
  local dev
  dev=$(zramctl --find --size ${swap_mib}M)
  mkswap "$dev" >/dev/null
  swapon "$dev"
  echo "$dev"
}
zram_down ()
{
  swapoff "$1"
  zramctl --reset "$1"
}

disk_up ()
{
  fallocate -l ${swap_mib}M "$disk/swapfile"
  chmod 600 "$disk/swapfile"
  mkswap "$disk/swapfile" >/dev/null
  swapon "$disk/swapfile"
  echo "$disk/swapfile"
}
disk_down ()
{
  swapoff "$1"
  rm -f "$disk/swapfile"
}

# Whatever is still on when the script ends.
current=
on_exit '[ -z "$current" ] || ${current%% *}_down ${current#* }'

all_kinds="dram nbdfuse memfuse zram disk"
read -r -a kinds <<< "${BENCH_KINDS:-$all_kinds}"
for kind in "${kinds[@]}"; do
  case " $all_kinds " in
    *" $kind "*) ;;
    *) echo "swap-host: BENCH_KINDS: no kind '$kind' (kinds: $all_kinds)" >&2
       exit 1 ;;
  esac
done
results=$tmpdir/results
: > "$results"
echo "swap-host: $runs runs of memverify ${work} MiB (3 processes, both" \
     "orders) in a ${limit} MiB memory cgroup, $(nproc) CPUs, $(uname -r)" >&2
for ((r = 0; r < runs; r++)); do
  for ((k = 0; k < ${#kinds[@]}; k++)); do
    kind=${kinds[(k + r) % ${#kinds[@]}]}
    dev=$("${kind}_up")
    current="$kind $dev"
    sync
    echo 3 > /proc/sys/vm/drop_caches
    t0=$(date +%s.%N)
    out0=$(vmstat_field pswpout)
    run_in_memcg "$memverify" --procs 3 --mode both "$work" >&2
    t1=$(date +%s.%N)
    echo "$kind $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
      "$(($(vmstat_field pswpout) - out0))" >> "$results"
    echo "  run $((r + 1)): $(tail -1 "$results")" >&2
    "${kind}_down" "$dev"
    current=
  done
done

mkdir -p "$(dirname "$out")"
"$python" - "$results" "$work" "$limit" "${out%.txt}.dat" <<'PY' | tee "$out"
import statistics, sys
from collections import defaultdict
t = defaultdict(list)
for line in open(sys.argv[1]):
    kind, secs, _ = line.split()
    t[kind].append(float(secs))
med = {k: statistics.median(v) for k, v in t.items()}
print()
print(f"memverify {sys.argv[2]} MiB (3 processes, sequential then random) in a "
      f"{sys.argv[3]} MiB memory cgroup; seconds, lower is better")
print()
peers = [(k, h) for k, h in (("nbdfuse", "vs nbdfuse route"),
                             ("memfuse", "vs FUSE + loop floor"),
                             ("zram", "vs zram")) if k in med]
print("| swap | runs | median | min | max |"
      + "".join(f" {h} |" for _, h in peers))
print("|---|---:|---:|---:|---:|" + "---:|" * len(peers))
names = {"dram": "dram --mode=fuse", "nbdfuse": "nbdkit memory + nbdfuse + loop",
         "memfuse": "FUSE + loop floor (memfuse, no donor)",
         "zram": "zram", "disk": "swapfile on local disk"}
short = {"dram": "dram fuse", "nbdfuse": "nbdfuse route",
         "memfuse": "FUSE+loop floor", "zram": "zram",
         "disk": "disk swapfile"}
with open(sys.argv[4], "w") as dat:
    for k in ("dram", "nbdfuse", "memfuse", "zram", "disk"):
        if k not in med:
            continue
        v = t[k]
        print(f"| {names[k]} | {len(v)} | {med[k]:.1f} | {min(v):.1f} "
              f"| {max(v):.1f} |"
              + "".join(f" {med[k] / med[p]:.2f} |" for p, _ in peers))
        dat.write(f'"{short[k]}" {med[k]:.2f}\n')
PY

gnuplot <<EOF
set terminal png size 800,480
set output "${out%.txt}.png"
set title "memverify ${work} MiB in a ${limit} MiB memory cgroup (median of $runs)"
set ylabel "seconds (lower is better)"
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set xtics nomirror
plot "${out%.txt}.dat" using 0:2:xtic(1) with boxes notitle, \
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,1 notitle
EOF
echo "swap-host: table in $out, chart in ${out%.txt}.png" >&2
