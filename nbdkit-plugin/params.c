/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The plugin's parameters: parsing each one, then checking them
 * together.  Nothing here touches memory or files, so all of it runs
 * before the region is created.
 */

#include <config.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "parse.h"
#include "report.h"

#define REGION_ALIGN 4096

static const char *const backing_names[] = {
  [BACKING_MALLOC] = "malloc",
  [BACKING_MEMFD] = "memfd",
  [BACKING_FILE] = "file",
};

const char *
backing_name (enum dram_backing b)
{
  return backing_names[b];
}

static int
set_backing (struct dram_params *p, const char *value)
{
  int i = choice_index (backing_names,
                        sizeof backing_names / sizeof backing_names[0], value);

  if (i == -1) {
    dram_error ("backing=%s: unknown backing (use malloc, memfd or file)",
                value);
    return -1;
  }
  p->backing = i;
  p->have_backing = true;
  return 0;
}

static int
set_string (char **dst, const char *key, const char *value)
{
  if (*value == '\0') {
    dram_error ("%s= must not be empty", key);
    return -1;
  }
  *dst = strdup (value);
  if (*dst == NULL) {
    dram_error ("strdup: %m");
    return -1;
  }
  return 0;
}

/* Each key, where its value goes, and whether it was seen (so that a
 * repeated key is refused instead of silently overriding).
 */
enum key_kind { KEY_SIZE, KEY_REGION, KEY_LEASE, KEY_BACKING, KEY_STRING,
                KEY_BOOL };

struct key {
  const char *name;
  enum key_kind kind;
  size_t offset;                /* into struct dram_params */
};

static const struct key keys[] = {
  { "size", KEY_SIZE, offsetof (struct dram_params, size) },
  { "region", KEY_REGION, 0 },
  { "lease", KEY_LEASE, 0 },
  { "backing", KEY_BACKING, 0 },
  { "file", KEY_STRING, offsetof (struct dram_params, file) },
  { "dir", KEY_STRING, offsetof (struct dram_params, dir) },
  { "allow-disk", KEY_BOOL, offsetof (struct dram_params, allow_disk) },
  { "mlock", KEY_BOOL, offsetof (struct dram_params, mlock) },
  { "reserve", KEY_BOOL, offsetof (struct dram_params, reserve) },
  { "force", KEY_BOOL, offsetof (struct dram_params, force) },
  { "insecure", KEY_BOOL, offsetof (struct dram_params, insecure) },
};

#define NR_KEYS (sizeof keys / sizeof keys[0])

/* Which keys have been given; one bit per entry of keys[]. */
static unsigned
seen_bit (const struct key *k)
{
  return 1u << (k - keys);
}

int
params_set (struct dram_params *p, const char *key, const char *value)
{
  const struct key *k = NULL;
  char *base = (char *) p;
  size_t i;

  for (i = 0; i < NR_KEYS; i++) {
    if (strcmp (key, keys[i].name) == 0) {
      k = &keys[i];
      break;
    }
  }
  if (k == NULL) {
    dram_error ("unknown parameter '%s' (see nbdkit dram --help)", key);
    return -1;
  }
  if (p->seen & seen_bit (k)) {
    dram_error ("%s= given more than once", key);
    return -1;
  }

  switch (k->kind) {
  case KEY_SIZE:
    if (parse_size ("size", value, &p->size) == -1 ||
        set_string (&p->size_str, key, value) == -1)
      return -1;
    break;
  case KEY_REGION:
    if (parse_size ("region", value, &p->region) == -1 ||
        set_string (&p->region_str, key, value) == -1)
      return -1;
    break;
  case KEY_LEASE:
    if (parse_duration ("lease", value, &p->lease_ms) == -1)
      return -1;
    p->have_lease = true;
    break;
  case KEY_BACKING:
    if (set_backing (p, value) == -1)
      return -1;
    break;
  case KEY_STRING:
    if (set_string ((char **) (base + k->offset), key, value) == -1)
      return -1;
    break;
  case KEY_BOOL:
    if (parse_bool (key, value, (bool *) (base + k->offset)) == -1)
      return -1;
    break;
  }
  p->seen |= seen_bit (k);
  return 0;
}

int
params_check (struct dram_params *p, uint64_t memtotal)
{
  if (p->size_str == NULL) {
    dram_error ("size= is required (for example size=1G)");
    return -1;
  }
  if (p->size == 0) {
    dram_error ("size=%s: must be greater than 0", p->size_str);
    return -1;
  }
  if (p->size % REGION_ALIGN != 0) {
    dram_error ("size=%s (%llu bytes) is not a multiple of %d",
                p->size_str, (unsigned long long) p->size, REGION_ALIGN);
    return -1;
  }

  if (!p->have_lease)
    p->lease_ms = DEFAULT_LEASE_MS;
  if (p->region_str == NULL)
    p->region = p->size;
  else if (p->region == 0) {
    dram_error ("region=%s: must be greater than 0", p->region_str);
    return -1;
  }
  else if (p->region % REGION_ALIGN != 0) {
    dram_error ("region=%s (%llu bytes) is not a multiple of %d",
                p->region_str, (unsigned long long) p->region, REGION_ALIGN);
    return -1;
  }
  else if (p->region > p->size) {
    dram_error ("region=%s is larger than size=%s, the donor's whole "
                "budget", p->region_str, p->size_str);
    return -1;
  }
  if (p->file && p->region != p->size) {
    dram_error ("file= holds a single region: give region= the same as "
                "size=, or use dir=DIR for a file per region");
    return -1;
  }

  /* file= or dir= alone mean backing=file. */
  if (!p->have_backing && (p->file || p->dir))
    p->backing = BACKING_FILE;
  if (p->backing == BACKING_FILE) {
    if (p->file == NULL && p->dir == NULL) {
      dram_error ("backing=file needs file=PATH or dir=DIR");
      return -1;
    }
    if (p->file && p->dir) {
      dram_error ("file= and dir= cannot both be given");
      return -1;
    }
  }
  else {
    if (p->file || p->dir) {
      dram_error ("%s= only applies to backing=file, not backing=%s",
                  p->file ? "file" : "dir", backing_name (p->backing));
      return -1;
    }
    if (p->allow_disk) {
      dram_error ("allow-disk=true only applies to backing=file");
      return -1;
    }
  }

  if (p->size > memtotal && !p->force) {
    dram_error ("size=%s (%llu bytes) is larger than this machine's RAM "
                "(MemTotal %llu bytes); use force=true to serve it anyway",
                p->size_str, (unsigned long long) p->size,
                (unsigned long long) memtotal);
    return -1;
  }
  return 0;
}

void
params_free (struct dram_params *p)
{
  free (p->size_str);
  free (p->region_str);
  free (p->file);
  free (p->dir);
  memset (p, 0, sizeof *p);
}
