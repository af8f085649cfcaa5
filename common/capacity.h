/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_CAPACITY_H
#define DRAM_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a donor has to lend, as it describes its default export in
 * NBD_OPT_LIST: for people first, then for programs in parentheses:
 *
 *   dram donor: 3G free of 8G in regions of 1G, 5 lent
 *   (size=8589934592 region=1073741824 free=3221225472 regions=5)
 */
struct capacity {
  uint64_t size;                /* the donor's whole budget */
  uint64_t region;              /* each recipient's region */
  uint64_t free_bytes;          /* what no region holds */
  unsigned regions;             /* regions lent */
};

/* The description of C, in BUF. */
extern void capacity_describe (const struct capacity *c, char *buf,
                               size_t len);

/* Reads a description made by capacity_describe.  Returns 0, or -1
 * when DESCRIPTION is not one (another server, an older dram).
 */
extern int capacity_parse (const char *description, struct capacity *c);

/* Whether a new region fits in what C has left. */
extern bool capacity_fits (const struct capacity *c);

/* "all 8G lent (8 regions of 1G)", or "3G free of 8G (regions of
 * 1G)" when there is room, in BUF.
 */
extern void capacity_summary (const struct capacity *c, char *buf,
                              size_t len);

#endif /* DRAM_CAPACITY_H */
