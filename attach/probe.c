/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Looking at a region before writing a swap header over it: a region
 * that holds a signature is someone's (another recipient's swap, when
 * two were given one export name), and must not be overwritten
 * unasked.
 */

#include <config.h>

#include <stdio.h>
#include <string.h>

#include <blkid.h>

#include "probe.h"
#include "report.h"

/* VALUE of the probe's NAME, or NULL. */
static const char *
lookup (blkid_probe pr, const char *name)
{
  const char *value = NULL;

  if (blkid_probe_lookup_value (pr, name, &value, NULL) != 0)
    return NULL;
  return value;
}

int
probe_contents (const char *device, char *what, size_t len)
{
  blkid_probe pr = blkid_new_probe_from_filename (device);
  const char *type, *uuid, *pttype;
  int r;

  if (pr == NULL) {
    dram_error ("%s: cannot probe what it holds: %m", device);
    return -1;
  }
  blkid_probe_enable_superblocks (pr, 1);
  blkid_probe_set_superblocks_flags (pr, BLKID_SUBLKS_TYPE |
                                     BLKID_SUBLKS_UUID);
  blkid_probe_enable_partitions (pr, 1);
  r = blkid_do_safeprobe (pr);
  if (r == 1) {
    blkid_free_probe (pr);
    return 0;
  }
  if (r == -2) {
    snprintf (what, len, "several signatures");
    blkid_free_probe (pr);
    return 1;
  }
  if (r != 0) {
    dram_error ("%s: cannot probe what it holds", device);
    blkid_free_probe (pr);
    return -1;
  }
  type = lookup (pr, "TYPE");
  uuid = lookup (pr, "UUID");
  pttype = lookup (pr, "PTTYPE");
  if (type && strcmp (type, "swap") == 0)
    snprintf (what, len, "swap%s%s", uuid ? " UUID " : "", uuid ? uuid : "");
  else if (type)
    snprintf (what, len, "a %s signature%s%s", type, uuid ? " UUID " : "",
              uuid ? uuid : "");
  else
    snprintf (what, len, "a %s partition table", pttype ? pttype : "");
  blkid_free_probe (pr);
  return 1;
}
