/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_SWAPFILE_H
#define DRAM_SWAPFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "swap.h"

/* Below this, no progress is shown. */
#define SWAPFILE_PROGRESS_MIN (UINT64_C (64) << 20)

/* Creates the swap file PATH, which must not exist: mode 0600, SIZE
 * bytes (a multiple of the page size) all written, so that it has no
 * holes (the kernel refuses a swap file with holes, and on NFS it
 * counts the blocks the server reports: fallocate cannot be relied
 * on there), then the swap header.  With PROGRESS, says how far it is
 * on stderr.  Checks that the blocks are all there, as the kernel will.
 * Returns 0, or -1 after reporting, with PATH removed.
 */
extern int swapfile_create (const char *path, uint64_t size,
                            const uint8_t uuid[SWAP_UUID_LEN],
                            const char *label, bool progress);

#endif /* DRAM_SWAPFILE_H */
