/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The region table: a region per export name, made at its first open
 * while it fits in the budget, kept while a connection holds it and
 * for the lease after the last one closes, then freed.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capacity.h"
#include "human.h"
#include "identity.h"
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

/* Frees S.  When LENT_OUT (its lease over, or trimmed), what a file
 * held is given back too: dir= removes the region's file, file= wipes
 * it, and the next recipient gets a new identity, never the last one's
 * data.  A donor that stops keeps them for its restart.
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
  if (lent_out && t->params->dir && s->region.path) {
    if (unlink (s->region.path) == -1)
      dram_error ("%s: the region of a recipient gone could not be "
                  "removed: %m", s->region.path);
    region_forget_identity (s->region.path);
  }
  else if (lent_out && t->params->file) {
    if (region_wipe (&s->region) == -1)
      dram_error ("%s: the region of a recipient gone could not be wiped",
                  t->params->file);
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

/* Whether one more region fits in the budget; reports why not. */
static bool
fits (struct table *t)
{
  struct capacity c = {
    .size = t->budget, .region = t->region_size, .regions = t->nr_slots,
    .free_bytes = t->budget - (uint64_t) t->nr_slots * t->region_size,
  };
  char summary[128];

  if (capacity_fits (&c))
    return true;
  capacity_summary (&c, summary, sizeof summary);
  errno = ENOSPC;
  dram_error ("%s; nothing left for this recipient", summary);
  return false;
}

/* Opens NAME's region (in FILE for dir=, found or made) and adds it to
 * the table, unmapped.
 */
static struct slot *
add_slot (struct table *t, const char *name, const char *file)
{
  struct dram_params p = *t->params;
  struct slot *s;

  s = calloc (1, sizeof *s);
  if (s == NULL || (s->name = strdup (name)) == NULL) {
    dram_error ("malloc: %m");
    free (s);
    return NULL;
  }
  p.size = t->region_size;
  p.name = name;
  if (file)
    p.file = (char *) file;
  if (region_open (&s->region, &p) == -1) {
    free (s->name);
    free (s);
    return NULL;
  }
  s->idle_since_ms = t->clock_ms ();
  s->next = t->slots;
  t->slots = s;
  t->nr_slots++;
  return s;
}

/* A new region for NAME, mapped, while the budget holds it. */
static struct slot *
make_slot (struct table *t, const char *name)
{
  char token[IDENTITY_LEN + 1], *file = NULL;
  struct slot *s;

  if (!fits (t))
    return NULL;
  /* dir=: a file named by a random token, never by the export name. */
  if (t->params->dir) {
    if (identity_new (token) == -1)
      return NULL;
    if (asprintf (&file, "%s/%s" REGION_FILE_SUFFIX, t->params->dir,
                  token) == -1) {
      dram_error ("malloc: %m");
      return NULL;
    }
  }
  s = add_slot (t, name, file);
  free (file);
  if (s && region_map (&s->region) == -1) {
    release_slot (t, s, true);
    return NULL;
  }
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

/* Whether ENTRY is the name of a region's file in dir=: the token and
 * the suffix, nothing else.
 */
static bool
region_file_name (const char *entry)
{
  char token[IDENTITY_LEN + 1];

  if (strlen (entry) != IDENTITY_LEN + strlen (REGION_FILE_SUFFIX) ||
      strcmp (entry + IDENTITY_LEN, REGION_FILE_SUFFIX) != 0)
    return false;
  memcpy (token, entry, IDENTITY_LEN);
  token[IDENTITY_LEN] = '\0';
  return identity_valid (token);
}

/* One file found in dir= at start-up: its recipient's region again,
 * or, without a record of whose it is, removed.
 */
static int
load_file (struct table *t, const char *file, char *name)
{
  const struct dram_params *p = t->params;
  char id[IDENTITY_LEN + 1], record[4096], want[32];
  uint64_t size;

  snprintf (record, sizeof record, "%s" REGION_RECORD_SUFFIX, file);
  if (region_record_read (record, id, &size, name) == -1) {
    dram_debug ("%s: no record of whose region it is: removed", file);
    if (unlink (file) == -1)
      dram_error ("%s: %m", file);
    unlink (record);
    return 0;
  }
  format_size (size, want, sizeof want);
  if (size != t->region_size) {
    dram_error ("dir=%s holds a region of %s (%s), not region=%s: give "
                "the same region= as before, or remove the file to start "
                "afresh", p->dir, want, file,
                p->region_str ? p->region_str : p->size_str);
    return -1;
  }
  if (find (t, name)) {
    dram_error ("dir=%s: %s holds a second region of one export name",
                p->dir, file);
    return -1;
  }
  if ((uint64_t) (t->nr_slots + 1) * t->region_size > t->budget) {
    dram_error ("dir=%s holds more regions of %s than size=%s has room "
                "for: give size= as before, or remove files to start "
                "afresh", p->dir, want, p->size_str);
    return -1;
  }
  if (add_slot (t, name, file) == NULL)
    return -1;
  dram_debug ("%s: region %s kept, its lease starts now",
              file, t->slots->region.id);
  return 0;
}

int
table_load (struct table *t)
{
  const char *dir = t->params->dir;
  char *file, *name;
  struct dirent *e;
  DIR *d;
  int fd, ret = 0;

  if (dir == NULL)
    return 0;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    dram_error ("dir=%s: %m", dir);
    return -1;
  }
  /* Two donors on one dir= would take each other's regions. */
  if (region_lock (fd, "dir", dir) == -1) {
    close (fd);
    return -1;
  }
  t->dir_fd = fd;
  d = opendir (dir);
  name = malloc (RECORD_NAME_MAX + 1);
  if (d == NULL || name == NULL) {
    dram_error ("dir=%s: %m", dir);
    if (d)
      closedir (d);
    free (name);
    return -1;
  }
  while (ret == 0 && (e = readdir (d)) != NULL) {
    if (!region_file_name (e->d_name))
      continue;
    if (asprintf (&file, "%s/%s", dir, e->d_name) == -1) {
      dram_error ("malloc: %m");
      ret = -1;
      break;
    }
    ret = load_file (t, file, name);
    free (file);
  }
  closedir (d);
  free (name);
  return ret;
}

int
table_map (struct table *t)
{
  struct slot *s;

  for (s = t->slots; s; s = s->next)
    if (region_map (&s->region) == -1)
      return -1;
  return 0;
}

void
table_free (struct table *t)
{
  while (t->slots)
    release_slot (t, t->slots, false);
  if (t->dir_fd > 0)
    close (t->dir_fd);
  pthread_mutex_destroy (&t->lock);
}
