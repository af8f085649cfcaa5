/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Reading the kernel's memory figures. */

#include <config.h>

#include <stdio.h>
#include <string.h>

#include "meminfo.h"
#include "report.h"

int
meminfo_get (const char *path, const char *field, uint64_t *ret)
{
  FILE *fp;
  char line[256];
  size_t len = strlen (field);
  unsigned long long kib;
  int r = -1;

  if (path == NULL)
    path = "/proc/meminfo";
  fp = fopen (path, "re");
  if (fp == NULL) {
    dram_error ("%s: %m", path);
    return -1;
  }
  while (fgets (line, sizeof line, fp) != NULL) {
    if (strncmp (line, field, len) != 0 || line[len] != ':')
      continue;
    if (sscanf (line + len + 1, " %llu kB", &kib) != 1)
      break;
    *ret = (uint64_t) kib * 1024;
    r = 0;
    break;
  }
  fclose (fp);
  if (r == -1)
    dram_error ("%s: no readable %s line", path, field);
  return r;
}
