/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Fuzzing the plugin's parameters.  Each line of the input is a
 * key=value for params_set (a line without '=' is a bare size, as
 * nbdkit passes `nbdkit dram 1G`); then params_check.  What is
 * accepted must be what the region relies on, and params_free must
 * leave nothing behind (LeakSanitizer sees to that).
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "params.h"
#include "parse.h"

#define MEMTOTAL (UINT64_C (8) << 30)

static const char *const known_keys[] = {
  "size", "backing", "file", "dir", "allow-disk", "mlock", "reserve",
  "force", "insecure",
};
#define NR_KNOWN (sizeof known_keys / sizeof known_keys[0])

/* Feeds one line; a key accepted twice, or one the plugin does not
 * have, is a finding.
 */
static void
set_line (struct dram_params *p, char *line, unsigned *accepted)
{
  char *eq = strchr (line, '=');
  const char *key = "size", *value = line;
  int i;

  if (eq) {
    *eq = '\0';
    key = line;
    value = eq + 1;
  }
  if (params_set (p, key, value) == -1)
    return;
  i = choice_index (known_keys, NR_KNOWN, key);
  if (i == -1)
    fuzz_fail ("unknown key '%s' accepted", key);
  if (*accepted & (1u << i))
    fuzz_fail ("key '%s' accepted twice", key);
  *accepted |= 1u << i;
}

/* What region_open takes for granted once params_check has passed. */
static void
check_accepted (const struct dram_params *p)
{
  uint64_t size;

  if (p->size_str == NULL || p->size == 0 || p->size % 4096 != 0)
    fuzz_fail ("size=%s (%llu) accepted", p->size_str ? p->size_str : "(none)",
               (unsigned long long) p->size);
  if (parse_size ("size", p->size_str, &size) == -1 || size != p->size)
    fuzz_fail ("size=%s is not %llu bytes", p->size_str,
               (unsigned long long) p->size);
  if (p->size > MEMTOTAL && !p->force)
    fuzz_fail ("size=%s larger than MemTotal accepted without force",
               p->size_str);
  if (backing_name (p->backing) == NULL)
    fuzz_fail ("backing %d has no name", (int) p->backing);
  if (p->backing == BACKING_FILE) {
    if ((p->file == NULL) == (p->dir == NULL))
      fuzz_fail ("backing=file accepted without exactly one of file=, dir=");
  }
  else if (p->file || p->dir || p->allow_disk)
    fuzz_fail ("backing=%s with file=, dir= or allow-disk=",
               backing_name (p->backing));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct dram_params p;
  unsigned accepted = 0;
  size_t i, n;
  char **lines = fuzz_split (data, size, &n);

  memset (&p, 0, sizeof p);
  for (i = 0; i < n; i++)
    set_line (&p, lines[i], &accepted);
  if (params_check (&p, MEMTOTAL) == 0)
    check_accepted (&p);
  params_free (&p);
  if (p.size_str || p.file || p.dir || p.seen)
    fuzz_fail ("params_free left something behind");
  free (lines);
  return 0;
}
