/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_PARAMS_H
#define DRAM_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

enum dram_backing {
  BACKING_MALLOC,               /* anonymous private mapping */
  BACKING_MEMFD,                /* anonymous tmpfs file */
  BACKING_FILE,                 /* a file on tmpfs or hugetlbfs */
};

/* A region outlives its last connection by this much unless lease=
 * says otherwise: longer than dram-attach's reconnect window (120 s).
 */
#define DEFAULT_LEASE_MS (5 * 60 * 1000)

/* The plugin's parameters as the operator gave them. */
struct dram_params {
  uint64_t size;                /* the budget: all regions together */
  char *size_str;               /* as typed, for messages */
  uint64_t region;              /* each region; default size */
  char *region_str;
  uint64_t lease_ms;            /* a region outlives its last close */
  bool have_lease;
  enum dram_backing backing;
  bool have_backing;
  char *file;                   /* file=PATH; for dir=, the table sets
                                   each region's own file here */
  const char *name;             /* not a parameter: the export name of
                                   the region being opened (the table's) */
  bool probe;                   /* not a parameter: open only to check
                                   (start-up): no identity, no wipe */
  char *dir;                    /* dir=DIR: private file in DIR */
  bool allow_disk;
  bool mlock;
  bool reserve;
  bool force;
  bool insecure;
  unsigned seen;                /* keys given, one bit each */
};

/* Takes one key=value.  Unknown keys, repeated keys and bad values are
 * refused with a message naming them.
 */
extern int params_set (struct dram_params *p, const char *key,
                       const char *value);

/* Checks the parameters against each other and against MEMTOTAL, the
 * machine's RAM in bytes.  Fills in defaults.
 */
extern int params_check (struct dram_params *p, uint64_t memtotal);

extern void params_free (struct dram_params *p);

extern const char *backing_name (enum dram_backing b);

#endif /* DRAM_PARAMS_H */
