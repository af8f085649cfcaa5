/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The data path.  Requests run in parallel on nbdkit's threads and
 * share no lock: reads and writes are copies into the mapping (reads
 * of fd-backed regions use pread, which returns holes as zeros without
 * allocating a page for them; so do reads of the malloc backing where a
 * read fault would allocate, see read_written), and zero/trim hand
 * whole granules back to the kernel.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "guard.h"
#include "region.h"
#include "report.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define PAGE 4096
/* Bound on the work of one extents call; the client asks again. */
#define EXTENTS_MAX_PAGES 32768

static int
check_range (const struct region *r, uint64_t count, uint64_t offset)
{
  if (offset > r->size || count > r->size - offset) {
    errno = EINVAL;
    dram_error ("request of %" PRIu64 " bytes at offset %" PRIu64
                " is outside the region of %" PRIu64 " bytes",
                count, offset, r->size);
    return -1;
  }
  return 0;
}

#define WORD_BITS (8 * sizeof (unsigned long))

/* Where read faults allocate (backing.c), R->written has a bit for each
 * page of the malloc backing written since it was last given back:
 * sets (ON) or clears the bits of pages FIRST to LAST, a word at a time.
 */
static void
mark_pages (struct region *r, uint64_t first, uint64_t last, bool on)
{
  uint64_t bit, n;
  unsigned long mask;

  while (first <= last) {
    bit = first % WORD_BITS;
    n = last - first + 1 < WORD_BITS - bit ? last - first + 1
                                           : WORD_BITS - bit;
    mask = n == WORD_BITS ? ~0UL : ((1UL << n) - 1) << bit;
    if (on)
      atomic_fetch_or_explicit (&r->written[first / WORD_BITS], mask,
                                memory_order_release);
    else
      atomic_fetch_and_explicit (&r->written[first / WORD_BITS], ~mask,
                                 memory_order_release);
    first += n;
  }
}

/* A read there: the pages written are copied, the others read as
 * zeros without being touched, so no hole gets a page.  (A page first
 * written while this runs is a write racing the read, which NBD leaves
 * undefined.)
 */
static void
read_written (struct region *r, char *buf, uint32_t count, uint64_t offset)
{
  uint64_t pos = offset, end = offset + count, page, next;
  unsigned long word;

  while (pos < end) {
    page = pos / PAGE;
    next = (page + 1) * PAGE < end ? (page + 1) * PAGE : end;
    word = atomic_load_explicit (&r->written[page / WORD_BITS],
                                 memory_order_acquire);
    if (word & (1UL << (page % WORD_BITS)))
      memcpy (buf + (pos - offset), r->map + pos, next - pos);
    else
      memset (buf + (pos - offset), 0, next - pos);
    pos = next;
  }
}

int
region_read (struct region *r, void *buf, uint32_t count, uint64_t offset)
{
  char *p = buf;
  ssize_t n;

  if (check_range (r, count, offset) == -1)
    return -1;
  if (r->fd == -1) {
    if (r->written)
      read_written (r, buf, count, offset);
    else
      memcpy (buf, r->map + offset, count);
    return 0;
  }
  while (count > 0) {
    n = pread (r->fd, p, count, offset);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      dram_error ("read of %" PRIu32 " bytes at offset %" PRIu64 ": %m",
                  count, offset);
      return -1;
    }
    if (n == 0) {
      errno = EIO;
      dram_error ("read at offset %" PRIu64 ": end of file (was %s "
                  "truncated by someone else?)", offset,
                  r->path ? r->path : "the region");
      return -1;
    }
    p += n;
    count -= n;
    offset += n;
  }
  return 0;
}

/* FUA on a disk file: this range must reach the disk now. */
static int
sync_range (struct region *r, uint32_t count, uint64_t offset)
{
  uint64_t start = offset & ~(uint64_t) (PAGE - 1);

  if (msync (r->map + start, offset + count - start, MS_SYNC) == -1) {
    dram_error ("msync: %m");
    return -1;
  }
  return 0;
}

int
region_write (struct region *r, const void *buf, uint32_t count,
              uint64_t offset, bool fua)
{
  if (check_range (r, count, offset) == -1)
    return -1;
  if (r->written && count > 0)
    mark_pages (r, offset / PAGE, (offset + count - 1) / PAGE, true);
  if (!r->guarded)
    memcpy (r->map + offset, buf, count);
  else if (guarded_copy (r->map + offset, buf, count) == -1) {
    errno = ENOSPC;
    dram_error ("write of %" PRIu32 " bytes at offset %" PRIu64 ": "
                "the filesystem of %s has no memory left for it",
                count, offset, r->path);
    return -1;
  }
  if (fua && !r->volatile_fs)
    return sync_range (r, count, offset);
  return 0;
}

/* Zeroes part of a granule in place. */
static int
zero_bytes (struct region *r, uint64_t count, uint64_t offset)
{
  if (count == 0)
    return 0;
  if (!r->guarded) {
    memset (r->map + offset, 0, count);
    return 0;
  }
  if (guarded_copy (r->map + offset, NULL, count) == -1) {
    errno = ENOSPC;
    dram_error ("zero of %" PRIu64 " bytes at offset %" PRIu64 ": "
                "the filesystem of %s has no memory left for it",
                count, offset, r->path);
    return -1;
  }
  return 0;
}

/* Gives whole granules back: they read as zeros afterwards. */
static int
release (struct region *r, uint64_t count, uint64_t offset)
{
  char *p = r->map + offset;

  if (r->fd >= 0) {
    if (fallocate (r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   offset, count) == 0)
      return 0;
    if (errno == EOPNOTSUPP)    /* a disk filesystem without holes */
      return zero_bytes (r, count, offset);
    dram_error ("punching a hole of %" PRIu64 " bytes at offset %" PRIu64
                ": %m", count, offset);
    return -1;
  }

  if (r->written)
    mark_pages (r, offset / PAGE, (offset + count) / PAGE - 1, false);
  /* The kernel refuses MADV_DONTNEED on locked pages. */
  if (r->mlock && munlock (p, count) == -1) {
    dram_error ("munlock: %m");
    return -1;
  }
  if (madvise (p, count, MADV_DONTNEED) == -1) {
    dram_error ("madvise MADV_DONTNEED of %" PRIu64 " bytes at offset %"
                PRIu64 ": %m", count, offset);
    return -1;
  }
  if (r->mlock && mlock2 (p, count, MLOCK_ONFAULT) == -1) {
    dram_error ("mlock2: %m");
    return -1;
  }
  return 0;
}

int
region_zero (struct region *r, uint32_t count, uint64_t offset)
{
  uint64_t g = r->granularity;
  uint64_t end = offset + count;
  uint64_t first = (offset + g - 1) / g * g;   /* first whole granule */
  uint64_t last = end / g * g;                 /* end of the last one */

  if (check_range (r, count, offset) == -1)
    return -1;
  if (first >= last)
    return zero_bytes (r, count, offset);
  if (zero_bytes (r, first - offset, offset) == -1 ||
      release (r, last - first, first) == -1 ||
      zero_bytes (r, end - last, last) == -1)
    return -1;
  return 0;
}

int
region_wipe (struct region *r)
{
  const uint64_t step = UINT64_C (1) << 30;   /* a multiple of any granule */
  uint64_t offset, n;

  for (offset = 0; offset < r->size; offset += n) {
    n = r->size - offset < step ? r->size - offset : step;
    if (region_zero (r, (uint32_t) n, offset) == -1)
      return -1;
  }
  return 0;
}

int
region_flush (struct region *r)
{
  if (r->volatile_fs)
    return 0;
  if (fdatasync (r->fd) == -1) {
    dram_error ("fdatasync: %m");
    return -1;
  }
  return 0;
}

int
region_cache (struct region *r, uint32_t count, uint64_t offset)
{
  uint64_t start = offset & ~(uint64_t) (PAGE - 1);

  if (check_range (r, count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  /* Brings pages the donor itself swapped out back into its RAM. */
  if (madvise (r->map + start, offset + count - start, MADV_WILLNEED) == -1) {
    dram_error ("madvise MADV_WILLNEED: %m");
    return -1;
  }
  return 0;
}

/* Holes of a memfd or file, as the filesystem knows them. */
static int
extents_fd (struct region *r, uint64_t offset, uint64_t end,
            extent_fn add, void *opaque)
{
  off_t data, hole;

  while (offset < end) {
    data = lseek (r->fd, offset, SEEK_DATA);
    if (data == -1 && errno == ENXIO)
      data = r->size;
    else if (data == -1) {
      dram_error ("lseek SEEK_DATA: %m");
      return -1;
    }
    if ((uint64_t) data > offset) {
      if ((uint64_t) data > end)
        data = end;
      if (add (opaque, offset, data - offset, true) == -1)
        return -1;
      offset = data;
      continue;
    }
    hole = lseek (r->fd, offset, SEEK_HOLE);
    if (hole == -1) {
      dram_error ("lseek SEEK_HOLE: %m");
      return -1;
    }
    if ((uint64_t) hole > end)
      hole = end;
    if (add (opaque, offset, hole - offset, false) == -1)
      return -1;
    offset = hole;
  }
  return 0;
}

/* Holes of the anonymous mapping: a page that is neither present nor
 * swapped out has not been written since the last trim, nor has a page
 * that maps the zero page (it has only been read).
 */
static bool
pagemap_hole (const struct region *r, uint64_t entry)
{
  if (entry & PM_SWAPPED)
    return false;
  if (!(entry & PM_PRESENT))
    return true;
  return r->zero_pfn != 0 && (entry & PM_PFN_MASK) == r->zero_pfn;
}

static int
extents_pagemap (struct region *r, uint64_t offset, uint64_t end,
                 extent_fn add, void *opaque)
{
  uint64_t entries[512];
  uint64_t page = offset / PAGE;
  uint64_t last = (end - 1) / PAGE;
  uint64_t run_start = offset, pos;
  bool run_hole = false, have_run = false, hole;
  size_t i, n;
  ssize_t got;

  if (last - page >= EXTENTS_MAX_PAGES) {
    last = page + EXTENTS_MAX_PAGES - 1;
    end = (last + 1) * PAGE;
  }
  while (page <= last) {
    n = last - page + 1;
    if (n > sizeof entries / sizeof entries[0])
      n = sizeof entries / sizeof entries[0];
    got = pread (r->pagemap_fd, entries, n * sizeof entries[0],
                 ((uintptr_t) r->map / PAGE + page) * sizeof entries[0]);
    if (got != (ssize_t) (n * sizeof entries[0])) {
      if (got >= 0)
        errno = EIO;
      dram_error ("reading /proc/self/pagemap: %m");
      return -1;
    }
    for (i = 0; i < n; i++, page++) {
      hole = pagemap_hole (r, entries[i]);
      if (have_run && hole == run_hole)
        continue;
      pos = page * PAGE > offset ? page * PAGE : offset;
      if (have_run && add (opaque, run_start, pos - run_start, run_hole) == -1)
        return -1;
      run_start = pos;
      run_hole = hole;
      have_run = true;
    }
  }
  return add (opaque, run_start, end - run_start, run_hole);
}

int
region_extents (struct region *r, uint32_t count, uint64_t offset,
                extent_fn add, void *opaque)
{
  if (check_range (r, count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  if (r->fd >= 0)
    return extents_fd (r, offset, offset + count, add, opaque);
  return extents_pagemap (r, offset, offset + count, add, opaque);
}
