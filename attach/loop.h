/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_LOOP_H
#define DRAM_LOOP_H

#include <stdbool.h>
#include <stddef.h>

/* Refuses (with the reason) anything but an unused /dev/loopN. */
extern int loop_check_unused (const char *dev);

/* Attaches FILE to the loop device DEV, or to a free one (filling DEV,
 * "/dev/loopN") when DEV is empty, with direct I/O and 4096-byte
 * blocks; with AUTOCLEAR the device lets go of the file when its last
 * user closes it (for swap: at swapoff).  Returns an open descriptor
 * of the device, or -1 after reporting.
 */
extern int loop_attach (const char *file, bool autoclear,
                        char *dev, size_t len);

/* Lets go of the file, if the device still holds one. */
extern int loop_detach (const char *dev);

/* Whether DEV is attached to a file. */
extern bool loop_attached (const char *dev);

#endif /* DRAM_LOOP_H */
