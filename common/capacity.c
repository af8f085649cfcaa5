/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The donor's capacity, as its NBD_OPT_LIST description carries it. */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capacity.h"
#include "human.h"

#define PREFIX "dram donor: "

/* C's sizes for people. */
struct sizes {
  char total[32], avail[32], each[32];
};

static void
format_sizes (const struct capacity *c, struct sizes *z)
{
  format_size (c->size, z->total, sizeof z->total);
  format_size (c->free_bytes, z->avail, sizeof z->avail);
  format_size (c->region, z->each, sizeof z->each);
}

void
capacity_describe (const struct capacity *c, char *buf, size_t len)
{
  struct sizes z;

  format_sizes (c, &z);
  snprintf (buf, len,
            PREFIX "%s free of %s in regions of %s, %u lent "
            "(size=%" PRIu64 " region=%" PRIu64 " free=%" PRIu64
            " regions=%u)", z.avail, z.total, z.each, c->regions,
            c->size, c->region, c->free_bytes, c->regions);
}

int
capacity_parse (const char *description, struct capacity *c)
{
  const char *p;
  struct capacity v;
  int end = 0;

  if (description == NULL ||
      strncmp (description, PREFIX, strlen (PREFIX)) != 0 ||
      (p = strrchr (description, '(')) == NULL ||
      strpbrk (p, "-+") != NULL)   /* scanf would take "-1" */
    return -1;
  if (sscanf (p, "(size=%" SCNu64 " region=%" SCNu64 " free=%" SCNu64
              " regions=%u)%n", &v.size, &v.region, &v.free_bytes,
              &v.regions, &end) != 4 || end == 0 || p[end] != '\0')
    return -1;
  /* What no dram donor says. */
  if (v.size == 0 || v.region == 0 || v.region > v.size ||
      v.free_bytes > v.size)
    return -1;
  *c = v;
  return 0;
}

bool
capacity_fits (const struct capacity *c)
{
  return c->free_bytes >= c->region;
}

void
capacity_summary (const struct capacity *c, char *buf, size_t len)
{
  struct sizes z;

  format_sizes (c, &z);
  if (capacity_fits (c))
    snprintf (buf, len, "%s free of %s (regions of %s)", z.avail, z.total,
              z.each);
  else
    snprintf (buf, len, "all %s lent (%u region%s of %s)", z.total,
              c->regions, c->regions == 1 ? "" : "s", z.each);
}
