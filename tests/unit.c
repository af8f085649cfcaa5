/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit test support: dram_error and dram_debug for the tests (a test
 * checks the message its bad input produced), and the suite runner.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "report.h"
#include "unit.h"

char last_error[1024];

void
clear_error (void)
{
  last_error[0] = '\0';
}

void
dram_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (last_error, sizeof last_error, fmt, ap);
  va_end (ap);
  if (getenv ("DRAM_TEST_VERBOSE"))
    fprintf (stderr, "error: %s\n", last_error);
}

void
dram_report_in_background (const char *ident, int fd)
{
}

void
dram_report_flush (void)
{
}

void
dram_debug (const char *fmt, ...)
{
  va_list ap;

  if (getenv ("DRAM_TEST_VERBOSE") == NULL)
    return;
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

int
run_tcase (const char *name, TCase *tc)
{
  Suite *s = suite_create (name);
  SRunner *sr;
  int failed;

  suite_add_tcase (s, tc);
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void
fill_pattern (unsigned char *buf, size_t n, unsigned seed)
{
  size_t i;

  for (i = 0; i < n; i++)
    buf[i] = (unsigned char) ((i * 131 + seed * 7 + 1) | 1);
}

bool
all_zero (const unsigned char *buf, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (buf[i])
      return false;
  return true;
}
