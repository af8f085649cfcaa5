/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_REGION_H
#define DRAM_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "params.h"

/* Bits of a /proc/self/pagemap entry. */
#define PM_PRESENT (UINT64_C (1) << 63)
#define PM_SWAPPED (UINT64_C (1) << 62)
#define PM_MMAP_EXCLUSIVE (UINT64_C (1) << 56)
#define PM_PFN_MASK ((UINT64_C (1) << 55) - 1)

/* The donated RAM.  One per nbdkit process; it outlives connections. */
struct region {
  enum dram_backing backing;
  uint64_t size;
  uint64_t granularity;         /* trim and zero free whole units of this */
  int fd;                       /* memfd or file; -1 for malloc */
  bool volatile_fs;             /* RAM-backed: flush has nothing to do */
  bool guarded;                 /* writes through map may SIGBUS */
  bool guard_on;                /* holds a guard_install (guard.h) */
  bool mlock;
  bool reserve;
  char *path;                   /* file=, for messages */
  bool created;                 /* we created path */
  bool reused;                  /* path held this region already */
  bool kept;                    /* ... for this owner: its data stays */
  char *map;                    /* the whole region, MAP_SHARED or private */
  int pagemap_fd;               /* /proc/self/pagemap for malloc's extents */
  uint64_t zero_pfn;            /* the zero page's frame, 0 if hidden */
  _Atomic unsigned long *written; /* malloc where a read fault gets a page
                                     of its own (no zero page): a bit per
                                     page written since given back; reads
                                     skip the others.  NULL elsewhere */
  char id[IDENTITY_LEN + 1];    /* see identity.h */
};

/* Before nbdkit forks: every check and reservation whose failure the
 * operator must see as a failed start.  Creates the memfd or file and
 * maps the region.  On failure nothing is left behind.
 */
extern int region_open (struct region *r, const struct dram_params *p);

/* At start-up, before any region is made: what would refuse every
 * region (mlock and reserve against the whole budget, the filesystem
 * of file= or dir=).  -1 after reporting.
 */
extern int region_precheck (const struct dram_params *p);

/* In the serving process (locks are not inherited by fork): locks,
 * populates, opens what describes this process.
 */
extern int region_map (struct region *r);

/* For the malloc backing, in region_map where a read fault allocates
 * (and in tests anywhere): from now on reads copy only the pages
 * written since they were last given back.  -1 after reporting.
 */
extern int region_track_written (struct region *r);

extern void region_close (struct region *r);

/* Sets R->id: for a FILE region that was reused (KEEP) under the
 * export name OWNER recorded in FILE.dram-id, the identity recorded
 * there (and R->kept); otherwise a new one, recorded there with OWNER
 * for a FILE.  FILE is NULL for the other backings.  Returns -1 after
 * reporting.
 */
extern int region_identify (struct region *r, const char *file,
                            const char *owner, bool keep);

/* dir=: each region's file, DIR/TOKEN.dram; beside any region file,
 * FILE.dram-id records its identity, size and owner.
 */
#define REGION_FILE_SUFFIX ".dram"
#define REGION_RECORD_SUFFIX ".dram-id"

/* The longest export name a record holds (the protocol's bound). */
#define RECORD_NAME_MAX 4096

/* Reads the record at PATH (FILE.dram-id): the identity (ID,
 * IDENTITY_LEN + 1 bytes), the region's size and its owner's export
 * name (NAME, RECORD_NAME_MAX + 1 bytes).  -1 when there is none or it
 * is not one (an error other than absence is reported).
 */
extern int region_record_read (const char *path, char *id, uint64_t *size,
                               char *name);

/* Takes FD's exclusive lock for this donor, or reports that WHAT=PATH
 * is another donor's (or why it cannot be locked) and returns -1.
 */
extern int region_lock (int fd, const char *what, const char *path);

/* Gives every byte of R back (as region_zero, over the whole region). */
extern int region_wipe (struct region *r);

/* Removes the record beside FILE (a region this start created). */
extern void region_forget_identity (const char *file);

extern int region_read (struct region *r, void *buf,
                        uint32_t count, uint64_t offset);
extern int region_write (struct region *r, const void *buf,
                         uint32_t count, uint64_t offset, bool fua);
/* Zero (and trim, which is the same here): the range reads back as
 * zeros; whole granules in it are given back to the donor.
 */
extern int region_zero (struct region *r, uint32_t count, uint64_t offset);
extern int region_flush (struct region *r);
extern int region_cache (struct region *r, uint32_t count, uint64_t offset);

/* Calls ADD for consecutive runs from OFFSET, covering at least one
 * byte and at most COUNT bytes; HOLE means the run reads as zeros and
 * holds no memory.  ADD returns -1 to stop with an error.
 */
typedef int (*extent_fn) (void *opaque, uint64_t offset, uint64_t length,
                          bool hole);
extern int region_extents (struct region *r, uint32_t count, uint64_t offset,
                           extent_fn add, void *opaque);

#endif /* DRAM_REGION_H */
