/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_HEALTH_H
#define DRAM_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a resident process's connections to the donor are doing, for
 * --status: a small file in the state directory that the process keeps
 * mapped (and so locked), rewritten in place with no allocation and no
 * I/O, because it changes exactly when swap may be stalled.
 */
struct health;

/* What --status reads. */
struct health_report {
  char state[16];               /* connected, reconnecting, failed */
  unsigned up, total;           /* connections */
  unsigned reconnects;
  int64_t changed_at;           /* seconds since the epoch */
  char last_error[400];
};

/* Creates PATH for TOTAL connections, all up.  NULL after reporting. */
extern struct health *health_create (const char *path, unsigned total);

/* A connection was lost (WHY), came back, or was given up (WHY). */
extern void health_lost (struct health *h, const char *why);
extern void health_back (struct health *h);
extern void health_failed (struct health *h, const char *why);

/* Returns 0, or -1 when PATH is missing or unreadable (no report). */
extern int health_read (const char *path, struct health_report *r);

#endif /* DRAM_HEALTH_H */
