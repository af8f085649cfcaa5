/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_MOUNT_H
#define DRAM_MOUNT_H

#include <stdbool.h>

#include <libmount.h>

/* The entry of /proc/self/mountinfo mounted on TARGET, into *TB (to
 * unref), or NULL.
 */
extern struct libmnt_fs *mount_find (const char *target,
                                     struct libmnt_table **tb);

/* Whether something is mounted on TARGET. */
extern bool mounted (const char *target);

/* Unmounts what is mounted on TARGET (nothing: 0), lazily when it
 * will not go at once.  Returns -1 after reporting.
 */
extern int unmount (const char *target);

#endif /* DRAM_MOUNT_H */
