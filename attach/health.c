/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The connection health record (see health.h): "key=value" lines,
 * NUL-padded to one page, ending with "end".  Readers that catch a
 * rewrite half-way read again.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "health.h"
#include "report.h"

#define RECORD_SIZE 4096

struct health {
  pthread_mutex_t lock;         /* only when something changes */
  char *map;
  struct health_report now;
  unsigned failed;
};

/* Under h->lock.  snprintf into a stack buffer allocates nothing. */
static void
publish (struct health *h)
{
  struct health_report *r = &h->now;
  char buf[RECORD_SIZE];
  int n;

  snprintf (r->state, sizeof r->state, "%s",
            h->failed ? "failed" : r->up < r->total ? "reconnecting"
                                                    : "connected");
  r->changed_at = time (NULL);
  memset (buf, 0, sizeof buf);
  n = snprintf (buf, sizeof buf,
                "state=%s\nup=%u\ntotal=%u\nreconnects=%u\n"
                "changed_at=%" PRId64 "\nlast_error=%s\nend\n",
                r->state, r->up, r->total, r->reconnects, r->changed_at,
                r->last_error);
  if (n > 0)
    memcpy (h->map, buf, sizeof buf);
}

struct health *
health_create (const char *path, unsigned total)
{
  struct health *h = calloc (1, sizeof *h);
  int fd;

  if (h == NULL) {
    dram_error ("calloc: %m");
    return NULL;
  }
  fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1 || ftruncate (fd, RECORD_SIZE) == -1) {
    dram_error ("%s: %m", path);
    goto out_free;
  }
  h->map = mmap (NULL, RECORD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                 0);
  if (h->map == MAP_FAILED) {
    dram_error ("%s: mmap: %m", path);
    goto out_free;
  }
  close (fd);
  pthread_mutex_init (&h->lock, NULL);
  h->now.up = h->now.total = total;
  publish (h);
  return h;

 out_free:
  if (fd >= 0)
    close (fd);
  free (h);
  return NULL;
}

/* One line: a message with a newline would end the record early. */
static void
set_error (struct health *h, const char *why)
{
  char *p;

  snprintf (h->now.last_error, sizeof h->now.last_error, "%s", why);
  for (p = h->now.last_error; *p; p++)
    if (*p == '\n')
      *p = ' ';
}

void
health_lost (struct health *h, const char *why)
{
  if (h == NULL)
    return;
  pthread_mutex_lock (&h->lock);
  if (h->now.up > 0)
    h->now.up--;
  set_error (h, why);
  publish (h);
  pthread_mutex_unlock (&h->lock);
}

void
health_back (struct health *h)
{
  if (h == NULL)
    return;
  pthread_mutex_lock (&h->lock);
  h->now.up++;
  h->now.reconnects++;
  publish (h);
  pthread_mutex_unlock (&h->lock);
}

void
health_failed (struct health *h, const char *why)
{
  if (h == NULL)
    return;
  pthread_mutex_lock (&h->lock);
  h->failed++;
  set_error (h, why);
  publish (h);
  pthread_mutex_unlock (&h->lock);
}

static void
set_field (struct health_report *r, const char *k, const char *v)
{
  if (strcmp (k, "state") == 0)
    snprintf (r->state, sizeof r->state, "%s", v);
  else if (strcmp (k, "up") == 0)
    r->up = strtoul (v, NULL, 10);
  else if (strcmp (k, "total") == 0)
    r->total = strtoul (v, NULL, 10);
  else if (strcmp (k, "reconnects") == 0)
    r->reconnects = strtoul (v, NULL, 10);
  else if (strcmp (k, "changed_at") == 0)
    r->changed_at = strtoll (v, NULL, 10);
  else if (strcmp (k, "last_error") == 0)
    snprintf (r->last_error, sizeof r->last_error, "%s", v);
}

/* Parses one copy of the record; 0 if it was whole. */
static int
parse (char *buf, struct health_report *r)
{
  char *line, *next, *eq;

  memset (r, 0, sizeof *r);
  for (line = buf; line && *line; line = next) {
    next = strchr (line, '\n');
    if (next == NULL)
      return -1;
    *next++ = '\0';
    if (strcmp (line, "end") == 0)
      return 0;
    if ((eq = strchr (line, '=')) == NULL)
      continue;
    *eq = '\0';
    set_field (r, line, eq + 1);
  }
  return -1;
}

int
health_read (const char *path, struct health_report *r)
{
  char buf[RECORD_SIZE + 1];
  ssize_t n;
  int fd, tries;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return -1;
  for (tries = 0; tries < 5; tries++) {
    n = pread (fd, buf, RECORD_SIZE, 0);
    if (n <= 0)
      break;
    buf[n] = '\0';
    if (parse (buf, r) == 0) {
      close (fd);
      return 0;
    }
    usleep (1000);
  }
  close (fd);
  return -1;
}
