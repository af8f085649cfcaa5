/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Checked parsers for the values users type: sizes, counts, booleans. */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"
#include "report.h"

/* Reads the leading decimal digits of STR.  Unlike plain strtoull it
 * refuses signs, spaces and empty input, and reports overflow.
 */
static int
parse_digits (const char *what, const char *str, uint64_t *ret,
              const char **end)
{
  char *e;
  unsigned long long v;

  if (str == NULL || *str < '0' || *str > '9') {
    dram_error ("%s: '%s' is not a number", what, str ? str : "");
    return -1;
  }
  errno = 0;
  v = strtoull (str, &e, 10);
  if (errno == ERANGE) {
    dram_error ("%s: '%s' is too large", what, str);
    return -1;
  }
  *ret = v;
  *end = e;
  return 0;
}

int
parse_size (const char *what, const char *str, uint64_t *ret)
{
  static const char suffixes[] = "kmgtpe";
  const char *end, *p;
  uint64_t v;
  unsigned shift = 0;

  if (parse_digits (what, str, &v, &end) == -1)
    return -1;

  if (*end != '\0') {
    if (*end == 'b' || *end == 'B')
      shift = 0;
    else if ((p = strchr (suffixes, tolower ((unsigned char) *end))) != NULL)
      shift = 10 * (unsigned) (p - suffixes + 1);
    else
      goto bad_suffix;
    end++;
    /* Also accept "KiB", "MiB", ... and "KB", since operators type them. */
    if (shift && (strcmp (end, "iB") == 0 || strcmp (end, "B") == 0))
      end += strlen (end);
    if (*end != '\0')
      goto bad_suffix;
  }

  if (shift && v > (UINT64_C (0x7fffffffffffffff) >> shift)) {
    dram_error ("%s: '%s' is too large", what, str);
    return -1;
  }
  v <<= shift;
  if (v > UINT64_C (0x7fffffffffffffff)) {
    dram_error ("%s: '%s' is too large", what, str);
    return -1;
  }
  *ret = v;
  return 0;

 bad_suffix:
  dram_error ("%s: '%s' has an unknown unit (use b, K, M, G, T, P or E)",
              what, str);
  return -1;
}

int
parse_uint (const char *what, const char *str,
            uint64_t min, uint64_t max, uint64_t *ret)
{
  const char *end;
  uint64_t v;

  if (parse_digits (what, str, &v, &end) == -1)
    return -1;
  if (*end != '\0') {
    dram_error ("%s: '%s' is not a number", what, str);
    return -1;
  }
  if (v < min || v > max) {
    dram_error ("%s: %s is out of range (%llu..%llu)", what, str,
                (unsigned long long) min, (unsigned long long) max);
    return -1;
  }
  *ret = v;
  return 0;
}

int
parse_duration (const char *what, const char *str, uint64_t *ms)
{
  static const struct { char unit; uint64_t ms; } units[] = {
    { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
  };
  const char *end;
  uint64_t v, scale = 1000;
  size_t i;

  if (parse_digits (what, str, &v, &end) == -1)
    return -1;
  if (*end != '\0') {
    scale = 0;
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
      if (end[0] == units[i].unit && end[1] == '\0')
        scale = units[i].ms;
    if (scale == 0) {
      dram_error ("%s: '%s' is not a duration (a number with s, m, h or "
                  "d, e.g. 5m)", what, str);
      return -1;
    }
  }
  if (v > UINT64_MAX / scale) {
    dram_error ("%s: '%s' is too large", what, str);
    return -1;
  }
  *ms = v * scale;
  return 0;
}

int
parse_bool (const char *what, const char *str, bool *ret)
{
  static const char *const truths[] = { "1", "true", "yes", "on" };
  static const char *const lies[] = { "0", "false", "no", "off" };
  size_t i;

  for (i = 0; i < sizeof truths / sizeof truths[0]; i++) {
    if (strcasecmp (str, truths[i]) == 0) {
      *ret = true;
      return 0;
    }
    if (strcasecmp (str, lies[i]) == 0) {
      *ret = false;
      return 0;
    }
  }
  dram_error ("%s: '%s' is not a boolean (use true or false)", what, str);
  return -1;
}

int
choice_index (const char *const *names, size_t n, const char *str)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (names[i] && strcmp (str, names[i]) == 0)
      return i;
  return -1;
}
