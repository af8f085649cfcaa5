/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* What dram-attach does, whatever the front-end: choosing it, the
 * steps they share (swap, the record, helpers), detach and status.
 * Each step that fails undoes the ones before it.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/fs.h>

#include "attach.h"
#include "device.h"
#include "donor.h"
#include "fusetree.h"
#include "health.h"
#include "human.h"
#include "modes.h"
#include "probe.h"
#include "report.h"
#include "state.h"
#include "swap.h"

/* Picks the front-end.  nbd needs the kernel's nbd driver. */
static int
resolve_mode (struct options *o)
{
  switch (o->mode) {
  case MODE_AUTO:
    if (nbd_driver_present (true))
      o->mode = MODE_NBD;
    else {
      dram_error ("no nbd driver on this kernel: using the module-free "
                  "mode (--mode=fuse)");
      o->mode = MODE_FUSE;
    }
    return 0;
  case MODE_FUSE:
  case MODE_NFS:
    return 0;
  case MODE_NBD:
    if (nbd_driver_present (true))
      return 0;
    dram_error ("--mode=nbd: this kernel has no nbd driver (modprobe nbd "
                "failed); --mode=fuse needs no module");
    return -1;
  default:
    dram_error ("--mode=%s is not available in this version of dram-attach",
                mode_name (o->mode));
    return -1;
  }
}

/* Whether PID is a dram-attach process (a pid in a state file may have
 * been reused since).
 */
static bool
is_ours (pid_t pid)
{
  char path[64], comm[64] = "";
  FILE *fp;

  if (pid <= 0)
    return false;
  snprintf (path, sizeof path, "/proc/%d/comm", (int) pid);
  fp = fopen (path, "re");
  if (fp == NULL)
    return false;
  if (fgets (comm, sizeof comm, fp) == NULL)
    comm[0] = '\0';
  fclose (fp);
  return strncmp (comm, "dram-attach", 11) == 0;
}

/* Ends a resident helper: politely, then not. */
void
stop_helper (pid_t pid)
{
  int i;

  if (!is_ours (pid))
    return;
  kill (pid, SIGTERM);
  for (i = 0; i < 100; i++) {
    waitpid (pid, NULL, WNOHANG);       /* reaps it if it is our child */
    if (kill (pid, 0) == -1)
      return;
    usleep (50000);
  }
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
}

int
connect_donor (const struct options *o, struct donor *d)
{
  if (donor_connect (o, d) == -1)
    return -1;
  if (o->swap && d->read_only) {
    dram_error ("donor %s serves a read-only export, which cannot be swap",
                d->name);
    donor_close (d);
    return -1;
  }
  return 0;
}

/* Refuses to write over what the region already holds (another
 * recipient's swap under the same export name, say) unless --force.
 */
static int
check_region_unused (const struct options *o, const struct attach_state *st)
{
  char what[200];
  int r = probe_contents (st->device, what, sizeof what);

  if (r <= 0)
    return r;
  if (o->force) {
    dram_error ("warning: %s: region '%s' of donor %s held %s: "
                "overwritten (--force)", st->device, st->export_name,
                st->donor, what);
    return 0;
  }
  dram_error ("%s: region '%s' of donor %s already holds %s: another "
              "recipient's? choose another export or --force", st->device,
              st->export_name, st->donor, what);
  return -1;
}

int
make_swap (const struct options *o, struct attach_state *st)
{
  uint8_t uuid[SWAP_UUID_LEN];
  int fd, r;

  if (check_region_unused (o, st) == -1)
    return -1;
  if (uuid_generate_v4 (uuid) == -1)
    return -1;
  uuid_format (uuid, st->uuid);
  /* O_EXCL: nobody else may have it open (mounted, swap, another tool). */
  fd = open (st->device, O_RDWR | O_EXCL | O_CLOEXEC);
  if (fd == -1) {
    dram_error ("%s: %m", st->device);
    return -1;
  }
  r = swap_header_write (fd, st->device, st->size, uuid, o->label);
  close (fd);
  if (r == -1)
    return -1;
  return swap_on (st->device, o->priority, o->discard);
}

/* How the record's tls field reads, followed by SEP; "" without TLS. */
static const char *
tls_name (const char *tls, const char *sep)
{
  static char buf[64];

  if (tls[0] == '\0')
    return "";
  snprintf (buf, sizeof buf, "%s%s",
            strcmp (tls, "kernel") == 0 ? "kernel TLS"
            : strcmp (tls, "proxy") == 0 ? "TLS proxy" : "userspace TLS", sep);
  return buf;
}

void
print_attached (const struct attach_state *st)
{
  char size[32];

  format_size (st->size, size, sizeof size);
  printf ("%s: %s %s lent by %s over %u connection%s (%s%s%s)\n",
          st->device, size, st->swap ? "of swap" : "device", st->donor,
          st->connections, st->connections == 1 ? "" : "s",
          tls_name (st->tls, ", "),
          st->handover,
          st->discard ? ", discard" : "");
  fflush (stdout);
}

int
wait_helper_ready (int fd, pid_t pid, const char *what)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char c;

  if (poll (&pfd, 1, CONNECT_WAIT * 1000) == 1 && read (fd, &c, 1) == 1)
    return 0;
  if (waitpid (pid, NULL, WNOHANG) == pid)
    dram_error ("the %s could not start", what);
  else
    dram_error ("the %s did not start within %d seconds", what,
                CONNECT_WAIT);
  return -1;
}

void
fill_state (struct attach_state *st, const char *mode,
            const struct options *o, const struct donor *d)
{
  snprintf (st->mode, sizeof st->mode, "%s", mode);
  snprintf (st->donor, sizeof st->donor, "%s", d->name);
  snprintf (st->export_name, sizeof st->export_name, "%s",
            o->export_name ? o->export_name : "");
  st->size = d->size;
  st->connections = d->nr;
  st->swap = o->swap;
  st->priority = o->priority;
  st->discard = o->discard;
  snprintf (st->label, sizeof st->label, "%s", o->label ? o->label : "");
  st->attached_at = time (NULL);
  st->have_capacity = d->have_capacity;
  st->donor_size = d->capacity.size;
  st->donor_region = d->capacity.region;
  st->donor_free = d->capacity.free_bytes;
  st->donor_regions = d->capacity.regions;
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
  if (resolve_mode (o) == -1)
    return EXIT_REFUSED;
  if (o->mode != MODE_NFS && choose_export (o) == -1)
    return EXIT_REFUSED;
  switch (o->mode) {
  case MODE_FUSE:
    return attach_fuse (o);
  case MODE_NFS:
    return attach_nfs (o);
  case MODE_NBD:
  default:
    return attach_nbd (o);
  }
}

/* The device of the record whose donor or mountpoint is WHAT (an nfs
 * attach is also known by its SERVER:/EXPORT), into DEV; 1 if none.
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
    if (state_load (list[i], &st) == 0 && strcmp (st.mode, "nfs") == 0 &&
        (strcmp (st.donor, what) == 0 || strcmp (st.mountpoint, what) == 0)) {
      snprintf (dev, len, "%s", st.device);
      r = 0;
    }
  }
  state_list_free (list, n);
  return r;
}

static int
detach_mode (const struct attach_state *st)
{
  if (strcmp (st->mode, "fuse") == 0)
    return detach_fuse (st);
  if (strcmp (st->mode, "nfs") == 0)
    return detach_nfs (st);
  return detach_nbd (st);
}

/* The connection as the front-end sees it, and as the resident
 * process that carries it says (H, zeroed when there is none).
 */
static const char *
connection_state (const struct attach_state *st, struct health_report *h)
{
  const char *s;

  memset (h, 0, sizeof *h);
  if (strcmp (st->mode, "fuse") == 0)
    s = fusemode_state (st);
  else if (strcmp (st->mode, "nfs") == 0)
    s = nfsmode_state (st);
  else
    s = nbdmode_state (st);
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
 * keeping it for the lease.  Through the nbd device, or by a hole
 * punched in the FUSE file (the loop device over it is gone with
 * swapoff), which the FUSE server sends on as trims.  Failing, the
 * donor frees it when the lease ends.
 */
static void
trim_region (const struct attach_state *st, bool connected)
{
  uint64_t range[2] = { 0, st->size };
  char file[sizeof st->mountpoint + 16];
  bool fuse = strcmp (st->mode, "fuse") == 0;
  int fd, r;

  if (strcmp (st->mode, "nfs") == 0)
    return;
  if (!connected) {
    dram_debug ("%s: not connected: the region is not trimmed", st->device);
    return;
  }
  snprintf (file, sizeof file, "%s/" FUSE_TREE_FILE, st->mountpoint);
  fd = open (fuse ? file : st->device, O_RDWR | O_CLOEXEC);
  if (fd == -1)
    r = -1;
  else if (fuse)
    r = fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                   st->size);
  else
    r = ioctl (fd, BLKDISCARD, range);
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

  /* An nbd device's monitor first: nothing must reconnect what is
   * being taken down.
   */
  /* Trimmable while the kernel holds the connection, even with no
   * monitor left to remake it.
   */
  state = connection_state (&st, &h);
  connected = strcmp (state, "connected") == 0 ||
              strcmp (state, "monitor gone") == 0;
  stop_helper (st.monitor_pid);
  if (swap_active (NULL, st.device, NULL, NULL) && swap_off (st.device) == -1)
    return EXIT_REFUSED;
  trim_region (&st, connected);
  r = detach_mode (&st);
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

  if (strcmp (st->mode, "nfs") == 0)
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
            tls_name (st.tls, ""));
    print_region (&st);
    if (h.last_error[0])
      printf ("%-12s last error: %s\n", "", h.last_error);
  }
  if (json)
    printf ("%s]\n", n ? "\n" : "");
  state_list_free (list, n);
  return r;
}
