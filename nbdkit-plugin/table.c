/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The region table: a region per export name, made at its first open
 * while it fits in the budget, kept while a connection holds it and
 * for the lease after the last one closes, then freed.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "human.h"
#include "report.h"
#include "table.h"

#define EMPTY_STEP (64u << 20)  /* bytes asked of extents at a time */

void
table_init (struct table *t, const struct dram_params *p,
            uint64_t region_size, uint64_t lease_ms,
            uint64_t (*clock_ms) (void))
{
  memset (t, 0, sizeof *t);
  pthread_mutex_init (&t->lock, NULL);
  t->params = p;
  t->budget = p->size;
  t->region_size = region_size;
  t->lease_ms = lease_ms;
  t->clock_ms = clock_ms;
}

static int
note_data (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  bool *data = opaque;

  if (!hole)
    *data = true;
  return 0;
}

bool
region_empty (struct region *r)
{
  uint64_t offset = 0, step;
  bool data = false;

  while (offset < r->size && !data) {
    step = r->size - offset < EMPTY_STEP ? r->size - offset : EMPTY_STEP;
    if (region_extents (r, step, offset, note_data, &data) == -1)
      return false;
    offset += step;
  }
  return !data;
}

static struct slot *
find (struct table *t, const char *name)
{
  struct slot *s;

  for (s = t->slots; s; s = s->next)
    if (strcmp (s->name, name) == 0)
      return s;
  return NULL;
}

/* Frees S.  When LENT_OUT (its lease over, or trimmed), a file= region
 * is also wiped; a donor that stops keeps it for its restart.
 */
static void
release_slot (struct table *t, struct slot *s, bool lent_out)
{
  struct slot **pp;

  for (pp = &t->slots; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  t->nr_slots--;
  /* file= outlives its regions: what was lent is given back, and the
   * next recipient gets a new identity, never the last one's data.
   */
  if (lent_out && t->params->file) {
    if (region_zero (&s->region, s->region.size, 0) == -1)
      dram_error ("%s: the region of %s could not be wiped",
                  t->params->file, s->name);
    region_forget_identity (t->params->file);
  }
  region_close (&s->region);
  free (s->name);
  free (s);
}

static uint64_t
expire_locked (struct table *t)
{
  uint64_t now = t->clock_ms (), next = UINT64_MAX, end;
  struct slot *s, *n;

  for (s = t->slots; s; s = n) {
    n = s->next;
    if (s->connections > 0)
      continue;
    end = s->idle_since_ms + t->lease_ms;
    if (end <= now) {
      dram_debug ("region of %s: lease over, freed", s->name);
      release_slot (t, s, true);
    }
    else if (end - now < next)
      next = end - now;
  }
  return next;
}

uint64_t
table_expire (struct table *t)
{
  uint64_t next;

  pthread_mutex_lock (&t->lock);
  next = expire_locked (t);
  pthread_mutex_unlock (&t->lock);
  return next;
}

static struct slot *
make_slot (struct table *t, const char *name)
{
  struct dram_params p = *t->params;
  char lent[32], each[32];
  struct slot *s;

  if ((uint64_t) (t->nr_slots + 1) * t->region_size > t->budget) {
    format_size (t->budget, lent, sizeof lent);
    format_size (t->region_size, each, sizeof each);
    errno = ENOSPC;
    dram_error ("all %s lent (%u regions of %s); nothing left for this "
                "recipient", lent, t->nr_slots, each);
    return NULL;
  }
  s = calloc (1, sizeof *s);
  if (s == NULL || (s->name = strdup (name)) == NULL) {
    dram_error ("malloc: %m");
    free (s);
    return NULL;
  }
  p.size = t->region_size;
  if (region_open (&s->region, &p) == -1) {
    free (s->name);
    free (s);
    return NULL;
  }
  if (region_map (&s->region) == -1) {
    region_close (&s->region);
    free (s->name);
    free (s);
    return NULL;
  }
  s->next = t->slots;
  t->slots = s;
  t->nr_slots++;
  return s;
}

struct slot *
table_open (struct table *t, const char *name)
{
  struct slot *s;

  if (strlen (name) > TABLE_NAME_MAX) {
    errno = EINVAL;
    dram_error ("an export name of %zu bytes is longer than the "
                "protocol's %d", strlen (name), TABLE_NAME_MAX);
    return NULL;
  }
  pthread_mutex_lock (&t->lock);
  expire_locked (t);
  s = find (t, name);
  if (s == NULL)
    s = make_slot (t, name);
  if (s)
    s->connections++;
  pthread_mutex_unlock (&t->lock);
  return s;
}

void
table_close (struct table *t, struct slot *s)
{
  pthread_mutex_lock (&t->lock);
  if (--s->connections == 0) {
    s->idle_since_ms = t->clock_ms ();
    if (t->lease_ms == 0 || region_empty (&s->region)) {
      dram_debug ("region of %s: %s, freed", s->name,
                  t->lease_ms == 0 ? "last connection closed" : "all holes");
      release_slot (t, s, true);
    }
  }
  pthread_mutex_unlock (&t->lock);
}

void
table_capacity (struct table *t, uint64_t *free_bytes, unsigned *regions)
{
  pthread_mutex_lock (&t->lock);
  *free_bytes = t->budget - (uint64_t) t->nr_slots * t->region_size;
  *regions = t->nr_slots;
  pthread_mutex_unlock (&t->lock);
}

void
table_free (struct table *t)
{
  while (t->slots)
    release_slot (t, t->slots, false);
  pthread_mutex_destroy (&t->lock);
}
