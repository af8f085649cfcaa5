#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# fio over 4 NBD connections at once, each writing random 4K blocks to
# its own quarter and verifying every block with crc32c.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" fio
fio --enghelp=nbd >/dev/null 2>&1 || skip "fio was built without the nbd engine"
make_tmpdir
make_shmdir

for backing in malloc memfd "file dir=$shmdir"; do
  name=${backing%% *}
  start_nbdkit "$name" -- size=256M backing=$backing
  fio --name=verify --ioengine=nbd --uri="$uri" --rw=randwrite --bs=4k \
      --numjobs=4 --size=64M --offset_increment=64M --iodepth=16 \
      --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
      --output-format=json --output="$tmpdir/fio.json"
  # Every job wrote its 64M and read all of it back to verify.
  /usr/bin/python3 - "$tmpdir/fio.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
assert len(jobs) == 4, len(jobs)
for j in jobs:
    assert j["error"] == 0, j["error"]
    assert j["write"]["io_bytes"] == 64 << 20, j["write"]["io_bytes"]
    assert j["read"]["io_bytes"] == 64 << 20, j["read"]["io_bytes"]
print("4 connections: 4 x 64 MiB written and verified")
PY
  stop_pidfile "$tmpdir/$name.pid"
done
