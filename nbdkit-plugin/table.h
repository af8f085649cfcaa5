/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_TABLE_H
#define DRAM_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "region.h"

/* The protocol's bound on an export name (NBD: 4096 bytes). */
#define TABLE_NAME_MAX RECORD_NAME_MAX

/* One recipient's region, under the export name it asked for. */
struct slot {
  char *name;
  struct region region;
  unsigned connections;         /* open connections to it */
  uint64_t idle_since_ms;       /* when the last one closed */
  struct slot *next;
};

/* The donor's regions.  Opening and closing take the lock; a
 * connection then works on its slot's region alone, so the data path
 * shares no lock.
 */
struct table {
  pthread_mutex_t lock;
  const struct dram_params *params;
  uint64_t budget;              /* size= */
  uint64_t region_size;         /* region= */
  uint64_t lease_ms;            /* lease=: kept this long after last close */
  uint64_t (*clock_ms) (void);  /* monotonic; a fake one in tests */
  struct slot *slots;
  unsigned nr_slots;
  int dir_fd;                   /* dir=, locked against a second donor */
};

extern void table_init (struct table *t, const struct dram_params *p,
                        uint64_t region_size, uint64_t lease_ms,
                        uint64_t (*clock_ms) (void));

/* The region called NAME, made now if there is none and it fits.
 * NULL after reporting why (full, a name too long, no memory).
 */
extern struct slot *table_open (struct table *t, const char *name);

/* dir=: at start-up, before the fork, finds the regions a donor that
 * stopped left in their files (DIR/TOKEN.dram, TOKEN random, with the
 * record FILE.dram-id naming their owner); their leases start now.  A
 * file without a record is nobody's and is removed.  -1 after
 * reporting (another donor holds the dir, a region of another size,
 * more than the budget).
 */
extern int table_load (struct table *t);

/* After the fork: maps what table_load found.  -1 after reporting. */
extern int table_map (struct table *t);

/* A connection to S closed.  The region is freed at once when lease
 * is 0 or every page of it is a hole; otherwise its lease starts.
 */
extern void table_close (struct table *t, struct slot *s);

/* Frees the regions whose lease has run out.  Returns how many ms
 * until the next one does, or UINT64_MAX when none is waiting.
 */
extern uint64_t table_expire (struct table *t);

/* Bytes not lent, and how many regions are. */
extern void table_capacity (struct table *t, uint64_t *free_bytes,
                            unsigned *regions);

extern void table_free (struct table *t);

/* Whether every page of R is a hole. */
extern bool region_empty (struct region *r);

#endif /* DRAM_TABLE_H */
