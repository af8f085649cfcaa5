#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# The region outlives connections: what one client wrote, the next one
# reads; and two connections at once see each other's writes.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT" nbdcopy
requires_nbdsh
make_tmpdir
make_shmdir

head -c $((16 << 20)) /dev/urandom > "$tmpdir/data"

for backing in malloc memfd "file dir=$shmdir"; do
  name=${backing%% *}
  start_nbdkit "$name" -- size=64M backing=$backing
  # First client writes and goes away.
  nbdcopy "$tmpdir/data" "$uri"
  # Later clients, one at a time, find it.
  for i in 1 2 3; do
    nbdcopy "$uri" - | head -c $((16 << 20)) | cmp - "$tmpdir/data"
  done

  # Two connections at once, and a third after both have gone.
  nbdsh -c "
import os
uri = '$uri'
a = nbd.NBD(); a.connect_uri(uri)
b = nbd.NBD(); b.connect_uri(uri)
buf = os.urandom(8192)
a.pwrite(buf, 40 << 20)
a.flush()
assert b.pread(8192, 40 << 20) == buf
b.trim(4096, 40 << 20)
assert a.pread(4096, 40 << 20) == bytes(4096)
a.shutdown(); b.shutdown()
c = nbd.NBD(); c.connect_uri(uri)
assert c.pread(4096, (40 << 20) + 4096) == buf[4096:]
assert c.pread(4096, 40 << 20) == bytes(4096)
c.shutdown()
print('connections agree')
"
  stop_pidfile "$tmpdir/$name.pid"
done
