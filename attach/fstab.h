/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_FSTAB_H
#define DRAM_FSTAB_H

#include <stddef.h>

/* One line of fstab. */
struct fstab_entry {
  const char *source;
  const char *target;
  const char *fstype;
  const char *options;
};

/* The fstab dram-attach edits: $DRAM_FSTAB (tests), or /etc/fstab. */
extern const char *fstab_path (void);

/* Refuses (with the reason) to go on when PATH cannot be parsed, or
 * already mounts something other than E's source at E's target (the
 * swap lines' target, "none", is not checked).
 */
extern int fstab_check (const char *path, const struct fstab_entry *e,
                        size_t n);

/* Adds the N entries, each unless a line has its source and target
 * already, in which case that line gets E's type and options: adding
 * twice is adding once.  The other lines, and comments, are kept.  The
 * file is replaced in one rename, created (mode 0644) if missing.
 */
extern int fstab_add (const char *path, const struct fstab_entry *e,
                      size_t n);

/* Removes the lines with the source and target of each of the N
 * entries (type and options do not matter); none is not an error.
 */
extern int fstab_remove (const char *path, const struct fstab_entry *e,
                         size_t n);

#endif /* DRAM_FSTAB_H */
