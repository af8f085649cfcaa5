/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Fuzzing the swap header and the reading of /proc/swaps.  The input:
 * a byte choosing the page size (4 to 64 KiB) and whether there is a
 * label, 8 bytes of device size, 16 of UUID, then NUL-separated the
 * label, a device name, and the text of a /proc/swaps.  The header
 * must be exactly the kernel's version 1 layout for that size; the
 * swaps text is given to swap_active as a file.
 */

#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/swap.h>

#include "harness.h"
#include "swap.h"

#define OFF_VERSION 1024
#define OFF_LAST_PAGE 1028
#define OFF_NR_BADPAGES 1032
#define OFF_UUID 1036
#define OFF_LABEL 1052
#define LABEL_LEN 16
#define MAGIC "SWAPSPACE2"
#define MAGIC_LEN 10

static uint32_t
get_u32 (const unsigned char *p)
{
  uint32_t v;

  memcpy (&v, p, sizeof v);
  return v;
}

static bool
zeros (const unsigned char *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

static void
check_header (size_t pagesize, uint64_t size, const uint8_t *uuid,
              const char *label)
{
  unsigned char *page = malloc (pagesize);
  uint64_t pages = size / pagesize, last;
  size_t label_len = label ? strnlen (label, LABEL_LEN - 1) : 0;
  int r;

  if (page == NULL)
    abort ();
  memset (page, 0xa5, pagesize);
  r = swap_header_build (page, pagesize, size, uuid, label);
  if (pages < SWAP_MIN_PAGES) {
    if (r != -1)
      fuzz_fail ("a header for %llu pages of %zu", (unsigned long long) pages,
                 pagesize);
    free (page);
    return;
  }
  if (r == -1)
    fuzz_fail ("no header for %llu pages of %zu", (unsigned long long) pages,
               pagesize);

  last = pages - 1 > UINT32_MAX ? UINT32_MAX : pages - 1;
  if (!zeros (page, OFF_VERSION))
    fuzz_fail ("the boot block is not zeros");
  if (get_u32 (page + OFF_VERSION) != 1 ||
      get_u32 (page + OFF_LAST_PAGE) != last ||
      get_u32 (page + OFF_NR_BADPAGES) != 0)
    fuzz_fail ("version %u, last page %u (not %llu), %u bad pages",
               get_u32 (page + OFF_VERSION), get_u32 (page + OFF_LAST_PAGE),
               (unsigned long long) last, get_u32 (page + OFF_NR_BADPAGES));
  if (memcmp (page + OFF_UUID, uuid, SWAP_UUID_LEN) != 0)
    fuzz_fail ("the UUID is not the one given");
  if (memcmp (page + OFF_LABEL, label ? label : "", label_len) != 0 ||
      !zeros (page + OFF_LABEL + label_len, LABEL_LEN - label_len))
    fuzz_fail ("the label is not the first %zu bytes of '%s' and a NUL",
               label_len, label ? label : "(none)");
  if (!zeros (page + OFF_LABEL + LABEL_LEN,
              pagesize - MAGIC_LEN - OFF_LABEL - LABEL_LEN))
    fuzz_fail ("bytes between the label and the magic are not zeros");
  if (memcmp (page + pagesize - MAGIC_LEN, MAGIC, MAGIC_LEN) != 0)
    fuzz_fail ("no %s at %zu", MAGIC, pagesize - MAGIC_LEN);
  free (page);
}

static void
check_uuid_text (const uint8_t *uuid)
{
  char *text = malloc (37);
  size_t i;

  if (text == NULL)
    abort ();
  uuid_format (uuid, text);
  if (strlen (text) != 36)
    fuzz_fail ("UUID text '%s'", text);
  for (i = 0; i < 36; i++) {
    if ((i == 8 || i == 13 || i == 18 || i == 23) != (text[i] == '-') ||
        (text[i] != '-' && !strchr ("0123456789abcdef", text[i])))
      fuzz_fail ("UUID text '%s'", text);
  }
  free (text);
}

static void
check_flags (int priority, bool discard)
{
  int f = swap_flags (priority, discard);

  if (!!(f & SWAP_FLAG_DISCARD) != discard ||
      !!(f & SWAP_FLAG_PREFER) != (priority >= 0) ||
      (priority >= 0 &&
       (f & SWAP_FLAG_PRIO_MASK) >> SWAP_FLAG_PRIO_SHIFT != priority))
    fuzz_fail ("swap_flags (%d, %d) = %#x", priority, discard, f);
}

/* The swaps text, as a file swap_active can open.  It runs twice,
 * from different starting values, to tell what it filled in.
 */
static void
check_swaps (const char *text, size_t len, const char *dev)
{
  static int fd = -1;
  char path[64];
  uint64_t used[2] = { 0, UINT64_MAX };
  int prio[2] = { 0, -1 }, i;
  bool found[2];

  if (fd == -1)
    fd = memfd_create ("fuzz-swaps", MFD_CLOEXEC);
  if (fd == -1 || ftruncate (fd, 0) == -1 ||
      pwrite (fd, text, len, 0) != (ssize_t) len)
    abort ();
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  for (i = 0; i < 2; i++)
    found[i] = swap_active (path, dev, &used[i], &prio[i]);
  if (found[0] != found[1])
    fuzz_fail ("'%s' found once in two", dev);
  if (found[0] && (used[0] != used[1] || prio[0] != prio[1]))
    fuzz_fail ("'%s' found, but used or priority not filled in", dev);
  if (found[0] && memmem (text, len, dev, strlen (dev)) == NULL)
    fuzz_fail ("'%s' found in swaps that do not name it", dev);
  if (!found[0] && (used[0] != 0 || used[1] != UINT64_MAX ||
                    prio[0] != 0 || prio[1] != -1))
    fuzz_fail ("'%s' not found, but used or priority filled in", dev);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fuzz_input in = { data, size, 0 };
  uint8_t flags = take_u8 (&in);
  size_t pagesize = (size_t) 4096 << (flags % 5);
  uint64_t dev_size = take_u64 (&in);
  uint8_t uuid[SWAP_UUID_LEN];
  char *rest, *label, *dev, *swaps;
  size_t i, left;

  for (i = 0; i < SWAP_UUID_LEN; i++)
    uuid[i] = take_u8 (&in);
  /* Small sizes are where the limits are. */
  if (flags & 0x10)
    dev_size %= (uint64_t) pagesize * 16;

  /* label NUL dev NUL swaps, in a copy with a NUL after it all. */
  left = input_left (&in);
  rest = malloc (left + 1);
  if (rest == NULL)
    abort ();
  memcpy (rest, data + in.pos, left);
  rest[left] = '\0';
  label = rest;
  dev = label + strlen (label);
  dev += dev < rest + left;
  swaps = dev + strlen (dev);
  swaps += swaps < rest + left;

  check_header (pagesize, dev_size, uuid, flags & 0x08 ? NULL : label);
  check_uuid_text (uuid);
  check_flags ((int) (dev_size % 32769) - 1, flags & 0x20);
  check_swaps (swaps, rest + left - swaps, dev);
  free (rest);
  return 0;
}
