/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_SWAP_H
#define DRAM_SWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWAP_UUID_LEN 16
#define SWAP_MIN_PAGES 10       /* what mkswap and swapon accept */

/* Fills PAGE (PAGESIZE bytes) with a version 1 swap header
 * (SWAPSPACE2) for a device of SIZE bytes, as mkswap(8) writes it.
 * LABEL may be NULL.  Returns -1 if the device is too small.
 */
extern int swap_header_build (unsigned char *page, size_t pagesize,
                              uint64_t size, const uint8_t uuid[SWAP_UUID_LEN],
                              const char *label);

/* Writes the header to the first page of FD and syncs it. */
extern int swap_header_write (int fd, const char *dev, uint64_t size,
                              const uint8_t uuid[SWAP_UUID_LEN],
                              const char *label);

/* A random (version 4) UUID, and its text form (37 bytes with NUL). */
extern int uuid_generate_v4 (uint8_t uuid[SWAP_UUID_LEN]);
extern void uuid_format (const uint8_t uuid[SWAP_UUID_LEN], char *buf);

/* The swapon(2) flags for PRIORITY (-1: the kernel's) and DISCARD. */
extern int swap_flags (int priority, bool discard);

extern int swap_on (const char *dev, int priority, bool discard);
extern int swap_off (const char *dev);

/* Whether DEV is in /proc/swaps (SWAPS: another file, for tests).  With
 * USED_KIB/PRIORITY non-NULL, fills them in.
 */
extern bool swap_active (const char *swaps, const char *dev,
                         uint64_t *used_kib, int *priority);

#endif /* DRAM_SWAP_H */
