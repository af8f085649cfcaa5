/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_HUMAN_H
#define DRAM_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* BYTES as "512M", "1.5G", "4096" (powers of 1024, at most one
 * decimal, exact values without one).  BUF holds at least 16 bytes.
 */
extern void format_size (uint64_t bytes, char *buf, size_t len);

#endif /* DRAM_HUMAN_H */
