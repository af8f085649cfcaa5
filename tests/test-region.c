/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the region on each backing.  They check what the kernel
 * says (page residency, allocated blocks), not only return codes.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include <check.h>

#include "identity.h"
#include "params.h"
#include "region.h"
#include "unit.h"

#define PAGE 4096
#define SIZE (8 << 20)

/* The backings every generic test runs on. */
enum kind { K_MALLOC, K_MEMFD, K_FILE, K_DIR, NR_KINDS };

/* A directory on tmpfs for the file backings. */
static char tmpdir[] = "/dev/shm/dram-unit.XXXXXX";
static char path[256];

static void
make_params (struct dram_params *p, enum kind k, uint64_t size)
{
  memset (p, 0, sizeof *p);
  p->size = size;
  p->size_str = (char *) "test";
  switch (k) {
  case K_MALLOC: p->backing = BACKING_MALLOC; break;
  case K_MEMFD: p->backing = BACKING_MEMFD; break;
  case K_FILE: p->backing = BACKING_FILE; p->file = path; break;
  case K_DIR: p->backing = BACKING_FILE; p->dir = tmpdir; break;
  default: abort ();
  }
}

static void
open_region (struct region *r, const struct dram_params *p)
{
  clear_error ();
  ck_assert_msg (region_open (r, p) == 0, "region_open: %s", last_error);
  ck_assert_msg (region_map (r) == 0, "region_map: %s", last_error);
}

static void
open_kind (struct region *r, enum kind k, uint64_t size)
{
  struct dram_params p;

  unlink (path);
  make_params (&p, k, size);
  open_region (r, &p);
}

/* Bytes of the anonymous region in RAM: the Rss of its mappings in
 * /proc/self/smaps, which (unlike mincore) does not count the shared
 * zero page that reading a hole maps.
 */
static uint64_t
anon_rss (const struct region *r)
{
  FILE *fp = fopen ("/proc/self/smaps", "r");
  char line[256];
  unsigned long start, end;
  unsigned long long kib, total = 0;
  bool ours = false;

  ck_assert_ptr_nonnull (fp);
  while (fgets (line, sizeof line, fp)) {
    if (sscanf (line, "%lx-%lx ", &start, &end) == 2)
      ours = start >= (uintptr_t) r->map &&
             end <= (uintptr_t) r->map + r->size;
    else if (ours && sscanf (line, "Rss: %llu kB", &kib) == 1)
      total += kib;
  }
  fclose (fp);
  return total * 1024;
}

/* Bytes of the region held in RAM, as the kernel counts them. */
static uint64_t
resident (const struct region *r)
{
  struct stat st;

  if (r->fd >= 0) {
    ck_assert_int_eq (fstat (r->fd, &st), 0);
    return (uint64_t) st.st_blocks * 512;
  }
  return anon_rss (r);
}

START_TEST (fresh_reads_zero)
{
  struct region r;
  unsigned char *buf = malloc (SIZE);

  open_kind (&r, _i, SIZE);
  memset (buf, 0xaa, SIZE);
  ck_assert_int_eq (region_read (&r, buf, SIZE, 0), 0);
  ck_assert (all_zero (buf, SIZE));
  /* Reading holes must not cost the donor memory. */
  ck_assert_uint_eq (resident (&r), 0);
  region_close (&r);
  free (buf);
}
END_TEST

/* The malloc backing's read where read faults allocate (a path the
 * kernel running this may not take by itself): data where written,
 * zeros elsewhere, across partial pages and words of the bitmap, no
 * page for any hole; a trimmed page reads as a hole again.
 */
START_TEST (reads_skip_holes)
{
  static const struct { uint64_t off; uint32_t len; } writes[] = {
    { 2 * PAGE, 2 * PAGE }, { 10 * PAGE + 5, 1 }, { 200 * PAGE - 3, 6 },
  };
  const uint64_t span = 300 * PAGE;
  unsigned char *want = calloc (1, span), *got = malloc (span);
  struct region r;
  size_t i;

  open_kind (&r, K_MALLOC, SIZE);
  if (r.written == NULL)
    ck_assert_int_eq (region_track_written (&r), 0);
  for (i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    fill_pattern (want + writes[i].off, writes[i].len, i);
    ck_assert_int_eq (region_write (&r, want + writes[i].off, writes[i].len,
                                    writes[i].off, false), 0);
  }
  /* Pages 2, 3, 10, 199 and 200 hold data. */
  ck_assert_uint_eq (resident (&r), 5 * PAGE);
  memset (got, 0xaa, span);
  ck_assert_int_eq (region_read (&r, got, span, 0), 0);
  ck_assert (memcmp (got, want, span) == 0);
  memset (got, 0xaa, span);
  ck_assert_int_eq (region_read (&r, got, 9 * PAGE + 10, PAGE + 100), 0);
  ck_assert (memcmp (got, want + PAGE + 100, 9 * PAGE + 10) == 0);
  ck_assert_int_eq (region_read (&r, got, 7, 10 * PAGE + 2), 0);
  ck_assert (memcmp (got, want + 10 * PAGE + 2, 7) == 0);
  ck_assert_int_eq (region_read (&r, got, 0, 0), 0);
  ck_assert_uint_eq (resident (&r), 5 * PAGE);
  /* Pages 2 to 3 given back, page 10 zeroed in place. */
  ck_assert_int_eq (region_zero (&r, 2 * PAGE, 2 * PAGE), 0);
  ck_assert_int_eq (region_zero (&r, 1, 10 * PAGE + 5), 0);
  memset (want + 2 * PAGE, 0, 2 * PAGE);
  want[10 * PAGE + 5] = 0;
  ck_assert_uint_eq (resident (&r), 3 * PAGE);
  ck_assert_int_eq (region_read (&r, got, span, 0), 0);
  ck_assert (memcmp (got, want, span) == 0);
  ck_assert_uint_eq (resident (&r), 3 * PAGE);
  region_close (&r);
  free (want);
  free (got);
}
END_TEST

START_TEST (bounds)
{
  struct region r;
  char buf[16];

  open_kind (&r, _i, SIZE);
  ck_assert_int_eq (region_read (&r, buf, 1, SIZE), -1);
  ck_assert_int_eq (errno, EINVAL);
  ck_assert_ptr_nonnull (strstr (last_error, "request of 1 bytes at offset "
                                 "8388608 is outside the region of 8388608"));
  ck_assert_int_eq (region_write (&r, buf, 2, SIZE - 1, false), -1);
  ck_assert_int_eq (region_zero (&r, 4096, SIZE - 4095), -1);
  ck_assert_int_eq (region_cache (&r, 1, UINT64_MAX), -1);
  ck_assert_int_eq (region_read (&r, buf, 16, UINT64_MAX - 8), -1);
  /* The last byte, and an empty request at the end, are fine. */
  ck_assert_int_eq (region_write (&r, "x", 1, SIZE - 1, false), 0);
  ck_assert_int_eq (region_read (&r, buf, 1, SIZE - 1), 0);
  ck_assert_int_eq (buf[0], 'x');
  ck_assert_int_eq (region_read (&r, buf, 0, SIZE), 0);
  region_close (&r);
}
END_TEST

START_TEST (read_after_write)
{
  static const struct { uint64_t off; uint32_t len; } spans[] = {
    { 0, 1 }, { 1, 4095 }, { 4095, 2 }, { 4096, 4096 }, { 12345, 70001 },
    { SIZE - 3 * PAGE - 7, 3 * PAGE + 7 }, { 1 << 20, 1 << 20 },
  };
  unsigned char *in = malloc (2 << 20), *out = malloc (2 << 20);
  struct region r;
  size_t i;

  open_kind (&r, _i, SIZE);
  for (i = 0; i < sizeof spans / sizeof spans[0]; i++) {
    fill_pattern (in, spans[i].len, i);
    ck_assert_int_eq (region_write (&r, in, spans[i].len, spans[i].off,
                                    i & 1), 0);
    memset (out, 0, spans[i].len);
    ck_assert_int_eq (region_read (&r, out, spans[i].len, spans[i].off), 0);
    ck_assert_msg (memcmp (in, out, spans[i].len) == 0, "span %zu", i);
  }
  ck_assert_int_eq (region_flush (&r), 0);
  ck_assert_int_eq (region_cache (&r, SIZE, 0), 0);
  region_close (&r);
  free (in);
  free (out);
}
END_TEST

/* Zero from the middle of page 1 to the middle of page 4: exactly
 * those bytes read as zero, pages 2 and 3 are given back, the bytes
 * around them survive.
 */
START_TEST (zero_partial)
{
  unsigned char *in = malloc (6 * PAGE), *out = malloc (6 * PAGE);
  uint64_t start = PAGE + 100, end = 4 * PAGE + 200, held;
  struct region r;

  open_kind (&r, _i, SIZE);
  fill_pattern (in, 6 * PAGE, 3);
  ck_assert_int_eq (region_write (&r, in, 6 * PAGE, 0, false), 0);
  held = resident (&r);
  ck_assert_uint_ge (held, 6 * PAGE);
  ck_assert_int_eq (region_zero (&r, end - start, start), 0);
  ck_assert_int_eq (region_read (&r, out, 6 * PAGE, 0), 0);
  ck_assert (memcmp (out, in, start) == 0);
  ck_assert (all_zero (out + start, end - start));
  ck_assert (memcmp (out + end, in + end, 6 * PAGE - end) == 0);
  ck_assert_uint_eq (resident (&r), held - 2 * PAGE);

  /* Inside one page: zeroed in place, nothing released. */
  ck_assert_int_eq (region_zero (&r, 10, 5 * PAGE + 1), 0);
  ck_assert_int_eq (region_read (&r, out, PAGE, 5 * PAGE), 0);
  ck_assert (out[0] == in[5 * PAGE] && all_zero (out + 1, 10) &&
             out[11] == in[5 * PAGE + 11]);
  ck_assert_uint_eq (resident (&r), held - 2 * PAGE);
  region_close (&r);
  free (in);
  free (out);
}
END_TEST

START_TEST (full_trim_releases)
{
  unsigned char *buf = malloc (SIZE);
  struct region r;

  open_kind (&r, _i, SIZE);
  fill_pattern (buf, SIZE, 9);
  ck_assert_int_eq (region_write (&r, buf, SIZE, 0, false), 0);
  ck_assert_uint_eq (resident (&r), SIZE);
  ck_assert_int_eq (region_zero (&r, SIZE, 0), 0);
  ck_assert_uint_eq (resident (&r), 0);
  ck_assert_int_eq (region_read (&r, buf, SIZE, 0), 0);
  ck_assert (all_zero (buf, SIZE));
  ck_assert_uint_eq (resident (&r), 0);
  region_close (&r);
  free (buf);
}
END_TEST

/* The extents a test collects. */
struct ext { uint64_t off, len; bool hole; };
static struct ext exts[64];
static int nr_exts;

static int
collect (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  ck_assert_int_lt (nr_exts, 64);
  exts[nr_exts++] = (struct ext) { offset, length, hole };
  return 0;
}

static void
expect_extents (struct region *r, uint32_t count, uint64_t offset,
                const struct ext *want, int n)
{
  int i;

  nr_exts = 0;
  ck_assert_int_eq (region_extents (r, count, offset, collect, NULL), 0);
  ck_assert_int_eq (nr_exts, n);
  for (i = 0; i < n; i++) {
    ck_assert_uint_eq (exts[i].off, want[i].off);
    ck_assert_uint_eq (exts[i].len, want[i].len);
    ck_assert_int_eq (exts[i].hole, want[i].hole);
  }
}

START_TEST (extents)
{
  unsigned char buf[2 * PAGE];
  struct region r;

  open_kind (&r, _i, SIZE);
  {
    const struct ext all_hole[] = { { 0, SIZE, true } };
    expect_extents (&r, SIZE, 0, all_hole, 1);
  }
  fill_pattern (buf, sizeof buf, 1);
  ck_assert_int_eq (region_write (&r, buf, 2 * PAGE, 2 * PAGE, false), 0);
  ck_assert_int_eq (region_write (&r, buf, 1, 10 * PAGE + 5, false), 0);
  {
    const struct ext want[] = {
      { 0, 2 * PAGE, true }, { 2 * PAGE, 2 * PAGE, false },
      { 4 * PAGE, 6 * PAGE, true }, { 10 * PAGE, PAGE, false },
      { 11 * PAGE, SIZE - 11 * PAGE, true },
    };
    expect_extents (&r, SIZE, 0, want, 5);
  }
  {
    /* A window that starts and ends inside pages. */
    const struct ext want[] = {
      { 3 * PAGE + 1, PAGE - 1, false }, { 4 * PAGE, 100, true },
    };
    expect_extents (&r, PAGE + 99, 3 * PAGE + 1, want, 2);
  }
  /* A trimmed page is a hole again. */
  ck_assert_int_eq (region_zero (&r, PAGE, 2 * PAGE), 0);
  {
    const struct ext want[] = {
      { 0, 3 * PAGE, true }, { 3 * PAGE, PAGE, false },
      { 4 * PAGE, PAGE, true },
    };
    expect_extents (&r, 5 * PAGE, 0, want, 3);
  }
  /* Pages only read are still holes; where the zero page cannot be
   * recognised (unprivileged, malloc) they must be called data.  Where
   * a read fault would allocate, reads leave holes alone.
   */
  ck_assert_int_eq (region_read (&r, buf, 2 * PAGE, 20 * PAGE), 0);
  if (_i == K_MALLOC && geteuid () == 0)
    ck_assert (r.zero_pfn != 0 || r.written != NULL);
  {
    const struct ext want[] = {
      { 20 * PAGE, 2 * PAGE,
        _i != K_MALLOC || r.zero_pfn != 0 || r.written != NULL },
    };
    expect_extents (&r, 2 * PAGE, 20 * PAGE, want, 1);
  }
  region_close (&r);
}
END_TEST

/* The pagemap scan stops after a bounded amount of work; the client
 * asks again from where it ended.
 */
START_TEST (extents_bounded)
{
  struct region r;
  uint64_t big = UINT64_C (1) << 30;

  open_kind (&r, K_MALLOC, big);
  nr_exts = 0;
  ck_assert_int_eq (region_extents (&r, big, 0, collect, NULL), 0);
  ck_assert_int_eq (nr_exts, 1);
  ck_assert (exts[0].hole);
  ck_assert_uint_eq (exts[0].off, 0);
  ck_assert_uint_eq (exts[0].len, 32768 * PAGE);
  region_close (&r);
}
END_TEST

static uint64_t
locked_kib (void)
{
  FILE *fp = fopen ("/proc/self/status", "r");
  char line[256];
  unsigned long long kib = 0;

  while (fgets (line, sizeof line, fp))
    if (sscanf (line, "VmLck: %llu kB", &kib) == 1)
      break;
  fclose (fp);
  return kib;
}

/* mlock=true: written pages are locked; trim still gives them back
 * (the kernel refuses MADV_DONTNEED on locked pages unless unlocked).
 */
START_TEST (mlock_onfault)
{
  unsigned char buf[4 * PAGE];
  struct dram_params p;
  struct region r;
  uint64_t before = locked_kib ();

  make_params (&p, _i, 1 << 20);
  p.mlock = true;
  unlink (path);
  open_region (&r, &p);
  /* Locked on fault: nothing yet. */
  ck_assert_uint_eq (resident (&r), 0);
  fill_pattern (buf, sizeof buf, 5);
  ck_assert_int_eq (region_write (&r, buf, sizeof buf, PAGE, false), 0);
  ck_assert_uint_eq (resident (&r), 4 * PAGE);
  ck_assert_uint_ge (locked_kib (), before + 16);
  ck_assert_int_eq (region_zero (&r, 2 * PAGE, PAGE), 0);
  ck_assert_uint_eq (resident (&r), 2 * PAGE);
  ck_assert_int_eq (region_read (&r, buf, 2 * PAGE, PAGE), 0);
  ck_assert (all_zero (buf, 2 * PAGE));
  region_close (&r);
}
END_TEST

START_TEST (reserve)
{
  struct dram_params p;
  struct region r;

  make_params (&p, _i, SIZE);
  p.reserve = true;
  unlink (path);
  open_region (&r, &p);
  ck_assert_uint_eq (resident (&r), SIZE);
  region_close (&r);
}
END_TEST

/* A restarted donor on the same file finds the data. */
START_TEST (file_reused)
{
  unsigned char in[PAGE], out[PAGE];
  struct dram_params p;
  struct region r, r2;

  unlink (path);
  make_params (&p, K_FILE, SIZE);
  open_region (&r, &p);
  fill_pattern (in, PAGE, 7);
  ck_assert_int_eq (region_write (&r, in, PAGE, 3 * PAGE, false), 0);

  /* While served, a second donor is refused. */
  ck_assert_int_eq (region_open (&r2, &p), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "is in use by another dram "
                                 "donor"));
  region_close (&r);

  open_region (&r, &p);
  ck_assert_int_eq (region_read (&r, out, PAGE, 3 * PAGE), 0);
  ck_assert (memcmp (in, out, PAGE) == 0);
  region_close (&r);

  /* Another size is someone else's region. */
  p.size = 2 * SIZE;
  ck_assert_int_eq (region_open (&r, &p), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "holds a region of 8388608 "
                                 "bytes, not size=test (16777216 bytes)"));
  ck_assert_int_eq (access (path, F_OK), 0);
  unlink (path);
}
END_TEST

/* The region's identity: new for memory that is new, kept with a
 * reused file while its record is there, new again without it.
 */
START_TEST (identity)
{
  char first[IDENTITY_LEN + 1], record[300], description[64];
  char parsed[IDENTITY_LEN + 1];
  struct dram_params p;
  struct region r;
  enum kind k;
  FILE *fp;

  snprintf (record, sizeof record, "%s.dram-id", path);
  for (k = K_MALLOC; k <= K_DIR; k++) {
    if (k == K_FILE)
      continue;
    open_kind (&r, k, SIZE);
    ck_assert (identity_valid (r.id));
    memcpy (first, r.id, sizeof first);
    region_close (&r);
    open_kind (&r, k, SIZE);
    ck_assert_str_ne (r.id, first);
    region_close (&r);
  }

  unlink (path);
  unlink (record);
  make_params (&p, K_FILE, SIZE);
  open_region (&r, &p);
  ck_assert (identity_valid (r.id));
  memcpy (first, r.id, sizeof first);
  region_close (&r);
  ck_assert_int_eq (access (record, F_OK), 0);
  open_region (&r, &p);
  ck_assert_str_eq (r.id, first);
  identity_describe (r.id, description, sizeof description);
  ck_assert_int_eq (identity_from_description (description, parsed), 0);
  ck_assert_str_eq (parsed, first);
  region_close (&r);

  /* A region found without its record is not trusted to be the same. */
  unlink (record);
  open_region (&r, &p);
  ck_assert_str_ne (r.id, first);
  memcpy (first, r.id, sizeof first);
  region_close (&r);
  /* Nor is a new file with an old record beside it. */
  unlink (path);
  open_region (&r, &p);
  ck_assert_str_ne (r.id, first);
  memcpy (first, r.id, sizeof first);
  region_close (&r);
  /* A record for another size is someone else's. */
  fp = fopen (record, "w");
  ck_assert_ptr_nonnull (fp);
  fprintf (fp, "%s %d\n", first, 2 * SIZE);
  ck_assert_int_eq (fclose (fp), 0);
  open_region (&r, &p);
  ck_assert_str_ne (r.id, first);
  region_close (&r);
  unlink (path);
  unlink (record);
}
END_TEST

/* What a recipient accepts as an identity. */
START_TEST (identity_parse)
{
  static const struct {
    const char *description;
    int r;
  } cases[] = {
    { "dram region 0123456789abcdef0123456789abcdef", 0 },
    { "dram region 0123456789abcdef0123456789abcde", -1 },
    { "dram region 0123456789abcdef0123456789abcdef0", -1 },
    { "dram region 0123456789ABCDEF0123456789abcdef", -1 },
    { "dram region 0123456789abcdef0123456789abcdeg", -1 },
    { "dram region  0123456789abcdef0123456789abcdef", -1 },
    { "memory plugin", -1 },
    { "", -1 },
    { NULL, -1 },
  };
  char id[IDENTITY_LEN + 1];
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    ck_assert_msg (identity_from_description (cases[i].description, id) ==
                   cases[i].r, "case %zu", i);
}
END_TEST

/* A file the donor created is removed again when the start fails. */
START_TEST (file_failed_start_removed)
{
  struct dram_params p;
  struct region r;

  unlink (path);
  make_params (&p, K_FILE, UINT64_C (1) << 50);
  ck_assert_int_eq (region_open (&r, &p), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "bytes free but the region "
                                 "needs"));
  ck_assert_int_eq (access (path, F_OK), -1);
  ck_assert_int_eq (errno, ENOENT);
}
END_TEST

/* A disk filesystem is not RAM. */
START_TEST (file_on_disk)
{
  char disk[] = "/var/tmp/dram-unit.XXXXXX";
  char file[300];
  struct dram_params p;
  struct region r;
  struct statfs sfs;
  unsigned char buf[PAGE];

  ck_assert_ptr_nonnull (mkdtemp (disk));
  ck_assert_int_eq (statfs (disk, &sfs), 0);
  if (sfs.f_type == TMPFS_MAGIC) {
    rmdir (disk);
    return;                     /* no disk filesystem to refuse */
  }
  snprintf (file, sizeof file, "%s/region", disk);
  make_params (&p, K_FILE, SIZE);
  p.file = file;
  ck_assert_int_eq (region_open (&r, &p), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "filesystem, not tmpfs or "
                                 "hugetlbfs"));
  ck_assert_ptr_nonnull (strstr (last_error, "allow-disk=true"));
  ck_assert_int_eq (access (file, F_OK), -1);

  p.allow_disk = true;
  open_region (&r, &p);
  fill_pattern (buf, PAGE, 2);
  ck_assert_int_eq (region_write (&r, buf, PAGE, PAGE, true), 0);
  ck_assert_int_eq (region_flush (&r), 0);
  ck_assert_int_eq (region_zero (&r, PAGE, PAGE), 0);
  ck_assert_int_eq (region_read (&r, buf, PAGE, PAGE), 0);
  ck_assert (all_zero (buf, PAGE));
  region_close (&r);
  unlink (file);
  rmdir (disk);
}
END_TEST

/* Someone shrinks the file under the donor: a write there must fail
 * that request, not kill the donor with SIGBUS.
 */
START_TEST (sigbus_guarded)
{
  unsigned char buf[PAGE];
  struct dram_params p;
  struct region r;
  int fd;

  unlink (path);
  make_params (&p, K_FILE, SIZE);
  open_region (&r, &p);
  fd = open (path, O_RDWR);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (ftruncate (fd, SIZE / 2), 0);

  fill_pattern (buf, PAGE, 4);
  ck_assert_int_eq (region_write (&r, buf, PAGE, SIZE / 2 + PAGE, false), -1);
  ck_assert_int_eq (errno, ENOSPC);
  ck_assert_ptr_nonnull (strstr (last_error, "has no memory left"));
  ck_assert_int_eq (region_zero (&r, 100, SIZE - 200), -1);
  ck_assert_int_eq (errno, ENOSPC);
  /* The part still there still works, and the guard can fire again. */
  ck_assert_int_eq (region_write (&r, buf, PAGE, 0, false), 0);
  ck_assert_int_eq (region_write (&r, buf, 10, SIZE - 10, false), -1);
  ck_assert_int_eq (region_read (&r, buf, PAGE, SIZE - PAGE), -1);
  ck_assert_int_eq (errno, EIO);

  ck_assert_int_eq (ftruncate (fd, SIZE), 0);
  ck_assert_int_eq (region_write (&r, buf, PAGE, SIZE / 2 + PAGE, false), 0);
  close (fd);
  region_close (&r);
  unlink (path);
}
END_TEST

/* SIGBUS handler installed now, as sigaction reports it. */
static bool
sigbus_handled (void)
{
  struct sigaction sa;

  ck_assert_int_eq (sigaction (SIGBUS, NULL, &sa), 0);
  return (sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL;
}

/* Two guarded regions at once, each opened and closed on its own: a
 * shrunk file fails the request in either, closing one leaves the
 * other guarded, and the handler goes with the last.  A store that is
 * not a guarded copy still dies of SIGBUS.
 */
START_TEST (sigbus_two_regions)
{
  unsigned char buf[PAGE];
  char path2[300];
  struct dram_params p, p2;
  struct region r, r2;
  pid_t pid;
  int fd, fd2, status;

  snprintf (path2, sizeof path2, "%s/region2", tmpdir);
  unlink (path);
  unlink (path2);
  ck_assert (!sigbus_handled ());
  make_params (&p, K_FILE, SIZE);
  make_params (&p2, K_FILE, SIZE);
  p2.file = path2;
  open_region (&r, &p);
  open_region (&r2, &p2);
  ck_assert (sigbus_handled ());
  fd = open (path, O_RDWR);
  fd2 = open (path2, O_RDWR);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_ge (fd2, 0);
  ck_assert_int_eq (ftruncate (fd, SIZE / 2), 0);
  ck_assert_int_eq (ftruncate (fd2, SIZE / 2), 0);
  fill_pattern (buf, PAGE, 5);
  ck_assert_int_eq (region_write (&r, buf, PAGE, SIZE - PAGE, false), -1);
  ck_assert_int_eq (errno, ENOSPC);
  ck_assert_int_eq (region_write (&r2, buf, PAGE, SIZE - PAGE, false), -1);
  ck_assert_int_eq (errno, ENOSPC);

  /* Outside a guarded copy the guard does not catch it. */
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0) {
    signal (SIGSEGV, SIG_DFL);
    ((volatile char *) r2.map)[SIZE - 1] = 1;
    _exit (0);
  }
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert (WIFSIGNALED (status));
  ck_assert_int_eq (WTERMSIG (status), SIGBUS);

  region_close (&r);
  ck_assert (sigbus_handled ());
  ck_assert_int_eq (region_write (&r2, buf, 10, SIZE - 10, false), -1);
  ck_assert_int_eq (errno, ENOSPC);
  ck_assert_int_eq (region_write (&r2, buf, PAGE, 0, false), 0);
  region_close (&r2);
  ck_assert (!sigbus_handled ());
  close (fd);
  close (fd2);
  unlink (path);
  unlink (path2);
  snprintf (path2, sizeof path2, "%s/region2.dram-id", tmpdir);
  unlink (path2);
}
END_TEST

static void
setup (void)
{
  struct statfs sfs;

  ck_assert_ptr_nonnull (mkdtemp (tmpdir));
  ck_assert_int_eq (statfs (tmpdir, &sfs), 0);
  ck_assert_msg (sfs.f_type == TMPFS_MAGIC, "/dev/shm is not a tmpfs");
  snprintf (path, sizeof path, "%s/region", tmpdir);
}

static void
teardown (void)
{
  char record[300];

  snprintf (record, sizeof record, "%s.dram-id", path);
  unlink (record);
  unlink (path);
  rmdir (tmpdir);
}

int
main (void)
{
  TCase *tc = tcase_create ("region");

  /* Under valgrind or a slow machine, 1 GiB of pagemap takes a while. */
  tcase_set_timeout (tc, 120);
  tcase_add_unchecked_fixture (tc, setup, teardown);
  tcase_add_loop_test (tc, fresh_reads_zero, 0, NR_KINDS);
  tcase_add_test (tc, reads_skip_holes);
  tcase_add_loop_test (tc, bounds, 0, NR_KINDS);
  tcase_add_loop_test (tc, read_after_write, 0, NR_KINDS);
  tcase_add_loop_test (tc, zero_partial, 0, NR_KINDS);
  tcase_add_loop_test (tc, full_trim_releases, 0, NR_KINDS);
  tcase_add_loop_test (tc, extents, 0, NR_KINDS);
  tcase_add_test (tc, extents_bounded);
  tcase_add_loop_test (tc, mlock_onfault, 0, NR_KINDS);
  tcase_add_loop_test (tc, reserve, 0, NR_KINDS);
  tcase_add_test (tc, file_reused);
  tcase_add_test (tc, file_failed_start_removed);
  tcase_add_test (tc, identity);
  tcase_add_test (tc, identity_parse);
  tcase_add_test (tc, file_on_disk);
  tcase_add_test (tc, sigbus_guarded);
  tcase_add_test (tc, sigbus_two_regions);
  return run_tcase ("region", tc);
}
