/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the checked parsers and /proc/meminfo reading. */

#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "capacity.h"
#include "meminfo.h"
#include "parse.h"
#include "unit.h"

static const struct {
  const char *in;
  uint64_t out;
} good_sizes[] = {
  { "0", 0 },
  { "4096", 4096 },
  { "1073741824", UINT64_C (1073741824) },
  { "1b", 1 },
  { "1B", 1 },
  { "4k", 4096 },
  { "4K", 4096 },
  { "512M", UINT64_C (512) << 20 },
  { "1G", UINT64_C (1) << 30 },
  { "1g", UINT64_C (1) << 30 },
  { "2T", UINT64_C (2) << 40 },
  { "1P", UINT64_C (1) << 50 },
  { "7E", UINT64_C (7) << 60 },
  { "1GiB", UINT64_C (1) << 30 },
  { "16MB", UINT64_C (16) << 20 },
  { "9223372036854775807", UINT64_C (9223372036854775807) },
};

START_TEST (size_good)
{
  uint64_t v = 12345;

  clear_error ();
  ck_assert_int_eq (parse_size ("size", good_sizes[_i].in, &v), 0);
  ck_assert_uint_eq (v, good_sizes[_i].out);
  ck_assert_str_eq (last_error, "");
}
END_TEST

/* Each bad size and the words its message must contain. */
static const struct {
  const char *in;
  const char *msg;
} bad_sizes[] = {
  { "", "size: '' is not a number" },
  { "-1", "'-1' is not a number" },
  { "+5", "'+5' is not a number" },
  { " 5", "' 5' is not a number" },
  { "G", "'G' is not a number" },
  { "1.5G", "'1.5G' has an unknown unit" },
  { "1X", "'1X' has an unknown unit" },
  { "1GG", "'1GG' has an unknown unit" },
  { "1G ", "'1G ' has an unknown unit" },
  { "1Gib", "'1Gib' has an unknown unit" },
  { "8E", "'8E' is too large" },
  { "9223372036854775808", "is too large" },
  { "99999999999999999999999", "is too large" },
  { "16777216T", "is too large" },
};

START_TEST (size_bad)
{
  uint64_t v = 12345;

  clear_error ();
  ck_assert_int_eq (parse_size ("size", bad_sizes[_i].in, &v), -1);
  ck_assert_uint_eq (v, 12345);
  ck_assert_msg (strstr (last_error, bad_sizes[_i].msg) != NULL,
                 "'%s': message '%s' lacks '%s'",
                 bad_sizes[_i].in, last_error, bad_sizes[_i].msg);
}
END_TEST

START_TEST (size_null)
{
  uint64_t v;

  ck_assert_int_eq (parse_size ("size", NULL, &v), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "not a number"));
}
END_TEST

static const struct {
  const char *in;
  uint64_t min, max;
  int ret;
  uint64_t out;
  const char *msg;
} uints[] = {
  { "0", 0, 10, 0, 0, NULL },
  { "10", 0, 10, 0, 10, NULL },
  { "11", 0, 10, -1, 0, "11 is out of range (0..10)" },
  { "0", 1, 10, -1, 0, "0 is out of range (1..10)" },
  { "5s", 0, 10, -1, 0, "'5s' is not a number" },
  { "-1", 0, 10, -1, 0, "'-1' is not a number" },
  { "", 0, 10, -1, 0, "'' is not a number" },
  { "18446744073709551616", 0, UINT64_MAX, -1, 0, "too large" },
};

START_TEST (uint_table)
{
  uint64_t v = 777;

  clear_error ();
  ck_assert_int_eq (parse_uint ("n", uints[_i].in, uints[_i].min,
                                uints[_i].max, &v), uints[_i].ret);
  if (uints[_i].ret == 0)
    ck_assert_uint_eq (v, uints[_i].out);
  else {
    ck_assert_uint_eq (v, 777);
    ck_assert_msg (strstr (last_error, uints[_i].msg) != NULL,
                   "'%s': message '%s' lacks '%s'",
                   uints[_i].in, last_error, uints[_i].msg);
  }
}
END_TEST

static const struct {
  const char *in;
  int ret;
  bool out;
} bools[] = {
  { "true", 0, true }, { "TRUE", 0, true }, { "yes", 0, true },
  { "on", 0, true }, { "1", 0, true },
  { "false", 0, false }, { "No", 0, false }, { "off", 0, false },
  { "0", 0, false },
  { "", -1, false }, { "2", -1, false }, { "truee", -1, false },
  { "y", -1, false },
};

START_TEST (bool_table)
{
  bool v = !bools[_i].out;

  clear_error ();
  ck_assert_int_eq (parse_bool ("mlock", bools[_i].in, &v), bools[_i].ret);
  if (bools[_i].ret == 0)
    ck_assert (v == bools[_i].out);
  else
    ck_assert_ptr_nonnull (strstr (last_error, "is not a boolean"));
}
END_TEST

START_TEST (meminfo_fake)
{
  char path[] = "/tmp/dram-meminfo.XXXXXX";
  int fd = mkstemp (path);
  FILE *fp = fdopen (fd, "w");
  uint64_t v = 0;

  fputs ("MemTotal:       24684096 kB\n"
         "MemFree:        20000000 kB\n"
         "MemAvailable:   23000000 kB\n"
         "Broken:         lots\n", fp);
  fclose (fp);
  ck_assert_int_eq (meminfo_get (path, "MemTotal", &v), 0);
  ck_assert_uint_eq (v, UINT64_C (24684096) * 1024);
  ck_assert_int_eq (meminfo_get (path, "MemAvailable", &v), 0);
  ck_assert_uint_eq (v, UINT64_C (23000000) * 1024);
  /* A prefix of a field is not the field. */
  ck_assert_int_eq (meminfo_get (path, "Mem", &v), -1);
  ck_assert_int_eq (meminfo_get (path, "Broken", &v), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "no readable Broken line"));
  unlink (path);
  ck_assert_int_eq (meminfo_get (path, "MemTotal", &v), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "No such file"));
  ck_assert_int_eq (meminfo_get (NULL, "MemTotal", &v), 0);
  ck_assert_uint_gt (v, 0);
}
END_TEST

static const struct {
  const char *in;
  int ret;
  uint64_t ms;
  const char *msg;
} durations[] = {
  { "0", 0, 0, NULL },
  { "90", 0, 90000, NULL },
  { "2s", 0, 2000, NULL },
  { "5m", 0, 300000, NULL },
  { "1h", 0, 3600000, NULL },
  { "2d", 0, 172800000, NULL },
  { "", -1, 0, "'' is not a number" },
  { "m", -1, 0, "'m' is not a number" },
  { "-5s", -1, 0, "'-5s' is not a number" },
  { "5x", -1, 0, "'5x' is not a duration" },
  { "5ms", -1, 0, "'5ms' is not a duration" },
  { "5 m", -1, 0, "'5 m' is not a duration" },
  { "1.5h", -1, 0, "'1.5h' is not a duration" },
  { "999999999999999999d", -1, 0, "is too large" },
};

START_TEST (duration_table)
{
  uint64_t v = 777;

  clear_error ();
  ck_assert_int_eq (parse_duration ("lease", durations[_i].in, &v),
                    durations[_i].ret);
  if (durations[_i].ret == 0)
    ck_assert_uint_eq (v, durations[_i].ms);
  else {
    ck_assert_uint_eq (v, 777);
    ck_assert_msg (strstr (last_error, durations[_i].msg) != NULL,
                   "'%s': message '%s' lacks '%s'",
                   durations[_i].in, last_error, durations[_i].msg);
  }
}
END_TEST

/* The donor's capacity: what capacity_describe writes reads back; what
 * another server, an older dram or a lying one says does not.
 */
START_TEST (capacity_round_trip)
{
  struct capacity c = {
    .size = UINT64_C (8) << 30, .region = UINT64_C (1) << 30,
    .free_bytes = UINT64_C (3) << 30, .regions = 5,
  }, back;
  char desc[256], summary[128];

  capacity_describe (&c, desc, sizeof desc);
  ck_assert_str_eq (desc, "dram donor: 3G free of 8G in regions of 1G, 5 "
                    "lent (size=8589934592 region=1073741824 "
                    "free=3221225472 regions=5)");
  ck_assert_int_eq (capacity_parse (desc, &back), 0);
  ck_assert_uint_eq (back.size, c.size);
  ck_assert_uint_eq (back.region, c.region);
  ck_assert_uint_eq (back.free_bytes, c.free_bytes);
  ck_assert_uint_eq (back.regions, c.regions);
  ck_assert (capacity_fits (&c));
  capacity_summary (&c, summary, sizeof summary);
  ck_assert_str_eq (summary, "3G free of 8G (regions of 1G)");

  c.free_bytes = 0;
  c.regions = 8;
  ck_assert (!capacity_fits (&c));
  capacity_summary (&c, summary, sizeof summary);
  ck_assert_str_eq (summary, "all 8G lent (8 regions of 1G)");
  c.regions = 1;
  c.size = c.region;
  capacity_summary (&c, summary, sizeof summary);
  ck_assert_str_eq (summary, "all 1G lent (1 region of 1G)");
}
END_TEST

static const char *const bad_capacities[] = {
  "dram region 0123456789abcdef0123456789abcdef",
  "",
  "dram donor: 1G free",
  "dram donor: x (size=1 region=1 free=1)",
  "dram donor: x (size=1 region=1 free=1 regions=1) trailing",
  "dram donor: x (size=0 region=0 free=0 regions=0)",
  "dram donor: x (size=4096 region=8192 free=0 regions=0)",
  "dram donor: x (size=4096 region=4096 free=8192 regions=0)",
  "dram donor: x (size=-1 region=4096 free=0 regions=0)",
  "nbdkit memory (size=4096 region=4096 free=4096 regions=0)",
};

START_TEST (capacity_bad)
{
  struct capacity c = { .size = 7 };

  ck_assert_int_eq (capacity_parse (bad_capacities[_i], &c), -1);
  ck_assert_uint_eq (c.size, 7);
  ck_assert_int_eq (capacity_parse (NULL, &c), -1);
}
END_TEST

#define N(a) ((int) (sizeof a / sizeof a[0]))

int
main (void)
{
  TCase *tc = tcase_create ("parse");

  tcase_add_loop_test (tc, size_good, 0, N (good_sizes));
  tcase_add_loop_test (tc, size_bad, 0, N (bad_sizes));
  tcase_add_test (tc, size_null);
  tcase_add_loop_test (tc, uint_table, 0, N (uints));
  tcase_add_loop_test (tc, bool_table, 0, N (bools));
  tcase_add_loop_test (tc, duration_table, 0, N (durations));
  tcase_add_test (tc, meminfo_fake);
  tcase_add_test (tc, capacity_round_trip);
  tcase_add_loop_test (tc, capacity_bad, 0, N (bad_capacities));
  return run_tcase ("parse", tc);
}
