/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_PROBE_H
#define DRAM_PROBE_H

#include <stddef.h>

/* What DEVICE already holds, as libblkid finds it: a swap area, a
 * filesystem, a RAID member, a partition table.  Returns 1 with WHAT
 * describing it ("swap UUID ...", "an ext4 filesystem UUID ..."), 0
 * when it holds nothing known, -1 after reporting.
 */
extern int probe_contents (const char *device, char *what, size_t len);

#endif /* DRAM_PROBE_H */
