/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Making a device into swap: the header mkswap(8) would write, and
 * swapon(2).
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/swap.h>

#include "swap.h"
#include "report.h"

/* The kernel's union swap_header, version 1 (include/linux/swap.h). */
#define OFF_VERSION 1024
#define OFF_LAST_PAGE 1028
#define OFF_NR_BADPAGES 1032
#define OFF_UUID 1036
#define OFF_LABEL 1052
#define MAGIC "SWAPSPACE2"

static void
put_u32 (unsigned char *p, uint32_t v)
{
  memcpy (p, &v, sizeof v);     /* the kernel reads it in CPU order */
}

int
swap_header_build (unsigned char *page, size_t pagesize, uint64_t size,
                   const uint8_t uuid[SWAP_UUID_LEN], const char *label)
{
  uint64_t pages = size / pagesize;

  if (pages < SWAP_MIN_PAGES) {
    dram_error ("%llu bytes is too small for swap (at least %d pages of "
                "%zu bytes)", (unsigned long long) size, SWAP_MIN_PAGES,
                pagesize);
    return -1;
  }
  /* The header counts pages in 32 bits. */
  if (pages - 1 > UINT32_MAX)
    pages = (uint64_t) UINT32_MAX + 1;
  memset (page, 0, pagesize);
  put_u32 (page + OFF_VERSION, 1);
  put_u32 (page + OFF_LAST_PAGE, pages - 1);
  put_u32 (page + OFF_NR_BADPAGES, 0);
  memcpy (page + OFF_UUID, uuid, SWAP_UUID_LEN);
  if (label)
    strncpy ((char *) page + OFF_LABEL, label, 15);
  memcpy (page + pagesize - strlen (MAGIC), MAGIC, strlen (MAGIC));
  return 0;
}

int
swap_header_write (int fd, const char *dev, uint64_t size,
                   const uint8_t uuid[SWAP_UUID_LEN], const char *label)
{
  long pagesize = sysconf (_SC_PAGESIZE);
  unsigned char *page = malloc (pagesize);
  int r = -1;

  if (page == NULL) {
    dram_error ("malloc: %m");
    return -1;
  }
  if (swap_header_build (page, pagesize, size, uuid, label) == -1)
    goto out;
  if (pwrite (fd, page, pagesize, 0) != pagesize) {
    dram_error ("%s: writing the swap header: %m", dev);
    goto out;
  }
  if (fsync (fd) == -1) {
    dram_error ("%s: fsync: %m", dev);
    goto out;
  }
  r = 0;
 out:
  free (page);
  return r;
}

int
uuid_generate_v4 (uint8_t uuid[SWAP_UUID_LEN])
{
  if (getrandom (uuid, SWAP_UUID_LEN, 0) != SWAP_UUID_LEN) {
    dram_error ("getrandom: %m");
    return -1;
  }
  uuid[6] = (uuid[6] & 0x0f) | 0x40;    /* version 4 */
  uuid[8] = (uuid[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
  return 0;
}

void
uuid_format (const uint8_t u[SWAP_UUID_LEN], char *buf)
{
  sprintf (buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
           u[10], u[11], u[12], u[13], u[14], u[15]);
}

int
swap_flags (int priority, bool discard)
{
  int flags = 0;

  if (priority >= 0)
    flags |= SWAP_FLAG_PREFER |
             ((priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
  if (discard)
    flags |= SWAP_FLAG_DISCARD;
  return flags;
}

int
swap_on (const char *dev, int priority, bool discard)
{
  if (swapon (dev, swap_flags (priority, discard)) == -1) {
    dram_error ("swapon %s: %m", dev);
    return -1;
  }
  return 0;
}

int
swap_off (const char *dev)
{
  if (swapoff (dev) == -1) {
    if (errno == ENOMEM)
      dram_error ("swapoff %s: not enough memory to take the pages back "
                  "(free some memory and try again)", dev);
    else
      dram_error ("swapoff %s: %m", dev);
    return -1;
  }
  return 0;
}

/* /proc/swaps escapes spaces and such in paths as \040; device paths
 * here have none, so a plain comparison is right.
 */
bool
swap_active (const char *swaps, const char *dev, uint64_t *used_kib,
             int *priority)
{
  FILE *fp = fopen (swaps ? swaps : "/proc/swaps", "re");
  char name[4096], type[32];
  unsigned long long size, used;
  int prio;
  bool found = false;

  if (fp == NULL)
    return false;
  /* Skip the heading line. */
  if (fscanf (fp, "%*[^\n]\n") == EOF)
    goto out;
  while (fscanf (fp, "%4095s %31s %llu %llu %d\n",
                 name, type, &size, &used, &prio) == 5) {
    if (strcmp (name, dev) == 0) {
      found = true;
      if (used_kib)
        *used_kib = used;
      if (priority)
        *priority = prio;
      break;
    }
  }
 out:
  fclose (fp);
  return found;
}
