/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the region table on the malloc and memfd backings, with
 * a fake clock for the lease.  They check bytes read back, identities
 * and the capacity the table reports.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
  return run_tcase ("table", tc);
}
