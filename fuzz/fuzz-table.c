/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Fuzzing the region table: export names and region parameters.  The
 * input is lines.  The first lines that hold a '=' are the plugin's
 * parameters, through params_set and params_check as nbdkit gives them
 * (size=, region=, lease=, backing=malloc|memfd, and dir=, which always
 * means a private directory on /dev/shm); budgets over 64 pages are
 * left alone.  Then one operation per line:
 *
 *   o NAME      open the export NAME (any bytes but newline and NUL)
 *   c K         close connection K (modulo those open)
 *   w K P S     write page P of connection K's region, seeded by S
 *   z K         trim connection K's whole region
 *   t MS        advance the clock by MS and expire leases
 *   r           stop and start the donor (every connection closed;
 *               with dir=, the regions come back from their files)
 *
 * A model kept here says what must happen: a name that fits gets a
 * region of its own, zeroed, under an identity never seen before; a
 * name that is open or in its lease gets its region back, bytes and
 * identity; a name that does not fit, or is longer than the protocol
 * allows, is refused; regions are freed at the last close when lease
 * is 0 or they are all holes, and when their lease ends; the capacity
 * and the next expiry the table reports are the model's.  Anything
 * else is a finding.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "params.h"
#include "table.h"

#define PAGE 4096
#define MAX_PAGES 64
#define MAX_NAMES 64
#define MAX_CONNS 32
#define MAX_IDS 256

/* One export name the model knows: its region while it has one. */
struct name {
  char *name;
  bool live;
  unsigned refs;
  uint64_t idle_since;
  char id[IDENTITY_LEN + 1];
  uint8_t page[MAX_PAGES];      /* 0: a hole; else the seed written */
};

static struct {
  struct dram_params params;
  struct table table;
  bool dir;
  uint64_t now, pages;
  struct name names[MAX_NAMES];
  unsigned nr_names;
  struct {
    struct slot *slot;
    struct name *name;
  } conns[MAX_CONNS];
  unsigned nr_conns;
  char ids[MAX_IDS][IDENTITY_LEN + 1];
  unsigned nr_ids;
} m;

static char dir[64];

static uint64_t
fake_clock (void)
{
  return m.now;
}

static void
fill (uint8_t *buf, uint8_t seed, uint64_t page)
{
  uint32_t x = seed * 2654435761u + (uint32_t) page, i;

  for (i = 0; i < PAGE; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (x >> 16) | 1;     /* never a zero byte */
  }
}

/* The region of connection C reads as the model says. */
static void
check_bytes (unsigned c)
{
  const struct name *n = m.conns[c].name;
  struct region *r = &m.conns[c].slot->region;
  uint8_t got[PAGE], want[PAGE];
  uint64_t p;

  if (r->size != m.pages * PAGE)
    fuzz_fail ("region of '%.40s' has %" PRIu64 " bytes, not %" PRIu64,
               n->name, r->size, m.pages * PAGE);
  if (strcmp (r->id, n->id) != 0)
    fuzz_fail ("region of '%.40s' is %s, not %s", n->name, r->id, n->id);
  for (p = 0; p < m.pages; p++) {
    if (region_read (r, got, PAGE, p * PAGE) == -1)
      fuzz_fail ("read of page %" PRIu64 " of '%.40s' failed", p, n->name);
    if (n->page[p])
      fill (want, n->page[p], p);
    else
      memset (want, 0, PAGE);
    if (memcmp (got, want, PAGE) != 0)
      fuzz_fail ("page %" PRIu64 " of '%.40s' holds other bytes (%s)", p,
                 n->name, n->page[p] ? "written" : "a hole");
  }
}

static unsigned
live_regions (void)
{
  unsigned i, live = 0;

  for (i = 0; i < m.nr_names; i++)
    live += m.names[i].live;
  return live;
}

/* Capacity, next expiry and every open connection's bytes. */
static void
check_table (void)
{
  uint64_t free_bytes, next = UINT64_MAX, left, expired;
  unsigned regions, i;

  /* Leases end when the reaper says so: first, as it would. */
  expired = table_expire (&m.table);
  table_capacity (&m.table, &free_bytes, &regions);
  if (regions != live_regions () ||
      free_bytes != m.params.size - (uint64_t) regions * m.pages * PAGE)
    fuzz_fail ("the table reports %u regions and %" PRIu64 " bytes free; "
               "the model has %u", regions, free_bytes, live_regions ());
  for (i = 0; i < m.nr_names; i++) {
    const struct name *n = &m.names[i];

    if (!n->live || n->refs > 0)
      continue;
    left = n->idle_since + m.params.lease_ms - m.now;
    if (left < next)
      next = left;
  }
  if (expired != next)
    fuzz_fail ("the next lease ends in %" PRIu64 " ms, not %" PRIu64,
               expired, next);
  for (i = 0; i < m.nr_conns; i++)
    check_bytes (i);
}

static struct name *
find_name (const char *name)
{
  unsigned i;

  for (i = 0; i < m.nr_names; i++)
    if (strcmp (m.names[i].name, name) == 0)
      return &m.names[i];
  if (m.nr_names == MAX_NAMES)
    return NULL;
  m.names[m.nr_names].name = strdup (name);
  if (m.names[m.nr_names].name == NULL)
    fuzz_fail ("out of memory");
  return &m.names[m.nr_names++];
}

static void
new_identity (const char *id)
{
  unsigned i;

  for (i = 0; i < m.nr_ids; i++)
    if (strcmp (m.ids[i], id) == 0)
      fuzz_fail ("a new region has the identity %s of an old one", id);
  if (m.nr_ids < MAX_IDS)
    memcpy (m.ids[m.nr_ids++], id, IDENTITY_LEN + 1);
}

static void
op_open (const char *name)
{
  struct name *n;
  struct slot *s;
  bool fits;

  if (m.nr_conns == MAX_CONNS)
    return;
  if (strlen (name) > TABLE_NAME_MAX) {
    if (table_open (&m.table, name) != NULL)
      fuzz_fail ("a name of %zu bytes was accepted", strlen (name));
    return;
  }
  n = find_name (name);
  if (n == NULL)
    return;
  fits = n->live || (live_regions () + 1) * m.pages * PAGE <= m.params.size;
  s = table_open (&m.table, name);
  if (!fits) {
    if (s != NULL)
      fuzz_fail ("'%.40s' got a region past the budget", name);
    if (errno != ENOSPC)
      fuzz_fail ("a full table refused '%.40s' with errno %d", name, errno);
    return;
  }
  if (s == NULL)
    fuzz_fail ("'%.40s' was refused with room for it", name);
  if (strcmp (s->name, name) != 0)
    fuzz_fail ("'%.40s' got the region of '%.40s'", name, s->name);
  if (!n->live) {
    new_identity (s->region.id);
    memcpy (n->id, s->region.id, sizeof n->id);
    memset (n->page, 0, sizeof n->page);
    n->live = true;
  }
  n->refs++;
  m.conns[m.nr_conns].slot = s;
  m.conns[m.nr_conns].name = n;
  m.nr_conns++;
}

static bool
all_holes (const struct name *n)
{
  uint64_t p;

  for (p = 0; p < m.pages; p++)
    if (n->page[p])
      return false;
  return true;
}

static void
op_close (unsigned c)
{
  struct name *n;

  if (m.nr_conns == 0)
    return;
  c %= m.nr_conns;
  n = m.conns[c].name;
  table_close (&m.table, m.conns[c].slot);
  m.conns[c] = m.conns[--m.nr_conns];
  if (--n->refs > 0)
    return;
  if (m.params.lease_ms == 0 || all_holes (n))
    n->live = false;
  else
    n->idle_since = m.now;
}

static void
op_write (unsigned c, uint64_t page, uint8_t seed)
{
  uint8_t buf[PAGE];

  if (m.nr_conns == 0)
    return;
  c %= m.nr_conns;
  page %= m.pages;
  seed |= 1;
  fill (buf, seed, page);
  if (region_write (&m.conns[c].slot->region, buf, PAGE, page * PAGE,
                    false) == -1)
    fuzz_fail ("a write to page %" PRIu64 " failed", page);
  m.conns[c].name->page[page] = seed;
}

static void
op_trim (unsigned c)
{
  if (m.nr_conns == 0)
    return;
  c %= m.nr_conns;
  if (region_wipe (&m.conns[c].slot->region) == -1)
    fuzz_fail ("a whole trim failed");
  memset (m.conns[c].name->page, 0, sizeof m.conns[c].name->page);
}

static void
op_time (uint64_t ms)
{
  unsigned i;

  m.now += ms;
  for (i = 0; i < m.nr_names; i++) {
    struct name *n = &m.names[i];

    /* As the table reckons it, overflow and all. */
    if (n->live && n->refs == 0 && n->idle_since + m.params.lease_ms <= m.now)
      n->live = false;
  }
}

/* Empties the private directory (what a run's regions left). */
static void
empty_dir (void)
{
  char path[sizeof dir + 300];
  struct dirent *e;
  DIR *d = opendir (dir);

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.') {
      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      unlink (path);
    }
  closedir (d);
}

static void
remove_dir (void)
{
  empty_dir ();
  rmdir (dir);
}

static void
start (void)
{
  table_init (&m.table, &m.params, m.params.region, m.params.lease_ms,
              fake_clock);
  if (table_load (&m.table) == -1 || table_map (&m.table) == -1)
    fuzz_fail ("the donor did not start again on its own dir=");
}

static void
op_restart (void)
{
  unsigned i;

  while (m.nr_conns > 0)
    op_close (0);
  table_free (&m.table);
  /* Without files the regions are gone; with dir= they come back, and
   * their leases start again.
   */
  for (i = 0; i < m.nr_names; i++) {
    if (!m.dir)
      m.names[i].live = false;
    else if (m.names[i].live)
      m.names[i].idle_since = m.now;
  }
  start ();
}

/* A parameter line, KEY=VALUE (one that reaches outside, file= or mlock=, is
 * left out; dir= is always the private directory).
 */
static void
set_param (char *line)
{
  char *eq = strchr (line, '=');
  const char *value;

  *eq = '\0';
  value = eq + 1;
  if (strcmp (line, "dir") == 0) {
    m.dir = true;
    value = dir;
  }
  else if (strcmp (line, "size") != 0 && strcmp (line, "region") != 0 &&
           strcmp (line, "lease") != 0 && strcmp (line, "backing") != 0)
    return;
  params_set (&m.params, line, value);
}

static void
run_op (const char *line)
{
  unsigned long long a = 0, b = 0, c = 0;

  switch (line[0]) {
  case 'o':
    op_open (line[1] == ' ' ? line + 2 : line + 1);
    break;
  case 'c':
    sscanf (line + 1, "%llu", &a);
    op_close (a);
    break;
  case 'w':
    sscanf (line + 1, "%llu %llu %llu", &a, &b, &c);
    op_write (a, b, c);
    break;
  case 'z':
    sscanf (line + 1, "%llu", &a);
    op_trim (a);
    break;
  case 't':
    sscanf (line + 1, "%llu", &a);
    op_time (a % (24 * 3600 * 1000));
    break;
  case 'r':
    op_restart ();
    break;
  default:
    return;
  }
  check_table ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  size_t i = 0, n, k;
  char **lines = fuzz_split (data, size, &n);

  if (dir[0] == '\0') {
    snprintf (dir, sizeof dir, "/dev/shm/dram-fuzz-table.XXXXXX");
    if (mkdtemp (dir) == NULL)
      fuzz_fail ("mkdtemp: %m");
    atexit (remove_dir);
  }
  memset (&m, 0, sizeof m);
  m.now = 1000;
  for (; i < n && strchr (lines[i], '=') != NULL; i++)
    set_param (lines[i]);
  if (params_check (&m.params, UINT64_MAX) == -1 ||
      m.params.size > MAX_PAGES * PAGE)
    goto out;
  if (m.params.region == 0 || m.params.region % PAGE != 0 ||
      m.params.region > m.params.size)
    fuzz_fail ("region=%" PRIu64 " accepted with size=%" PRIu64,
               m.params.region, m.params.size);
  if (m.params.backing == BACKING_FILE && m.params.dir == NULL)
    fuzz_fail ("backing=file accepted without dir= (file= is left out)");
  m.pages = m.params.region / PAGE;
  fuzz_trace ("table: size=%" PRIu64 " region=%" PRIu64 " lease=%" PRIu64
              " backing=%s", m.params.size, m.params.region,
              m.params.lease_ms, backing_name (m.params.backing));
  start ();
  for (; i < n; i++)
    run_op (lines[i]);
  while (m.nr_conns > 0)
    op_close (0);
  table_free (&m.table);

 out:
  params_free (&m.params);
  for (k = 0; k < m.nr_names; k++)
    free (m.names[k].name);
  empty_dir ();
  free (lines);
  return 0;
}
