/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the region table on the malloc and memfd backings, and
 * on files in dir= and file= (on /dev/shm), with a fake clock for the
 * lease.  They check bytes read back, identities, the files left in
 * the directory and the capacity the table reports.
 */

#include <config.h>

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "params.h"
#include "table.h"
#include "unit.h"

#define REGION (256 << 10)
#define LEASE 5000

static uint64_t now_ms;

static uint64_t
fake_clock (void)
{
  return now_ms;
}

static struct dram_params params;
static struct table table;

/* A table of BUDGET bytes in regions of REGION on backing _i. */
static void
make_table (int kind, uint64_t budget, uint64_t lease)
{
  memset (&params, 0, sizeof params);
  params.size = budget;
  params.size_str = (char *) "test";
  params.backing = kind ? BACKING_MEMFD : BACKING_MALLOC;
  now_ms = 1000;
  table_init (&table, &params, REGION, lease, fake_clock);
}

static struct slot *
open_ok (const char *name)
{
  struct slot *s;

  clear_error ();
  s = table_open (&table, name);
  ck_assert_msg (s != NULL, "table_open %s: %s", name, last_error);
  return s;
}

static void
assert_capacity (uint64_t free_bytes, unsigned regions)
{
  uint64_t f;
  unsigned n;

  table_capacity (&table, &f, &n);
  ck_assert_uint_eq (f, free_bytes);
  ck_assert_uint_eq (n, regions);
}

/* Two names, two regions: their own bytes and their own identities;
 * a name opened again is the same region.
 */
START_TEST (names_are_regions)
{
  unsigned char w[4096], r[4096];
  struct slot *a, *b, *a2;

  make_table (_i, 4 * REGION, LEASE);
  a = open_ok ("recipA");
  b = open_ok ("recipB");
  ck_assert_ptr_ne (a, b);
  ck_assert_str_ne (a->region.id, b->region.id);
  ck_assert_uint_eq (a->region.size, REGION);
  fill_pattern (w, sizeof w, 1);
  ck_assert_int_eq (region_write (&a->region, w, sizeof w, 8192, false), 0);
  ck_assert_int_eq (region_read (&b->region, r, sizeof r, 8192), 0);
  ck_assert (all_zero (r, sizeof r));
  a2 = open_ok ("recipA");
  ck_assert_ptr_eq (a2, a);
  ck_assert_int_eq (region_read (&a2->region, r, sizeof r, 8192), 0);
  ck_assert_mem_eq (r, w, sizeof w);
  assert_capacity (2 * REGION, 2);
  table_close (&table, a2);
  table_close (&table, a);
  table_close (&table, b);
  table_free (&table);
}
END_TEST

/* The budget holds two regions: a third name is refused, and says why. */
START_TEST (full_refused)
{
  struct slot *a, *b;

  make_table (_i, 2 * REGION + 4096, LEASE);
  a = open_ok ("a");
  b = open_ok ("b");
  clear_error ();
  ck_assert_ptr_null (table_open (&table, "c"));
  ck_assert_int_eq (errno, ENOSPC);
  ck_assert_msg (strstr (last_error, "lent (2 regions of 256K); nothing "
                         "left for this recipient") != NULL,
                 "%s", last_error);
  assert_capacity (4096, 2);
  /* An existing name still opens when the table is full. */
  ck_assert_ptr_eq (open_ok ("a"), a);
  table_close (&table, a);
  table_close (&table, a);
  table_close (&table, b);
  table_free (&table);
}
END_TEST

/* A region with data outlives its last connection by the lease; a
 * reconnect within it finds bytes and identity; after it, the name
 * gets new memory.
 */
START_TEST (lease_expiry)
{
  unsigned char w[4096], r[4096];
  char id[IDENTITY_LEN + 1];
  struct slot *a;

  make_table (_i, 2 * REGION, LEASE);
  a = open_ok ("a");
  memcpy (id, a->region.id, sizeof id);
  fill_pattern (w, sizeof w, 2);
  ck_assert_int_eq (region_write (&a->region, w, sizeof w, 0, false), 0);
  table_close (&table, a);
  assert_capacity (REGION, 1);

  now_ms += LEASE - 1;
  ck_assert_uint_eq (table_expire (&table), 1);
  a = open_ok ("a");
  ck_assert_str_eq (a->region.id, id);
  ck_assert_int_eq (region_read (&a->region, r, sizeof r, 0), 0);
  ck_assert_mem_eq (r, w, sizeof w);
  table_close (&table, a);

  /* The lease starts again at that close. */
  now_ms += LEASE - 1;
  ck_assert_uint_eq (table_expire (&table), 1);
  assert_capacity (REGION, 1);
  now_ms += 1;
  ck_assert_uint_eq (table_expire (&table), UINT64_MAX);
  assert_capacity (2 * REGION, 0);

  a = open_ok ("a");
  ck_assert_str_ne (a->region.id, id);
  ck_assert_int_eq (region_read (&a->region, r, sizeof r, 0), 0);
  ck_assert (all_zero (r, sizeof r));
  table_close (&table, a);
  table_free (&table);
}
END_TEST

/* Trimmed whole, a region is freed at its last close, lease or not;
 * while another connection holds it, it stays.
 */
START_TEST (all_holes_freed)
{
  unsigned char w[4096];
  struct slot *a, *a2;

  make_table (_i, 2 * REGION, LEASE);
  a = open_ok ("a");
  a2 = open_ok ("a");
  fill_pattern (w, sizeof w, 3);
  ck_assert_int_eq (region_write (&a->region, w, sizeof w, REGION - 4096,
                                  false), 0);
  ck_assert (!region_empty (&a->region));
  ck_assert_int_eq (region_zero (&a->region, REGION, 0), 0);
  ck_assert (region_empty (&a->region));
  table_close (&table, a2);
  assert_capacity (REGION, 1);
  table_close (&table, a);
  assert_capacity (2 * REGION, 0);
  table_free (&table);
}
END_TEST

/* lease=0: freed at the last close even with data. */
START_TEST (lease_zero)
{
  unsigned char w[4096];
  struct slot *a;

  make_table (_i, 2 * REGION, 0);
  a = open_ok ("a");
  fill_pattern (w, sizeof w, 4);
  ck_assert_int_eq (region_write (&a->region, w, sizeof w, 0, false), 0);
  table_close (&table, a);
  assert_capacity (2 * REGION, 0);
  table_free (&table);
}
END_TEST

/* A name longer than the protocol allows is refused, nothing made. */
START_TEST (long_name)
{
  char *name = malloc (TABLE_NAME_MAX + 2);

  ck_assert_ptr_nonnull (name);
  memset (name, 'x', TABLE_NAME_MAX + 1);
  name[TABLE_NAME_MAX + 1] = '\0';
  make_table (_i, 2 * REGION, LEASE);
  clear_error ();
  ck_assert_ptr_null (table_open (&table, name));
  ck_assert_ptr_nonnull (strstr (last_error, "4097 bytes"));
  assert_capacity (2 * REGION, 0);
  name[TABLE_NAME_MAX] = '\0';
  table_close (&table, open_ok (name));
  table_free (&table);
  free (name);
}
END_TEST

/* dir= and file=: a directory of its own for each test, under one
 * on /dev/shm that the parent process removes when the tests are done,
 * failed or not.
 */
static char base[64], dir[128];

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  return remove (path);
}

static void
make_base (void)
{
  snprintf (base, sizeof base, "/dev/shm/dram-test-table.XXXXXX");
  if (mkdtemp (base) == NULL) {
    perror (base);
    exit (EXIT_FAILURE);
  }
}

static void
remove_base (void)
{
  nftw (base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
make_dir (void)
{
  snprintf (dir, sizeof dir, "%s/t.XXXXXX", base);
  ck_assert_ptr_nonnull (mkdtemp (dir));
}

/* A table over files: dir= when FILE is NULL, else file=FILE with a
 * region of the whole budget.  -1 when table_load refused.
 */
static int
make_file_table (uint64_t budget, uint64_t region, const char *file)
{
  memset (&params, 0, sizeof params);
  params.size = budget;
  params.size_str = (char *) "test";
  params.region_str = (char *) "test-region";
  params.backing = BACKING_FILE;
  if (file)
    params.file = (char *) file;
  else
    params.dir = dir;
  table_init (&table, &params, region, LEASE, fake_clock);
  clear_error ();
  if (table_load (&table) == -1)
    return -1;
  ck_assert_int_eq (table_map (&table), 0);
  return 0;
}

/* How many entries of DIR end in SUFFIX; none may hold NAME. */
static unsigned
count_files (const char *suffix, const char *name)
{
  size_t n = strlen (suffix), len;
  struct dirent *e;
  unsigned count = 0;
  DIR *d = opendir (dir);

  ck_assert_ptr_nonnull (d);
  while ((e = readdir (d)) != NULL) {
    len = strlen (e->d_name);
    ck_assert_msg (strstr (e->d_name, name) == NULL,
                   "%s names an export", e->d_name);
    if (len > n && strcmp (e->d_name + len - n, suffix) == 0)
      count++;
  }
  closedir (d);
  return count;
}

/* A donor that stops and starts on dir= finds each recipient's region
 * by its export name, bytes and identity; the files are named by
 * random tokens, never by export names.
 */
START_TEST (dir_restart)
{
  unsigned char wa[4096], wb[4096], r[4096];
  char ida[IDENTITY_LEN + 1], idb[IDENTITY_LEN + 1];
  struct slot *a, *b;

  make_dir ();
  now_ms = 1000;
  ck_assert_int_eq (make_file_table (2 * REGION, REGION, NULL), 0);
  a = open_ok ("recipA");
  b = open_ok ("recipB");
  memcpy (ida, a->region.id, sizeof ida);
  memcpy (idb, b->region.id, sizeof idb);
  fill_pattern (wa, sizeof wa, 5);
  fill_pattern (wb, sizeof wb, 6);
  ck_assert_int_eq (region_write (&a->region, wa, sizeof wa, 4096, false), 0);
  ck_assert_int_eq (region_write (&b->region, wb, sizeof wb, 4096, false), 0);
  table_close (&table, a);
  table_close (&table, b);
  table_free (&table);
  ck_assert_uint_eq (count_files (".dram", "recip"), 2);
  ck_assert_uint_eq (count_files (".dram-id", "recip"), 2);

  ck_assert_int_eq (make_file_table (2 * REGION, REGION, NULL), 0);
  assert_capacity (0, 2);
  b = open_ok ("recipB");
  a = open_ok ("recipA");
  ck_assert_str_eq (a->region.id, ida);
  ck_assert_str_eq (b->region.id, idb);
  ck_assert_int_eq (region_read (&a->region, r, sizeof r, 4096), 0);
  ck_assert_mem_eq (r, wa, sizeof r);
  ck_assert_int_eq (region_read (&b->region, r, sizeof r, 4096), 0);
  ck_assert_mem_eq (r, wb, sizeof r);
  table_close (&table, a);
  table_close (&table, b);

  /* Their leases over, the files go, and the names get new regions. */
  now_ms += LEASE;
  ck_assert_uint_eq (table_expire (&table), UINT64_MAX);
  ck_assert_uint_eq (count_files (".dram", "recip"), 0);
  ck_assert_uint_eq (count_files (".dram-id", "recip"), 0);
  a = open_ok ("recipA");
  ck_assert_str_ne (a->region.id, ida);
  ck_assert_int_eq (region_read (&a->region, r, sizeof r, 4096), 0);
  ck_assert (all_zero (r, sizeof r));
  table_close (&table, a);
  table_free (&table);
}
END_TEST

/* Opens NAME, writes a page, closes: its lease starts. */
static void
keep_one (const char *name)
{
  unsigned char w[4096];
  struct slot *s = open_ok (name);

  fill_pattern (w, sizeof w, 9);
  ck_assert_int_eq (region_write (&s->region, w, sizeof w, 0, false), 0);
  table_close (&table, s);
}

/* What dir= holds at start-up that is no region of this donor's: a
 * file without a record is removed; a region of another size, or more
 * regions than the budget holds, refuse the start and say so; a
 * second donor on the same dir= is refused.
 */
START_TEST (dir_load_checks)
{
  char path[512];
  struct table first;
  FILE *fp;

  make_dir ();
  snprintf (path, sizeof path, "%s/%032x.dram", dir, 7);
  fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fputs ("what a crashed donor left", fp);
  fclose (fp);
  ck_assert_int_eq (make_file_table (2 * REGION, REGION, NULL), 0);
  ck_assert_int_eq (access (path, F_OK), -1);
  assert_capacity (2 * REGION, 0);

  /* Another donor, while this one runs. */
  first = table;
  ck_assert_int_eq (make_file_table (2 * REGION, REGION, NULL), -1);
  ck_assert_msg (strstr (last_error, "is in use by another dram donor"),
                 "%s", last_error);
  table_free (&table);
  table = first;

  /* Two regions with data: a donor that stops keeps them. */
  keep_one ("a");
  keep_one ("b");
  table_free (&table);

  ck_assert_int_eq (make_file_table (4 * REGION, 2 * REGION, NULL), -1);
  ck_assert_msg (strstr (last_error, "holds a region of 256K") &&
                 strstr (last_error, "not region=test-region"),
                 "%s", last_error);
  table_free (&table);
  ck_assert_int_eq (make_file_table (REGION, REGION, NULL), -1);
  ck_assert_msg (strstr (last_error, "more regions of 256K than size=test"),
                 "%s", last_error);
  table_free (&table);
  /* Refused starts took nothing. */
  ck_assert_uint_eq (count_files (".dram", "\n"), 2);
  ck_assert_int_eq (make_file_table (2 * REGION, REGION, NULL), 0);
  assert_capacity (0, 2);
  table_free (&table);
}
END_TEST

/* file= is one region: reopened by its owner after a restart it keeps
 * bytes and identity; opened under another export name, its old
 * contents are wiped and it gets a new identity.
 */
START_TEST (file_owner)
{
  unsigned char w[4096], r[4096];
  char id[IDENTITY_LEN + 1], file[sizeof dir + 16];
  struct slot *a;

  make_dir ();
  snprintf (file, sizeof file, "%s/region", dir);
  ck_assert_int_eq (make_file_table (REGION, REGION, file), 0);
  a = open_ok ("recipA");
  memcpy (id, a->region.id, sizeof id);
  fill_pattern (w, sizeof w, 8);
  ck_assert_int_eq (region_write (&a->region, w, sizeof w, 0, false), 0);
  table_close (&table, a);
  table_free (&table);

  ck_assert_int_eq (make_file_table (REGION, REGION, file), 0);
  a = open_ok ("recipA");
  ck_assert_str_eq (a->region.id, id);
  ck_assert_int_eq (region_read (&a->region, r, sizeof r, 0), 0);
  ck_assert_mem_eq (r, w, sizeof r);
  table_close (&table, a);
  table_free (&table);

  ck_assert_int_eq (make_file_table (REGION, REGION, file), 0);
  a = open_ok ("recipB");
  ck_assert_str_ne (a->region.id, id);
  ck_assert_int_eq (region_read (&a->region, r, sizeof r, 0), 0);
  ck_assert (all_zero (r, sizeof r));
  table_close (&table, a);
  table_free (&table);
}
END_TEST

int
main (void)
{
  TCase *tc = tcase_create ("table");

  tcase_add_loop_test (tc, names_are_regions, 0, 2);
  tcase_add_loop_test (tc, full_refused, 0, 2);
  tcase_add_loop_test (tc, lease_expiry, 0, 2);
  tcase_add_loop_test (tc, all_holes_freed, 0, 2);
  tcase_add_loop_test (tc, lease_zero, 0, 2);
  tcase_add_loop_test (tc, long_name, 0, 2);
  tcase_add_unchecked_fixture (tc, make_base, remove_base);
  tcase_add_test (tc, dir_restart);
  tcase_add_test (tc, dir_load_checks);
  tcase_add_test (tc, file_owner);
  return run_tcase ("table", tc);
}
