/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The record of each attach (see state.h).  One file per device,
 * "key=value" lines, replaced atomically.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "report.h"
#include "state.h"

const char *
state_dir (void)
{
  const char *d = getenv ("DRAM_RUNDIR");

  return d && *d ? d : "/run/dram";
}

/* DIR/nbd0.state for /dev/nbd0; for a swap file (nfs mode), its path
 * with '/' as '-': DIR/run-dram-nfs-NAME-dram-swap.state.
 */
static void
state_path (const char *device, char *buf, size_t len, const char *suffix)
{
  const char *base = strrchr (device, '/');
  char key[512], *p;

  if (strncmp (device, "/dev/", 5) == 0 || base == NULL)
    snprintf (key, sizeof key, "%s", base ? base + 1 : device);
  else {
    snprintf (key, sizeof key, "%s", device + (device[0] == '/'));
    for (p = key; *p; p++)
      if (*p == '/')
        *p = '-';
  }
  snprintf (buf, len, "%s/%s.state%s", state_dir (), key, suffix);
}

int
state_save (const struct attach_state *s)
{
  char path[4096], tmp[4096];
  FILE *fp;
  int fd;

  if (mkdir (state_dir (), 0755) == -1 && errno != EEXIST) {
    dram_error ("%s: %m", state_dir ());
    return -1;
  }
  state_path (s->device, path, sizeof path, "");
  state_path (s->device, tmp, sizeof tmp, ".tmp");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  fp = fd == -1 ? NULL : fdopen (fd, "w");
  if (fp == NULL) {
    dram_error ("%s: %m", tmp);
    if (fd != -1)
      close (fd);
    return -1;
  }
  fprintf (fp,
           "device=%s\nmode=%s\ndonor=%s\nexport=%s\nsize=%" PRIu64 "\n"
           "connections=%u\nhandover=%s\ntls=%s\npid=%d\ndoit_pid=%d\nswap=%d\n"
           "priority=%d\ndiscard=%d\nuuid=%s\nlabel=%s\nmountpoint=%s\n"
           "fstab=%s\nhealth=%s\nmonitor_pid=%d\nattached_at=%" PRId64 "\n",
           s->device, s->mode, s->donor, s->export_name, s->size,
           s->connections, s->handover, s->tls, (int) s->pid, (int) s->doit_pid,
           s->swap,
           s->priority, s->discard, s->uuid, s->label, s->mountpoint,
           s->fstab, s->health, (int) s->monitor_pid, s->attached_at);
  if (s->have_capacity)
    fprintf (fp, "donor_size=%" PRIu64 "\ndonor_region=%" PRIu64 "\n"
             "donor_free=%" PRIu64 "\ndonor_regions=%u\n", s->donor_size,
             s->donor_region, s->donor_free, s->donor_regions);
  if (fclose (fp) == EOF || rename (tmp, path) == -1) {
    dram_error ("%s: %m", path);
    unlink (tmp);
    return -1;
  }
  return 0;
}

static void
copy (char *dst, size_t len, const char *v)
{
  snprintf (dst, len, "%s", v);
}

static void
set_field (struct attach_state *s, const char *k, const char *v)
{
  if (strcmp (k, "device") == 0) copy (s->device, sizeof s->device, v);
  else if (strcmp (k, "mode") == 0) copy (s->mode, sizeof s->mode, v);
  else if (strcmp (k, "donor") == 0) copy (s->donor, sizeof s->donor, v);
  else if (strcmp (k, "export") == 0)
    copy (s->export_name, sizeof s->export_name, v);
  else if (strcmp (k, "size") == 0) s->size = strtoull (v, NULL, 10);
  else if (strcmp (k, "connections") == 0) s->connections = atoi (v);
  else if (strcmp (k, "handover") == 0)
    copy (s->handover, sizeof s->handover, v);
  else if (strcmp (k, "tls") == 0) copy (s->tls, sizeof s->tls, v);
  else if (strcmp (k, "pid") == 0) s->pid = atoi (v);
  else if (strcmp (k, "doit_pid") == 0) s->doit_pid = atoi (v);
  else if (strcmp (k, "monitor_pid") == 0) s->monitor_pid = atoi (v);
  else if (strcmp (k, "swap") == 0) s->swap = atoi (v);
  else if (strcmp (k, "priority") == 0) s->priority = atoi (v);
  else if (strcmp (k, "discard") == 0) s->discard = atoi (v);
  else if (strcmp (k, "uuid") == 0) copy (s->uuid, sizeof s->uuid, v);
  else if (strcmp (k, "label") == 0) copy (s->label, sizeof s->label, v);
  else if (strcmp (k, "mountpoint") == 0)
    copy (s->mountpoint, sizeof s->mountpoint, v);
  else if (strcmp (k, "fstab") == 0) copy (s->fstab, sizeof s->fstab, v);
  else if (strcmp (k, "health") == 0) copy (s->health, sizeof s->health, v);
  else if (strcmp (k, "attached_at") == 0)
    s->attached_at = strtoll (v, NULL, 10);
  else if (strcmp (k, "donor_size") == 0) {
    s->donor_size = strtoull (v, NULL, 10);
    s->have_capacity = s->donor_size > 0;
  }
  else if (strcmp (k, "donor_region") == 0)
    s->donor_region = strtoull (v, NULL, 10);
  else if (strcmp (k, "donor_free") == 0)
    s->donor_free = strtoull (v, NULL, 10);
  else if (strcmp (k, "donor_regions") == 0)
    s->donor_regions = atoi (v);
}

int
state_load (const char *device, struct attach_state *s)
{
  char path[4096], line[4096], *eq, *nl;
  FILE *fp;

  memset (s, 0, sizeof *s);
  state_path (device, path, sizeof path, "");
  fp = fopen (path, "re");
  if (fp == NULL) {
    if (errno == ENOENT)
      return 1;
    dram_error ("%s: %m", path);
    return -1;
  }
  while (fgets (line, sizeof line, fp) != NULL) {
    if ((nl = strchr (line, '\n')) != NULL)
      *nl = '\0';
    if ((eq = strchr (line, '=')) == NULL)
      continue;
    *eq = '\0';
    set_field (s, line, eq + 1);
  }
  fclose (fp);
  if (s->device[0] == '\0') {
    dram_error ("%s: no device= line", path);
    return -1;
  }
  return 0;
}

int
state_remove (const char *device)
{
  char path[4096];

  state_path (device, path, sizeof path, "");
  if (unlink (path) == -1 && errno != ENOENT) {
    dram_error ("%s: %m", path);
    return -1;
  }
  return 0;
}

static int
compare (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The device= line of the state file NAME in DIR, or NULL. */
static char *
read_device (const char *dir, const char *name)
{
  char path[4096], line[4096], *dev = NULL, *nl;
  FILE *fp;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fp = fopen (path, "re");
  if (fp == NULL)
    return NULL;
  while (dev == NULL && fgets (line, sizeof line, fp) != NULL) {
    if (strncmp (line, "device=", 7) != 0)
      continue;
    if ((nl = strchr (line, '\n')) != NULL)
      *nl = '\0';
    dev = strdup (line + 7);
  }
  fclose (fp);
  return dev;
}

char **
state_list (size_t *n)
{
  DIR *dir = opendir (state_dir ());
  struct dirent *e;
  char **list = NULL, **grown, *dev;
  size_t len;

  *n = 0;
  if (dir == NULL) {
    if (errno == ENOENT)
      return calloc (1, sizeof *list);
    dram_error ("%s: %m", state_dir ());
    return NULL;
  }
  while ((e = readdir (dir)) != NULL) {
    len = strlen (e->d_name);
    if (len <= 6 || strcmp (e->d_name + len - 6, ".state") != 0)
      continue;
    /* A record names its device (a file without one, by its name). */
    dev = read_device (state_dir (), e->d_name);
    if (dev == NULL && asprintf (&dev, "/dev/%.*s", (int) len - 6,
                                 e->d_name) == -1)
      dev = NULL;
    grown = dev ? realloc (list, (*n + 2) * sizeof *list) : NULL;
    if (grown == NULL) {
      dram_error ("out of memory");
      free (dev);
      state_list_free (list, *n);
      closedir (dir);
      return NULL;
    }
    list = grown;
    list[(*n)++] = dev;
  }
  closedir (dir);
  if (list == NULL)
    return calloc (1, sizeof *list);
  qsort (list, *n, sizeof *list, compare);
  return list;
}

void
state_list_free (char **list, size_t n)
{
  size_t i;

  for (i = 0; list && i < n; i++)
    free (list[i]);
  free (list);
}
