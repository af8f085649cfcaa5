/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Fuzzing the region.  The first byte of the input chooses the
 * backing (malloc, memfd, or a nameless file in /dev/shm), mlock= and
 * reserve=, and for malloc whether reads go by the map of pages written
 * (which kernels whose read faults allocate use; forced here on any
 * kernel); the second its size, 1 to 256 pages.  The rest is a
 * sequence of reads, writes, zeroes, caches, extents and flushes at
 * fuzzed offsets, in range and out of it.  A shadow copy kept here
 * says what every byte must read as: a read that differs, a zero that
 * does not read back as zeros, an extent that calls data a hole or
 * leaves part of the request out, or a request outside the region
 * that is not refused with EINVAL, is a finding.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include "harness.h"
#include "params.h"
#include "region.h"

#define PAGE 4096
#define MAX_PAGES 256
#define MAX_OPS 256
#define SHM_DIR "/dev/shm"

/* ASan's munlock does nothing (it intercepts mlock and munlock), so
 * the kernel would refuse to give locked pages back: under ASan,
 * mlock=true is left to the regression test's build.
 */
#if defined __has_feature
#if __has_feature (address_sanitizer)
#define NO_MUNLOCK 1
#endif
#endif
#if defined __SANITIZE_ADDRESS__ && !defined NO_MUNLOCK
#define NO_MUNLOCK 1
#endif
#ifndef NO_MUNLOCK
#define NO_MUNLOCK 0
#endif

static uint8_t shadow[MAX_PAGES * PAGE];

enum op { OP_READ, OP_WRITE, OP_ZERO, OP_CACHE, OP_EXTENTS, OP_FLUSH };

/* The low 3 bits of an operation's byte: writes and zeroes twice as
 * likely as the rest.
 */
static const enum op ops[8] = {
  OP_READ, OP_WRITE, OP_ZERO, OP_CACHE, OP_EXTENTS, OP_FLUSH,
  OP_WRITE, OP_ZERO,
};

static const char *const op_names[] = {
  [OP_READ] = "read", [OP_WRITE] = "write", [OP_ZERO] = "zero",
  [OP_CACHE] = "cache", [OP_EXTENTS] = "extents", [OP_FLUSH] = "flush",
};

/* The file backing needs a tmpfs; without one it becomes memfd. */
static bool
have_shm (void)
{
  static int have = -1;
  struct statfs sfs;

  if (have == -1)
    have = statfs (SHM_DIR, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
  return have;
}

static void
set (struct dram_params *p, const char *key, const char *value)
{
  if (params_set (p, key, value) == -1)
    fuzz_fail ("%s=%s refused", key, value);
}

static void
open_region (struct region *r, struct dram_params *p, uint8_t config,
             uint64_t size)
{
  static const char *const backings[] = { "malloc", "memfd", "file" };
  unsigned b = config % 3;
  char size_str[32];

  if (b == 2 && !have_shm ())
    b = 1;
  snprintf (size_str, sizeof size_str, "%llu", (unsigned long long) size);
  memset (p, 0, sizeof *p);
  set (p, "size", size_str);
  set (p, "backing", backings[b]);
  if (b == 2)
    set (p, "dir", SHM_DIR);
  if ((config & 4) && !NO_MUNLOCK)
    set (p, "mlock", "true");
  if (config & 8)
    set (p, "reserve", "true");
  if (params_check (p, UINT64_MAX) == -1)
    fuzz_fail ("params_check refused a %s region", backings[b]);
  if (region_open (r, p) == -1 || region_map (r) == -1)
    fuzz_fail ("cannot open a %s region of %s bytes: %m", backings[b],
               size_str);
  if (b == 0 && (config & 16) && r->written == NULL &&
      region_track_written (r) == -1)
    fuzz_fail ("cannot track the pages written");
}

/* OFFSET and COUNT of one request, by one of four recipes. */
static void
choose_range (struct fuzz_input *in, unsigned recipe, uint64_t size,
              uint64_t *offset, uint32_t *count)
{
  uint64_t pages = size / PAGE;

  switch (recipe) {
  case 0:                       /* anywhere in the region */
    *offset = take_u32 (in) % (size + 1);
    *count = take_u32 (in) % (size - *offset + 1);
    break;
  case 1:                       /* near page boundaries, or before 0 */
    *offset = take_u8 (in) % (pages + 1) * PAGE;
    *offset += (uint64_t) (int64_t) (int8_t) take_u8 (in);
    *count = take_u8 (in) % (pages + 2) * PAGE;
    *count += (uint32_t) (int32_t) (int8_t) take_u8 (in);
    break;
  case 2:                       /* around the end */
    *offset = size - take_u32 (in) % (2 * PAGE + 1);
    *count = take_u32 (in) % (3 * PAGE + 1);
    break;
  default:                      /* anything at all */
    *offset = take_u64 (in);
    *count = take_u32 (in);
    break;
  }
}

/* What a write writes: zeros for seed 0, else bytes from the seed. */
static void
fill (uint8_t *buf, uint32_t count, uint8_t seed, uint64_t offset)
{
  uint32_t x = seed * 2654435761u + (uint32_t) offset, i;

  if (seed == 0) {
    memset (buf, 0, count);
    return;
  }
  for (i = 0; i < count; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = x >> 16;
  }
}

static bool
all_zero (const uint8_t *p, uint64_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* What region_extents has reported so far for one request. */
struct extents_seen {
  uint64_t next;                /* where the next run must start */
  uint64_t end;                 /* the end of the request */
  unsigned calls;
  unsigned fail_at;             /* return -1 on this call; 0: never */
};

static int
extent (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  struct extents_seen *s = opaque;

  if (s->fail_at && s->calls == s->fail_at)
    fuzz_fail ("extents went on after the callback failed");
  s->calls++;
  if (offset != s->next)
    fuzz_fail ("extent at %llu, expected at %llu",
               (unsigned long long) offset, (unsigned long long) s->next);
  if (length == 0 || length > s->end - offset)
    fuzz_fail ("extent of %llu bytes at %llu, the request ends at %llu",
               (unsigned long long) length, (unsigned long long) offset,
               (unsigned long long) s->end);
  if (hole && !all_zero (shadow + offset, length))
    fuzz_fail ("extent of %llu bytes at %llu is called a hole but holds "
               "data", (unsigned long long) length,
               (unsigned long long) offset);
  s->next = offset + length;
  return s->calls == s->fail_at ? -1 : 0;
}

/* Extents of a request in range cover it all: the region is far
 * smaller than the most one call reports.
 */
static void
check_extents (struct region *r, uint32_t count, uint64_t offset,
               unsigned fail_at)
{
  struct extents_seen s = { offset, offset + count, 0, fail_at };
  int ret = region_extents (r, count, offset, extent, &s);

  if (fail_at && s.calls == fail_at) {
    if (ret != -1)
      fuzz_fail ("extents ignored its callback's error");
    return;
  }
  if (ret == -1)
    fuzz_fail ("extents of %u bytes at %llu failed: %m", count,
               (unsigned long long) offset);
  if (s.next != s.end)
    fuzz_fail ("extents of %u bytes at %llu stopped at %llu", count,
               (unsigned long long) offset, (unsigned long long) s.next);
}

static void
check_read (struct region *r, uint32_t count, uint64_t offset)
{
  uint8_t *buf = malloc (count ? count : 1);

  if (buf == NULL)
    abort ();
  if (region_read (r, buf, count, offset) == -1)
    fuzz_fail ("read of %u bytes at %llu failed: %m", count,
               (unsigned long long) offset);
  if (memcmp (buf, shadow + offset, count) != 0)
    fuzz_fail ("read of %u bytes at %llu differs from what was written",
               count, (unsigned long long) offset);
  free (buf);
}

/* A request outside the region: refused, with EINVAL, touching
 * nothing (BUF is smaller than COUNT, so ASan sees any copy).
 */
static void
check_refused (struct region *r, enum op op, uint32_t count, uint64_t offset,
               uint64_t size)
{
  size_t len = count < size ? count : size;
  uint8_t *buf = calloc (1, len ? len : 1);
  struct extents_seen s = { offset, offset, 0, 0 };
  int ret = 0;

  if (buf == NULL)
    abort ();
  errno = 0;
  switch (op) {
  case OP_READ: ret = region_read (r, buf, count, offset); break;
  case OP_WRITE: ret = region_write (r, buf, count, offset, false); break;
  case OP_ZERO: ret = region_zero (r, count, offset); break;
  case OP_CACHE: ret = region_cache (r, count, offset); break;
  case OP_EXTENTS:
    ret = region_extents (r, count, offset, extent, &s);
    if (s.calls)
      fuzz_fail ("extents outside the region reported a run");
    break;
  case OP_FLUSH: ret = -1; errno = EINVAL; break;
  }
  if (ret != -1 || errno != EINVAL)
    fuzz_fail ("%s of %u bytes at %llu, outside the region of %llu, "
               "returned %d (%m)", op_names[op], count,
               (unsigned long long) offset, (unsigned long long) size, ret);
  free (buf);
}

static void
do_op (struct region *r, struct fuzz_input *in, uint64_t size)
{
  uint8_t code = take_u8 (in);
  enum op op = ops[code & 7];
  uint64_t offset;
  uint32_t count;
  uint8_t *buf;

  if (op == OP_FLUSH) {
    fuzz_trace ("flush");
    if (region_flush (r) == -1)
      fuzz_fail ("flush failed: %m");
    return;
  }
  choose_range (in, (code >> 3) & 3, size, &offset, &count);
  fuzz_trace ("%s of %u bytes at %llu", op_names[op], count,
              (unsigned long long) offset);
  if (offset > size || count > size - offset) {
    check_refused (r, op, count, offset, size);
    return;
  }

  switch (op) {
  case OP_READ:
    check_read (r, count, offset);
    break;
  case OP_WRITE:
    buf = malloc (count ? count : 1);
    if (buf == NULL)
      abort ();
    fill (buf, count, take_u8 (in), offset);
    if (region_write (r, buf, count, offset, code & 0x20) == -1)
      fuzz_fail ("write of %u bytes at %llu failed: %m", count,
                 (unsigned long long) offset);
    memcpy (shadow + offset, buf, count);
    free (buf);
    break;
  case OP_ZERO:
    if (region_zero (r, count, offset) == -1)
      fuzz_fail ("zero of %u bytes at %llu failed: %m", count,
                 (unsigned long long) offset);
    memset (shadow + offset, 0, count);
    break;
  case OP_CACHE:
    if (region_cache (r, count, offset) == -1)
      fuzz_fail ("cache of %u bytes at %llu failed: %m", count,
                 (unsigned long long) offset);
    break;
  case OP_EXTENTS:
    check_extents (r, count, offset, take_u8 (in) % 8);
    break;
  case OP_FLUSH:
    break;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fuzz_input in = { data, size, 0 };
  struct dram_params p;
  struct region r;
  uint8_t config = take_u8 (&in);
  uint64_t region_size = (take_u8 (&in) + UINT64_C (1)) * PAGE;
  unsigned i;

  fuzz_trace ("region: %s, %llu bytes", config % 3 == 0 ? "malloc" :
              config % 3 == 1 ? "memfd" : "file",
              (unsigned long long) region_size);
  open_region (&r, &p, config, region_size);
  memset (shadow, 0, region_size);
  for (i = 0; i < MAX_OPS && input_left (&in) > 0; i++)
    do_op (&r, &in, region_size);

  /* Nothing outside the requests changed. */
  check_read (&r, region_size, 0);
  check_extents (&r, region_size, 0, 0);

  region_close (&r);
  params_free (&p);
  return 0;
}
