/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Giving the region its identity (common/identity.h).  A region in
 * memory is new at every start.  A file region that is reused keeps
 * the identity written beside it, in FILE.dram-id, when the region was
 * made, if it is reused under the export name recorded there too; a
 * file made now, one found without that record (or with a record from
 * before records named their owner), or one opened under another name,
 * gets a new identity, so a recipient never takes it for the data it
 * wrote.  (On hugetlbfs there can be no record: every start is new.)
 *
 * The record is one line: "ID SIZE n:HEX", HEX the export name's bytes
 * in hex ("n:" for the default export), so that no name can break the
 * line or reach the file system.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"
#include "region.h"
#include "report.h"


static void
record_path (const char *file, char *buf, size_t len)
{
  snprintf (buf, len, "%s" REGION_RECORD_SUFFIX, file);
}

/* A record line: the identity, the size, "n:" and the name in hex. */
#define LINE_MAX_LEN (IDENTITY_LEN + 1 + 20 + 3 + 2 * RECORD_NAME_MAX + 2)

static int
hex_value (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* The name that HEX spells (up to a newline), in NAME (at least
 * RECORD_NAME_MAX + 1 bytes); -1 when it is not one.
 */
static int
unhex (const char *hex, char *name)
{
  size_t n = 0;
  int hi, lo;

  while (*hex != '\0' && *hex != '\n') {
    hi = hex_value (hex[0]);
    lo = hi == -1 ? -1 : hex_value (hex[1]);
    if (lo == -1 || n == RECORD_NAME_MAX)
      return -1;
    /* A name is a string: it has no NUL byte. */
    if ((name[n++] = (char) (hi << 4 | lo)) == '\0')
      return -1;
    hex += 2;
  }
  name[n] = '\0';
  return 0;
}

int
region_record_read (const char *path, char *id, uint64_t *size, char *name)
{
  char found[IDENTITY_LEN + 1], *line;
  int used = 0, ok;
  FILE *fp = fopen (path, "re");

  if (fp == NULL) {
    if (errno != ENOENT)
      dram_error ("%s: %m", path);
    return -1;
  }
  line = malloc (LINE_MAX_LEN + 1);
  ok = line != NULL && fgets (line, LINE_MAX_LEN + 1, fp) != NULL &&
       sscanf (line, "%32s %" SCNu64 " n:%n", found, size, &used) == 2 &&
       used > 0 && identity_valid (found) && unhex (line + used, name) == 0;
  free (line);
  fclose (fp);
  if (!ok)
    return -1;
  memcpy (id, found, sizeof found);
  return 0;
}

/* The identity recorded for a region of this size and owner, or -1. */
static int
read_record (struct region *r, const char *path, const char *owner)
{
  char id[IDENTITY_LEN + 1], *name;
  uint64_t size;
  int ok;

  name = malloc (RECORD_NAME_MAX + 1);
  if (name == NULL)
    return -1;
  ok = region_record_read (path, id, &size, name) == 0 &&
       size == r->size && strcmp (name, owner) == 0;
  free (name);
  if (!ok)
    return -1;
  memcpy (r->id, id, sizeof id);
  return 0;
}

static int
write_record (const struct region *r, const char *path, const char *owner)
{
  char tmp[4096 + 16];
  FILE *fp;
  size_t i;
  int fd;

  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  /* The owner's name is what gives access to the region: 0600. */
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  fp = fd == -1 ? NULL : fdopen (fd, "w");
  if (fp == NULL) {
    if (fd != -1)
      close (fd);
    dram_error ("cannot record the region's identity in %s: %m", tmp);
    return -1;
  }
  fprintf (fp, "%s %" PRIu64 " n:", r->id, r->size);
  for (i = 0; owner[i] != '\0'; i++)
    fprintf (fp, "%02x", (unsigned char) owner[i]);
  fputc ('\n', fp);
  if (fclose (fp) == EOF || rename (tmp, path) == -1) {
    dram_error ("cannot record the region's identity in %s: %m", path);
    unlink (tmp);
    return -1;
  }
  return 0;
}

int
region_identify (struct region *r, const char *file, const char *owner,
                 bool keep)
{
  char path[4096];

  if (owner == NULL)
    owner = "";
  if (file == NULL)
    return identity_new (r->id);
  /* hugetlbfs files take no write(2), so nothing can be kept beside
   * them: each start is a new region to recipients (safe, if sad).
   */
  if (r->granularity > 4096) {
    dram_debug ("file=%s: on hugetlbfs the region's identity cannot be "
                "recorded: recipients will treat a restarted donor as new "
                "memory", file);
    return identity_new (r->id);
  }
  record_path (file, path, sizeof path);
  if (keep && read_record (r, path, owner) == 0) {
    dram_debug ("file=%s: region %s, kept", file, r->id);
    r->kept = true;
    return 0;
  }
  if (keep)
    dram_debug ("file=%s: no identity recorded for it under this export "
                "name: a new one, and its old contents wiped", file);
  if (identity_new (r->id) == -1)
    return -1;
  return write_record (r, path, owner);
}

void
region_forget_identity (const char *file)
{
  char path[4096];

  if (file == NULL)
    return;
  record_path (file, path, sizeof path);
  unlink (path);
}
