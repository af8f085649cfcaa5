/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_MEMINFO_H
#define DRAM_MEMINFO_H

#include <stdint.h>

/* Reads FIELD ("MemTotal", "MemAvailable", ...) from a file in the
 * format of /proc/meminfo and returns it in bytes.  PATH is NULL for
 * /proc/meminfo.  Returns 0, or -1 after reporting.
 */
extern int meminfo_get (const char *path, const char *field, uint64_t *ret);

#endif /* DRAM_MEMINFO_H */
