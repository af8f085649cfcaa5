#!/usr/bin/env bash
# dram — SPDX-License-Identifier: BSD-3-Clause
# A recipient that hangs up with replies in flight (a cut link, a killed
# dram-attach) must not take the donor down with it: nbdkit 1.32.4 to
# 1.33.9 abort there when several threads hold replies for the client
# (see plugin.c).  The donor keeps serving, and what was written is
# still there.
source "${srcdir:-$(dirname "$0")}/functions.sh"
set -e -x

requires "$NBDKIT"
requires_nbdsh
make_tmpdir
start_nbdkit donor -- size=64M

nbdsh -u "$uri" -c 'h.pwrite(b"dram" * 1024, 32 << 20)'

# 30 clients, one after another, each sending 32 reads of 1 MiB and
# leaving without reading a reply.
/usr/bin/python3 - "$uri" <<'PY'
import nbd, os, sys
for i in range(30):
    pid = os.fork()
    if pid == 0:
        h = nbd.NBD()
        h.connect_uri(sys.argv[1])
        bufs = [nbd.Buffer(1 << 20) for _ in range(32)]
        for j, b in enumerate(bufs):
            h.aio_pread(b, (j % 16) << 20)
        os._exit(0)
    os.waitpid(pid, 0)
PY

# Still serving, with the same bytes.
nbdsh -u "$uri" -c 'assert h.pread(4096, 32 << 20) == b"dram" * 1024'
