/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* What dram-attach does, whatever the front-end: choosing it, detach
 * and status.  The steps the front-ends share are files of their own
 * (makeswap.c, record.c, helper.c).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "donor.h"
#include "health.h"
#include "human.h"
#include "modes.h"
#include "report.h"
#include "state.h"
#include "swap.h"

/* The front-ends, in the order --mode=auto tries them. */
static const struct attach_mode *const modes[] = {
  &nbd_mode, &fuse_mode, &nfs_mode,
};
#define NR_MODES (sizeof modes / sizeof modes[0])

static bool
available (const struct attach_mode *m, bool asked)
{
  return m->available == NULL || m->available (asked);
}

/* Picks the front-end: the one asked for, if it can run here, or the
 * first that can.  Returns NULL after reporting.
 */
static const struct attach_mode *
resolve_mode (struct options *o)
{
  size_t i;

  for (i = 0; i < NR_MODES; i++) {
    if (o->mode == MODE_AUTO && modes[i]->automatic &&
        available (modes[i], false)) {
      o->mode = modes[i]->mode;
      return modes[i];
    }
    if (o->mode == modes[i]->mode)
      return available (modes[i], true) ? modes[i] : NULL;
  }
  dram_error ("--mode=%s is not available in this version of dram-attach",
              mode_name (o->mode));
  return NULL;
}

/* The front-end of a record (the first for a record that names none
 * it knows).
 */
static const struct attach_mode *
record_mode (const struct attach_state *st)
{
  size_t i;

  for (i = 0; i < NR_MODES; i++)
    if (strcmp (st->mode, modes[i]->name) == 0)
      return modes[i];
  return modes[0];
}

/* The export name a recipient asks for by default: a region of its
 * own, named by this host and 128 random bits, so that no other client
 * can guess it.  A URI's export is used as given.
 */
static int
choose_export (struct options *o)
{
  char host[65] = "", token[IDENTITY_LEN + 1];

  if (o->export_name || o->target.transport == T_URI)
    return 0;
  if (gethostname (host, sizeof host - 1) == -1 || host[0] == '\0')
    snprintf (host, sizeof host, "dram");
  if (identity_new (token) == -1)
    return -1;
  if (asprintf (&o->export_name, "%s-%s", host, token) == -1) {
    o->export_name = NULL;
    dram_error ("malloc: %m");
    return -1;
  }
  return 0;
}

int
attach_run (struct options *o)
{
  const struct attach_mode *m = resolve_mode (o);

  if (m == NULL)
    return EXIT_REFUSED;
  if (m->region && choose_export (o) == -1)
    return EXIT_REFUSED;
  return m->attach (o);
}

/* The device of the record that is also known as WHAT (an nfs attach
 * by its SERVER:/EXPORT or its mountpoint), into DEV; 1 if none.
 */
static int
find_record (const char *what, char *dev, size_t len)
{
  struct attach_state st;
  char **list;
  size_t n, i;
  int r = 1;

  list = state_list (&n);
  if (list == NULL)
    return -1;
  for (i = 0; i < n && r == 1; i++) {
    if (state_load (list[i], &st) == 0 && record_mode (&st)->known_as &&
        record_mode (&st)->known_as (&st, what)) {
      snprintf (dev, len, "%s", st.device);
      r = 0;
    }
  }
  state_list_free (list, n);
  return r;
}

/* The connection as the front-end sees it, and as the resident
 * process that carries it says (H, zeroed when there is none).
 */
static const char *
connection_state (const struct attach_state *st, struct health_report *h)
{
  const char *s;

  memset (h, 0, sizeof *h);
  s = record_mode (st)->state (st);
  if (st->health[0] == '\0' || health_read (st->health, h) == -1) {
    memset (h, 0, sizeof *h);
    return s;
  }
  /* A device given up on stays failed, connected or not; otherwise the
   * process knows better while the front-end sees it connected.
   */
  if (strcmp (h->state, "failed") == 0)
    return h->state;
  return strcmp (s, "connected") == 0 ? h->state : s;
}

/* Gives the whole region back before letting go of it: a donor frees
 * a region trimmed whole when its last connection closes, instead of
 * keeping it for the lease (the front-end's trim).  Failing, the donor
 * frees it when the lease ends.
 */
static void
trim_region (const struct attach_mode *m, const struct attach_state *st,
             bool connected)
{
  char file[sizeof st->mountpoint + 16];
  int fd, r;

  if (m->trim == NULL)
    return;
  if (!connected) {
    dram_debug ("%s: not connected: the region is not trimmed", st->device);
    return;
  }
  m->trim_file (st, file, sizeof file);
  fd = open (file, O_RDWR | O_CLOEXEC);
  if (fd == -1)
    r = -1;
  else
    r = m->trim (fd, st->size);
  if (r == -1)
    dram_error ("warning: %s: cannot trim the region (%m): donor %s frees "
                "it when its lease ends", st->device, st->donor);
  else
    dram_debug ("%s: %" PRIu64 " bytes trimmed", st->device, st->size);
  if (fd != -1)
    close (fd);
}

/* Swap first, then what the front-end built. */
static int
detach_one (const char *what)
{
  const struct attach_mode *m;
  struct health_report h;
  struct attach_state st;
  char found[sizeof st.device];
  const char *dev = what, *state;
  bool connected;
  int r;

  r = state_load (dev, &st);
  if (r == 1 && find_record (what, found, sizeof found) == 0) {
    dev = found;
    r = state_load (dev, &st);
  }
  if (r == 1) {
    dram_error ("%s was not attached by dram-attach (nothing in %s)", dev,
                state_dir ());
    return EXIT_USAGE;
  }
  if (r == -1)
    return EXIT_REFUSED;

  /* Trimmable while the kernel holds the connection, even with no
   * monitor left to remake it.
   */
  m = record_mode (&st);
  state = connection_state (&st, &h);
  connected = strcmp (state, "connected") == 0 ||
              strcmp (state, "monitor gone") == 0;
  /* Nothing must reconnect what is being taken down. */
  if (m->quiesce)
    m->quiesce (&st);
  if (swap_active (NULL, st.device, NULL, NULL) && swap_off (st.device) == -1)
    return EXIT_REFUSED;
  trim_region (m, &st, connected);
  r = m->detach (&st);
  if (r == -1 || state_remove (st.device) == -1)
    return EXIT_REFUSED;
  printf ("%s: detached from %s\n", st.device, st.donor);
  return EXIT_SUCCESS;
}

int
detach_run (const char *what)
{
  char **list;
  size_t n, i;
  int r, worst = EXIT_SUCCESS;

  if (strcmp (what, "all") != 0)
    return detach_one (what);
  list = state_list (&n);
  if (list == NULL)
    return EXIT_REFUSED;
  for (i = 0; i < n; i++) {
    r = detach_one (list[i]);
    if (r > worst)
      worst = r;
  }
  state_list_free (list, n);
  return worst;
}

static void
json_string (const char *s)
{
  putchar ('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      printf ("\\%c", *s);
    else if ((unsigned char) *s < 0x20)
      printf ("\\u%04x", *s);
    else
      putchar (*s);
  }
  putchar ('"');
}

/* The region's name for people: a token (the secret part of a name
 * dram-attach chose) shortened to its first 8 digits, a long name cut.
 */
static void
short_export (const char *name, char *buf, size_t len)
{
  size_t n = strlen (name);

  if (n > IDENTITY_LEN && name[n - IDENTITY_LEN - 1] == '-' &&
      identity_valid (name + n - IDENTITY_LEN))
    snprintf (buf, len, "%.*s...", (int) (n - IDENTITY_LEN + 8), name);
  else if (n > 40)
    snprintf (buf, len, "%.37s...", name);
  else
    snprintf (buf, len, "%s", name[0] ? name : "(default)");
}

static void
status_json_one (const struct attach_state *st, bool active, uint64_t used,
                 int prio, bool first)
{
  struct health_report h;
  const char *state = connection_state (st, &h);

  printf ("%s\n  {\"device\": ", first ? "" : ",");
  json_string (st->device);
  printf (", \"mode\": ");
  json_string (st->mode);
  printf (", \"donor\": ");
  json_string (st->donor);
  printf (", \"export\": ");
  json_string (st->export_name);
  printf (", \"size\": %" PRIu64 ", \"swap\": %s, \"used\": %" PRIu64
          ", \"priority\": %d, \"discard\": %s, \"connections\": %u"
          ", \"tls\": \"%s\", \"handover\": ",
          st->size, active ? "true" : "false", used * 1024,
          active ? prio : st->priority, st->discard ? "true" : "false",
          st->connections, st->tls[0] ? st->tls : "none");
  json_string (st->handover);
  printf (", \"state\": ");
  json_string (state);
  printf (", \"reconnects\": %u, \"last_error\": ", h.reconnects);
  json_string (h.last_error);
  printf (", \"uuid\": ");
  json_string (st->uuid);
  printf (", \"attached_at\": %" PRId64 ", \"donor_capacity\": ",
          st->attached_at);
  if (st->have_capacity)
    printf ("{\"size\": %" PRIu64 ", \"region\": %" PRIu64 ", \"free\": %"
            PRIu64 ", \"regions\": %u}", st->donor_size, st->donor_region,
            st->donor_free, st->donor_regions);
  else
    printf ("null");
  putchar ('}');
}

/* --status's second line: the region, and what the donor had left. */
static void
print_region (const struct attach_state *st)
{
  struct capacity c = {
    .size = st->donor_size, .region = st->donor_region,
    .free_bytes = st->donor_free, .regions = st->donor_regions,
  };
  char name[64], summary[128];

  if (!record_mode (st)->region)
    return;
  short_export (st->export_name, name, sizeof name);
  if (st->have_capacity) {
    capacity_summary (&c, summary, sizeof summary);
    printf ("%-12s region %s; the donor had %s when attached\n", "", name,
            summary);
  }
  else
    printf ("%-12s region %s\n", "", name);
}

int
status_run (bool json)
{
  struct health_report h;
  const char *state;
  struct attach_state st;
  char **list, size[32], used_s[32], prio_s[16];
  uint64_t used;
  size_t n, i;
  int prio, r = EXIT_SUCCESS;
  bool active;

  list = state_list (&n);
  if (list == NULL)
    return EXIT_REFUSED;
  if (json)
    printf ("[");
  else if (n > 0)
    printf ("%-12s %-5s %-24s %8s %8s %5s %5s %6s %s\n", "DEVICE", "MODE",
            "DONOR", "SIZE", "USED", "PRIO", "CONNS", "RECONN", "STATE");
  for (i = 0; i < n; i++) {
    if (state_load (list[i], &st) != 0) {
      r = EXIT_REFUSED;
      continue;
    }
    used = 0;
    prio = 0;
    active = swap_active (NULL, st.device, &used, &prio);
    if (json) {
      status_json_one (&st, active, used, prio, i == 0);
      continue;
    }
    format_size (st.size, size, sizeof size);
    if (active) {
      format_size (used * 1024, used_s, sizeof used_s);
      snprintf (prio_s, sizeof prio_s, "%d", prio);
    }
    else {
      snprintf (used_s, sizeof used_s, "-");
      snprintf (prio_s, sizeof prio_s, "-");
    }
    state = connection_state (&st, &h);
    printf ("%-12s %-5s %-24s %8s %8s %5s %5u %6u %s%s%s\n", st.device,
            st.mode, st.donor, size, used_s, prio_s, st.connections,
            h.reconnects, state, st.tls[0] ? ", " : "",
            state_tls_name (st.tls, ""));
    print_region (&st);
    if (h.last_error[0])
      printf ("%-12s last error: %s\n", "", h.last_error);
  }
  if (json)
    printf ("%s]\n", n ? "\n" : "");
  state_list_free (list, n);
  return r;
}
