/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Giving the region its identity (common/identity.h).  A region in
 * memory is new at every start.  A file= region that is reused keeps
 * the identity written beside it, in FILE.dram-id, when the region was
 * made; a file made now, or one found without that record, gets a new
 * identity, so a recipient never takes it for the data it wrote.  (On
 * hugetlbfs there can be no record: every start is new.)
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

#define SUFFIX ".dram-id"

static void
record_path (const char *file, char *buf, size_t len)
{
  snprintf (buf, len, "%s" SUFFIX, file);
}

/* The identity recorded for a region of this size, or -1. */
static int
read_record (struct region *r, const char *path)
{
  char line[128], id[IDENTITY_LEN + 1];
  uint64_t size;
  FILE *fp = fopen (path, "re");
  int ok;

  if (fp == NULL) {
    if (errno != ENOENT)
      dram_error ("%s: %m", path);
    return -1;
  }
  ok = fgets (line, sizeof line, fp) != NULL &&
       sscanf (line, "%32s %" SCNu64, id, &size) == 2 &&
       identity_valid (id) && size == r->size;
  fclose (fp);
  if (!ok)
    return -1;
  memcpy (r->id, id, sizeof id);
  return 0;
}

static int
write_record (const struct region *r, const char *path)
{
  char tmp[4096 + 16];
  FILE *fp;

  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  fp = fopen (tmp, "we");
  if (fp == NULL) {
    dram_error ("cannot record the region's identity in %s: %m", tmp);
    return -1;
  }
  fprintf (fp, "%s %" PRIu64 "\n", r->id, r->size);
  if (fclose (fp) == EOF || rename (tmp, path) == -1) {
    dram_error ("cannot record the region's identity in %s: %m", path);
    unlink (tmp);
    return -1;
  }
  return 0;
}

int
region_identify (struct region *r, const char *file, bool keep)
{
  char path[4096];

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
  if (keep && read_record (r, path) == 0) {
    dram_debug ("file=%s: region %s, kept", file, r->id);
    return 0;
  }
  if (keep)
    dram_debug ("file=%s: no identity recorded for it: a new one, so "
                "recipients will not trust its old contents", file);
  if (identity_new (r->id) == -1)
    return -1;
  return write_record (r, path);
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
