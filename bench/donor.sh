#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The donor benchmark (`make bench`; not a test).  fio's nbd engine
# against dram.so (each backing) and, in the same run, nbdkit's memory
# plugin (allocator=sparse and malloc) and null plugin (the framework's
# ceiling).  Prints one table of medians with ratios, and the donor's
# RSS after writing and after trimming the whole device.  Then a donor
# lending to 4 recipients: 4 clients on 4 regions of a quarter of the
# size each, beside 4 connections to 1 region of the whole size (4K
# random, QD32, in the same runs), and that donor's RSS once the 4
# regions are trimmed whole and closed, so freed.
#
# Besides IOPS and bandwidth, which a shared 2-core machine makes noisy
# at high queue depths, it reports the donor's CPU time per I/O (user
# and system, from /proc/PID/stat): the plugin's own cost, steadier.
#
# Environment: BENCH_SIZE (1G), BENCH_RUNTIME seconds per run (5),
# BENCH_REPEAT runs per cell (3), BENCH_JOBS (a regex over job names
# such as "randwrite 4k 32 4"; default all), BENCH_PIN=1 (donors on
# the last CPU, fio on the others, so that they do not compete for one
# core), BENCH_OUT (bench/results/donor.txt).
set -e

here=$(cd "$(dirname "$0")" && pwd)
top=${abs_top_builddir:-$(cd "$here/.." && pwd)}
plugin=${DRAM_PLUGIN:-$top/nbdkit-plugin/.libs/nbdkit-dram-plugin.so}
size=${BENCH_SIZE:-1G}
runtime=${BENCH_RUNTIME:-5}
repeat=${BENCH_REPEAT:-3}
out=${BENCH_OUT:-$top/bench/results/donor.txt}
python=/usr/bin/python3

for c in nbdkit fio "$python"; do
  command -v "$c" >/dev/null || { echo "donor.sh: $c is not installed" >&2; exit 1; }
done
fio --enghelp=nbd >/dev/null 2>&1 ||
  { echo "donor.sh: fio lacks the nbd engine" >&2; exit 1; }
[ -e "$plugin" ] || { echo "donor.sh: build first ($plugin missing)" >&2; exit 1; }

work=$(mktemp -d /tmp/dram-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/dram-bench.XXXXXX)
pids=()
cleanup ()
{
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done
  sleep 0.5
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# name and nbdkit arguments of each target
targets=(dram-malloc dram-memfd dram-file memory-sparse memory-malloc null)
size_bytes=$(numfmt --from=iec "${size^^}")
quarter=$((size_bytes / 4))
declare -A args=(
  [dram-regions]="$plugin size=$size region=$quarter lease=1h"
  [dram-malloc]="$plugin size=$size backing=malloc"
  [dram-memfd]="$plugin size=$size backing=memfd"
  [dram-file]="$plugin size=$size dir=$shm"
  [memory-sparse]="memory $size allocator=sparse"
  [memory-malloc]="memory $size allocator=malloc"
  [null]="null $size"
)
declare -A pidof

# With BENCH_PIN, the donor and the client get CPUs of their own.
donor_cpus=()
client_cpus=()
if [ "${BENCH_PIN:-}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  donor_cpus=(taskset -c "$(($(nproc) - 1))")
  client_cpus=(taskset -c "0-$(($(nproc) - 2))")
fi

start ()
{
  local t=$1
  # shellcheck disable=SC2086
  "${donor_cpus[@]}" nbdkit -U "$work/$t.sock" -P "$work/$t.pid" ${args[$t]}
  for ((i = 0; i < 100; i++)); do [ -S "$work/$t.sock" ] && break; sleep 0.1; done
  pidof[$t]=$(cat "$work/$t.pid")
  pids+=("${pidof[$t]}")
}

uri () { echo "nbd+unix:///${2:-}?socket=$work/$1.sock"; }

# rss_mib TARGET: the donor's resident memory, anonymous and shared.
rss_mib ()
{
  awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/${pidof[$1]}/status"
}

# The donor's CPU time so far, in clock ticks (user + system).
cpu_ticks ()
{
  awk '{ print $14 + $15 }' "/proc/${pidof[$1]}/stat"
}

# fio_run TARGET NAME RW BS QD CONNS: prints IOPS (4k) or MiB/s (1M),
# and the donor's CPU microseconds per I/O.
fio_run ()
{
  local t=$1 name=$2 rw=$3 bs=$4 qd=$5 conns=$6 c0 c1
  c0=$(cpu_ticks "$t")
  "${client_cpus[@]}" fio --name="$name" --ioengine=nbd --uri="$(uri "$t")" --rw="$rw" \
      --bs="$bs" --iodepth="$qd" --numjobs="$conns" --size="$size" \
      --time_based --runtime="$runtime" --group_reporting \
      --output-format=json --output="$work/fio.json" >/dev/null
  c1=$(cpu_ticks "$t")
  "$python" - "$work/fio.json" "$rw" "$bs" "$((c1 - c0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
d = job["read" if "read" in sys.argv[2] else "write"]
rate = d["iops"] if sys.argv[3] == "4k" else d["bw_bytes"] / 2**20
us = int(sys.argv[4]) * 1e6 / int(sys.argv[5]) / max(d["total_ios"], 1)
print(rate, us)
PY
}

# fio_regions RW: 4 clients, each on a region of its own of the
# regions donor (QD32, 4K); prints IOPS and the donor's CPU us per I/O.
fio_regions ()
{
  local rw=$1 c0 c1 k
  {
    printf '[global]\nioengine=nbd\nrw=%s\nbs=4k\niodepth=32\nsize=%s\n' \
      "$rw" "$quarter"
    printf 'time_based\nruntime=%s\ngroup_reporting\n' "$runtime"
    for k in 0 1 2 3; do
      printf '[r%s]\nuri=%s\n' "$k" "$(uri dram-regions "recipient$k")"
    done
  } > "$work/regions.fio"
  c0=$(cpu_ticks dram-regions)
  "${client_cpus[@]}" fio --output-format=json --output="$work/fio.json" \
    "$work/regions.fio" >/dev/null
  c1=$(cpu_ticks dram-regions)
  "$python" - "$work/fio.json" "$rw" 4k "$((c1 - c0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
d = job["read" if "read" in sys.argv[2] else "write"]
us = int(sys.argv[4]) * 1e6 / int(sys.argv[5]) / max(d["total_ios"], 1)
print(d["iops"], us)
PY
}

echo "donor.sh: size $size, ${runtime}s per run, $repeat runs per cell," \
     "$(nproc) CPUs, $(uname -r)${donor_cpus:+, pinned}"
for t in "${targets[@]}" dram-regions; do start "$t"; done

# Fill every target once, so that reads read data, and take the RSS.
declare -A rss_full rss_trim
for t in "${targets[@]}"; do
  fio --name=fill --ioengine=nbd --uri="$(uri "$t")" --rw=write --bs=1M \
      --iodepth=8 --size="$size" --output-format=terse >/dev/null
  rss_full[$t]=$(rss_mib "$t")
done
# The regions donor: its baseline (a region opened and closed empty,
# which frees it), then its 4 regions filled; their lease (1h) keeps
# them, with their data, between the runs.
fio --name=probe --ioengine=nbd --uri="$(uri dram-regions probe)" --rw=read \
    --bs=4k --size=4k --output-format=terse >/dev/null
rss_regions_base=$(rss_mib dram-regions)
for k in 0 1 2 3; do
  fio --name=fill --ioengine=nbd --uri="$(uri dram-regions "recipient$k")" \
      --rw=write --bs=1M --iodepth=8 --size="$quarter" \
      --output-format=terse >/dev/null
done
rss_regions_full=$(rss_mib dram-regions)

jobs=()
for j in "randread 4k 1 1" "randread 4k 32 1" "randread 4k 1 4" \
         "randread 4k 32 4" "randwrite 4k 1 1" "randwrite 4k 32 1" \
         "randwrite 4k 1 4" "randwrite 4k 32 4" "read 1M 8 1" "write 1M 8 1"; do
  [[ $j =~ ${BENCH_JOBS:-.} ]] && jobs+=("$j")
done
: > "$work/results"
for ((r = 1; r <= repeat; r++)); do
  for j in "${jobs[@]}"; do
    # shellcheck disable=SC2086
    set -- $j
    # Rotate the order of targets each run, so drift does not favour one.
    for ((k = 0; k < ${#targets[@]}; k++)); do
      t=${targets[(k + r) % ${#targets[@]}]}
      v=$(fio_run "$t" "$1" "$1" "$2" "$3" "$4")
      echo "$1 $2 $3 $4 $t $v" >> "$work/results"
      echo "  run $r: $1 bs=$2 qd=$3 conns=$4 $t: $v (rate, CPU us/IO)" >&2
    done
  done
  # 4 clients on 4 regions beside 4 connections to 1 region, adjacent,
  # in turns.
  for rw in randread randwrite; do
    [[ "$rw 4k 32 4" =~ ${BENCH_JOBS:-.} ]] || continue
    for ((k = 0; k < 2; k++)); do
      if (( (k + r) % 2 == 0 )); then
        v=$(fio_run dram-malloc "$rw" "$rw" 4k 32 4)
        echo "regions $rw one $r $v" >> "$work/results"
      else
        v=$(fio_regions "$rw")
        echo "regions $rw four $r $v" >> "$work/results"
      fi
      echo "  run $r: $rw 4k QD32, $([ $(( (k + r) % 2 )) = 0 ] && echo "1 region x4" || echo "4 regions"): $v" >&2
    done
  done
done

# The 4 regions trimmed whole: each is freed when its client closes.
for k in 0 1 2 3; do
  fio --name=trim --ioengine=nbd --uri="$(uri dram-regions "recipient$k")" \
      --rw=trim --bs=64M --size="$quarter" --output-format=terse \
      >/dev/null 2>&1 || :
done
sleep 0.2
rss_regions_freed=$(rss_mib dram-regions)
regions_left=$(nbdinfo --list "$(uri dram-regions)" 2>/dev/null |
               sed -n 's/.* regions=\([0-9]*\))$/\1/p')
echo "regions-rss $rss_regions_base $rss_regions_full $rss_regions_freed ${regions_left:-?}" \
  >> "$work/results"

# Trim everything and take the RSS again.
for t in "${targets[@]}"; do
  fio --name=trim --ioengine=nbd --uri="$(uri "$t")" --rw=trim --bs=64M \
      --size="$size" --output-format=terse >/dev/null 2>&1 || :
  sleep 0.2
  rss_trim[$t]=$(rss_mib "$t")
done
for t in "${targets[@]}"; do
  echo "rss $t ${rss_full[$t]} ${rss_trim[$t]}" >> "$work/results"
done

mkdir -p "$(dirname "$out")"
"$python" - "$work/results" "$size" <<'PY' | tee "$out"
import statistics, sys
from collections import defaultdict

cells = defaultdict(list)
cpu = defaultdict(list)
regions = defaultdict(list)
regions_cpu = defaultdict(list)
regions_rss = None
paired = defaultdict(dict)
rss = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "rss":
        rss[f[1]] = (float(f[2]), float(f[3]))
        continue
    if f[0] == "regions":
        regions[(f[1], f[2])].append(float(f[4]))
        regions_cpu[(f[1], f[2])].append(float(f[5]))
        paired[(f[1], int(f[3]))][f[2]] = float(f[4])
        continue
    if f[0] == "regions-rss":
        regions_rss = f[1:]
        continue
    cells[(f[0], f[1], int(f[2]), int(f[3]), f[4])].append(float(f[5]))
    cpu[(f[0], f[1], int(f[2]), int(f[3]), f[4])].append(float(f[6]))
med = {k: statistics.median(v) for k, v in cells.items()}
cmed = {k: statistics.median(v) for k, v in cpu.items()}
runs = max(len(v) for v in cells.values())
jobs = sorted({k[:4] for k in med}, key=lambda j: (j[1] == "1M", j[0], j[3], j[2]))

print()
print(f"Medians of {runs} runs; higher is better.")
print()
print("| job | backing | dram | memory sparse | memory malloc | null "
      "| dram/sparse | dram/malloc | dram/null |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for j in jobs:
    rw, bs, qd, conns = j
    unit = "IOPS" if bs == "4k" else "MiB/s"
    name = f"{rw} {bs} QD{qd} x{conns} ({unit})"
    peers = [med[j + (p,)] for p in ("memory-sparse", "memory-malloc", "null")]
    for b in ("malloc", "memfd", "file"):
        d = med[j + ("dram-" + b,)]
        print(f"| {name} | {b} | {d:,.0f} | {peers[0]:,.0f} | {peers[1]:,.0f} "
              f"| {peers[2]:,.0f} | {d / peers[0]:.2f} | {d / peers[1]:.2f} "
              f"| {d / peers[2]:.2f} |")
        name = ""

def to_bytes(s):
    units = "bkmgtpe"
    if s[-1].lower() in units:
        return int(s[:-1]) * 1024 ** units.index(s[-1].lower())
    return int(s)

print()
print(f"The donor's CPU time per I/O, microseconds (user + system, medians "
      f"of {runs}); lower is better.")
print()
print("| job | dram malloc | dram memfd | dram file | memory sparse "
      "| memory malloc | null | dram malloc/sparse | dram malloc/null |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for j in jobs:
    rw, bs, qd, conns = j
    c = {t: cmed[j + (t,)] for t in ("dram-malloc", "dram-memfd", "dram-file",
                                     "memory-sparse", "memory-malloc", "null")}
    print(f"| {rw} {bs} QD{qd} x{conns} | {c['dram-malloc']:.1f} "
          f"| {c['dram-memfd']:.1f} | {c['dram-file']:.1f} "
          f"| {c['memory-sparse']:.1f} | {c['memory-malloc']:.1f} "
          f"| {c['null']:.1f} | {c['dram-malloc'] / c['memory-sparse']:.2f} "
          f"| {c['dram-malloc'] / c['null']:.2f} |")

size = sys.argv[2]
size_mib = to_bytes(size) / 2**20
base_full, base_trim = rss["null"]
print()
print(f"RSS of the donor process (VmRSS).  'above null' subtracts what the "
      f"null plugin, which stores nothing, holds after the same requests: "
      f"nbdkit's own buffers.")
print()
print(f"| donor ({size}) | after writing all (MiB) | after trimming all (MiB) "
      f"| after trim, above null (MiB) | above null, % of size |")
print("|---|---:|---:|---:|---:|")
for t, (full, trim) in rss.items():
    above = max(trim - base_trim, 0.0)
    print(f"| {t} | {full:,.1f} | {trim:,.1f} | {above:,.1f} "
          f"| {100 * above / size_mib:.2f}% |")

if regions:
    print()
    print(f"One donor, 4 recipients: 4 clients on 4 regions of {size_mib / 4:,.0f} "
          f"MiB (one connection each) beside 4 connections to 1 region of "
          f"{size_mib:,.0f} MiB, 4K random, QD32 each, malloc backing, medians "
          f"of {len(next(iter(regions.values())))} runs in the same run, the "
          f"two adjacent in each run (each run's ratio pairs them); the "
          f"target is 4 regions >= 0.95 x 1 region.")
    print()
    print("| job | 1 region x4 (IOPS) | 4 regions (IOPS) | 4 regions / 1 region "
          "| median of each run's ratio | CPU us/IO, 1 region "
          "| CPU us/IO, 4 regions |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for rw in ("randread", "randwrite"):
        if (rw, "one") not in regions:
            continue
        one = statistics.median(regions[(rw, "one")])
        four = statistics.median(regions[(rw, "four")])
        ratios = [v["four"] / v["one"] for (j, _), v in paired.items()
                  if j == rw and len(v) == 2]
        print(f"| {rw} 4k QD32 | {one:,.0f} | {four:,.0f} | {four / one:.2f} "
              f"| {statistics.median(ratios):.2f} "
              f"| {statistics.median(regions_cpu[(rw, 'one')]):.1f} "
              f"| {statistics.median(regions_cpu[(rw, 'four')]):.1f} |")
if regions_rss:
    base, full, freed, left = regions_rss
    print()
    print("| donor of 4 regions | baseline (MiB) | 4 regions written (MiB) "
          "| 4 regions trimmed and closed (MiB) | above baseline, % of size "
          "| regions left |")
    print("|---|---:|---:|---:|---:|---:|")
    above = max(float(freed) - float(base), 0.0)
    print(f"| dram-malloc {size} | {float(base):,.1f} | {float(full):,.1f} "
          f"| {float(freed):,.1f} | {100 * above / size_mib:.2f}% | {left} |")
PY
echo "donor.sh: table saved in $out"
