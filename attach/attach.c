/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* What dram-attach does: attach (connect, hand over, make swap),
 * detach (the same in reverse), status.  Each step that fails undoes
 * the ones before it.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "attach.h"
#include "device.h"
#include "donor.h"
#include "human.h"
#include "ioctl.h"
#include "netlink.h"
#include "proxy.h"
#include "report.h"
#include "state.h"
#include "swap.h"

#define BLOCK_SIZE 4096
#define CONNECT_WAIT 10         /* seconds for the device to come up */

/* Picks the front-end.  nbd needs the kernel's nbd driver. */
static int
resolve_mode (struct options *o)
{
  switch (o->mode) {
  case MODE_AUTO:
    if (nbd_driver_present (true)) {
      o->mode = MODE_NBD;
      return 0;
    }
    dram_error ("this kernel has no nbd driver (modprobe nbd failed): the "
                "module-free mode, --mode=fuse, is the way on this machine");
    return -1;
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

/* DRAM_ATTACH_HANDOVER=ioctl: use the fallback even where netlink
 * works, so that tests can prove it on a real kernel.
 */
static bool
force_ioctl (void)
{
  const char *h = getenv ("DRAM_ATTACH_HANDOVER");

  return h && strcmp (h, "ioctl") == 0;
}

/* DRAM_ATTACH_TLS=proxy: the TLS proxy even where kernel TLS works. */
static bool
use_proxy (void)
{
  const char *t = getenv ("DRAM_ATTACH_TLS");

  return t && strcmp (t, "proxy") == 0;
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
static void
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

/* Undoes the hand-over; the resident helpers then have nothing to do. */
static int
disconnect (int index, const char *handover, pid_t doit, pid_t proxy)
{
  int r;

  if (strcmp (handover, "ioctl") == 0)
    r = nbd_ioctl_disconnect (index);
  else {
    r = nbd_netlink_disconnect (index);
    if (r == -2) {
      dram_error ("the kernel's nbd netlink family went away");
      r = -1;
    }
  }
  if (r == 0)
    r = nbd_wait_disconnected (index, CONNECT_WAIT);
  stop_helper (doit);
  stop_helper (proxy);
  return r;
}

/* The kernel keeps its own references to the sockets it was given. */
static void
close_fds (int *fds, unsigned n)
{
  unsigned i;

  for (i = 0; i < n; i++) {
    if (fds[i] >= 0)
      close (fds[i]);
    fds[i] = -1;
  }
}

/* Keeps the kernel's requests within the proxy's buffers. */
static int
limit_request_size (int index)
{
  char path[128];
  FILE *fp;

  snprintf (path, sizeof path, "/sys/block/nbd%d/queue/max_sectors_kb", index);
  fp = fopen (path, "we");
  if (fp == NULL || fprintf (fp, "%d\n", PROXY_MAX_REQUEST / 1024) < 0 ||
      fclose (fp) == EOF) {
    dram_error ("%s: %m", path);
    return -1;
  }
  return 0;
}

static int
make_swap (const struct options *o, struct attach_state *st)
{
  uint8_t uuid[SWAP_UUID_LEN];
  int fd, r;

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

static void
print_attached (const struct attach_state *st)
{
  char size[32];

  format_size (st->size, size, sizeof size);
  printf ("%s: %s %s lent by %s over %u connection%s (%s%s%s)\n",
          st->device, size, st->swap ? "of swap" : "device", st->donor,
          st->connections, st->connections == 1 ? "" : "s",
          st->tls[0] ? (strcmp (st->tls, "kernel") == 0 ? "kernel TLS, "
                                                       : "TLS proxy, ")
                     : "",
          st->handover,
          st->discard ? ", discard" : "");
  fflush (stdout);
}

static int
attach_nbd (const struct options *o)
{
  struct attach_state st;
  struct donor d;
  struct nbd_connect_req req;
  char backend[600], why[256];
  int fds[MAX_CONNECTIONS];
  pid_t proxy = 0, doit = 0;
  int index, r;
  unsigned i;

  memset (&st, 0, sizeof st);
  if (o->device) {
    index = nbd_device_index (o->device);
    if (index == -1 || device_check_unused (o->device, index) == -1)
      return EXIT_USAGE;
  }
  else if ((index = nbd_find_free ()) == -1)
    return EXIT_REFUSED;
  snprintf (st.device, sizeof st.device, "/dev/nbd%d", index);

  if (donor_connect (o, &d) == -1)
    return EXIT_REFUSED;
  if (o->swap && d.read_only) {
    dram_error ("donor %s serves a read-only export, which cannot be swap",
                d.name);
    goto out_close;
  }

  /* The sockets the kernel gets: the donor's own; with TLS, the same
   * with the kernel doing TLS, or failing that the kernel's ends of a
   * resident proxy that does the TLS.
   */
  if (o->tls_psk || o->target.tls_uri) {
    r = use_proxy () ? -1 : donor_take_ktls_sockets (&d, why, sizeof why);
    if (r == -2)
      goto out_close;
    if (r == 0)
      snprintf (st.tls, sizeof st.tls, "kernel");
    else {
      if (!use_proxy ())
        dram_error ("warning: kernel TLS is not possible here (%s); "
                    "using a TLS proxy process instead, which can deadlock "
                    "when swapping under memory pressure", why);
      snprintf (st.tls, sizeof st.tls, "proxy");
      proxy = proxy_start (&d, fds);
      if (proxy == -1)
        goto out_close;
    }
  }
  if (strcmp (st.tls, "proxy") != 0) {
    if (!st.tls[0] && donor_take_sockets (&d) == -1)
      goto out_close;
    for (i = 0; i < d.nr; i++) {
      fds[i] = d.fd[i];
      d.fd[i] = -1;
    }
  }

  snprintf (backend, sizeof backend, "dram:%s", d.name);
  req = (struct nbd_connect_req) {
    .index = index, .size = d.size, .block_size = BLOCK_SIZE,
    .server_flags = donor_kernel_flags (&d), .timeout = o->timeout,
    .fds = fds, .nr_fds = d.nr, .backend = backend,
  };
  snprintf (st.handover, sizeof st.handover, "netlink");
  r = force_ioctl () ? -2 : nbd_netlink_connect (&req);
  if (r == -2) {
    dram_debug ("no nbd netlink family: using the ioctls");
    snprintf (st.handover, sizeof st.handover, "ioctl");
    doit = nbd_ioctl_connect (index, &req);
    r = doit == -1 ? -1 : 0;
  }
  close_fds (fds, d.nr);
  if (r == -1) {
    stop_helper (proxy);
    goto out_close;
  }
  if (nbd_wait_connected (index, doit, CONNECT_WAIT) == -1)
    goto out_disconnect;
  if (proxy > 0 && limit_request_size (index) == -1)
    goto out_disconnect;

  snprintf (st.mode, sizeof st.mode, "nbd");
  snprintf (st.donor, sizeof st.donor, "%s", d.name);
  snprintf (st.export_name, sizeof st.export_name, "%s",
            o->export_name ? o->export_name : "");
  st.size = d.size;
  st.connections = d.nr;
  st.pid = proxy;
  st.doit_pid = doit;
  st.swap = o->swap;
  st.priority = o->priority;
  st.discard = o->discard;
  snprintf (st.label, sizeof st.label, "%s", o->label ? o->label : "");
  st.attached_at = time (NULL);

  if (o->swap && make_swap (o, &st) == -1)
    goto out_disconnect;
  if (state_save (&st) == -1)
    goto out_swapoff;
  donor_close (&d);
  print_attached (&st);
  return EXIT_SUCCESS;

 out_swapoff:
  if (o->swap)
    swap_off (st.device);
 out_disconnect:
  disconnect (index, st.handover, doit, proxy);
 out_close:
  donor_close (&d);
  return EXIT_REFUSED;
}

int
attach_run (struct options *o)
{
  if (resolve_mode (o) == -1)
    return EXIT_REFUSED;
  return attach_nbd (o);
}

static int
detach_one (const char *dev)
{
  struct attach_state st;
  int r, index;

  r = state_load (dev, &st);
  if (r == 1) {
    dram_error ("%s was not attached by dram-attach (nothing in %s)", dev,
                state_dir ());
    return EXIT_USAGE;
  }
  if (r == -1)
    return EXIT_REFUSED;

  if (swap_active (NULL, st.device, NULL, NULL) && swap_off (st.device) == -1)
    return EXIT_REFUSED;
  index = nbd_device_index (st.device);
  if (index == -1)
    return EXIT_REFUSED;
  if (nbd_connected (index) &&
      disconnect (index, st.handover, st.doit_pid, st.pid) == -1)
    return EXIT_REFUSED;
  stop_helper (st.doit_pid);
  stop_helper (st.pid);
  if (state_remove (st.device) == -1)
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

/* The connection as the kernel sees it. */
static const char *
connection_state (const struct attach_state *st)
{
  int index = nbd_device_index (st->device);

  if (index >= 0 && nbd_connected (index))
    return "connected";
  return "disconnected";
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

static void
status_json_one (const struct attach_state *st, bool active, uint64_t used,
                 int prio, bool first)
{
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
  json_string (connection_state (st));
  printf (", \"uuid\": ");
  json_string (st->uuid);
  printf (", \"attached_at\": %" PRId64 "}", st->attached_at);
}

int
status_run (bool json)
{
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
    printf ("%-12s %-5s %-24s %8s %8s %5s %5s %s\n", "DEVICE", "MODE",
            "DONOR", "SIZE", "USED", "PRIO", "CONNS", "STATE");
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
    printf ("%-12s %-5s %-24s %8s %8s %5s %5u %s%s\n", st.device, st.mode,
            st.donor, size, used_s, prio_s, st.connections,
            connection_state (&st),
            st.tls[0] ? (strcmp (st.tls, "kernel") == 0 ? ", kernel TLS"
                                                        : ", TLS proxy")
                      : "");
  }
  if (json)
    printf ("%s]\n", n ? "\n" : "");
  state_list_free (list, n);
  return r;
}
