/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The nbd front-end: the kernel's NBD driver talks to the donor over
 * the sockets dram-attach hands it (netlink, or the old ioctls), with
 * TLS done by the kernel where it can be (ktls.c) and by a resident
 * proxy where it cannot (proxy.c).
 */

#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "device.h"
#include "donor.h"
#include "ioctl.h"
#include "modes.h"
#include "nbdmonitor.h"
#include "netlink.h"
#include "proxy.h"
#include "report.h"
#include "state.h"
#include "swap.h"

#define DEVICE_BLOCK_SIZE 4096

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

/* Undoes the hand-over; the resident helpers then have nothing to do.
 * The monitor goes first, so that it does not reconnect what is being
 * taken down.
 */
static int
disconnect (int index, const char *handover, pid_t doit, pid_t proxy,
            pid_t monitor)
{
  int r;

  stop_helper (monitor);
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

/* Lost connections are remade only with the netlink hand-over and no
 * process in the data path: says so once otherwise.
 */
static unsigned
no_reconnect (unsigned reconnect, const char *how)
{
  if (reconnect > 0)
    dram_error ("warning: with %s a lost connection to the donor is not "
                "remade: the device fails", how);
  return 0;
}

/* $DRAM_RUNDIR/nbdINDEX.health, the monitor's health record. */
static int
health_path (int index, char *path, size_t len)
{
  if (mkdir (state_dir (), 0755) == -1 && errno != EEXIST) {
    dram_error ("%s: %m", state_dir ());
    return -1;
  }
  if ((size_t) snprintf (path, len, "%s/nbd%d.health", state_dir (), index)
      >= len) {
    dram_error ("DRAM_RUNDIR is too long");
    return -1;
  }
  return 0;
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
attach_nbd (const struct options *o)
{
  struct attach_state st;
  struct donor d;
  struct nbd_connect_req req;
  char backend[600], why[256];
  int fds[MAX_CONNECTIONS];
  pid_t proxy = 0, doit = 0, monitor = 0;
  unsigned i, reconnect;
  int index, r;

  memset (&st, 0, sizeof st);
  if (o->device) {
    index = nbd_device_index (o->device);
    if (index == -1 || device_check_unused (o->device, index) == -1)
      return EXIT_USAGE;
  }
  else if ((index = nbd_find_free ()) == -1)
    return EXIT_REFUSED;
  snprintf (st.device, sizeof st.device, "/dev/nbd%d", index);

  if (connect_donor (o, &d) == -1)
    return EXIT_REFUSED;
  reconnect = donor_reconnect_time (o, &d);

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
      reconnect = no_reconnect (reconnect, "the TLS proxy");
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
    .index = index, .size = d.size, .block_size = DEVICE_BLOCK_SIZE,
    .server_flags = donor_kernel_flags (&d), .timeout = o->timeout,
    .dead_conn_timeout = reconnect,
    .fds = fds, .nr_fds = d.nr, .backend = backend,
  };
  snprintf (st.handover, sizeof st.handover, "netlink");
  r = force_ioctl () ? -2 : nbd_netlink_connect (&req);
  if (r == -2) {
    dram_debug ("no nbd netlink family: using the ioctls");
    snprintf (st.handover, sizeof st.handover, "ioctl");
    reconnect = no_reconnect (reconnect, "the ioctl hand-over");
    doit = nbd_ioctl_connect (index, &req);
    r = doit == -1 ? -1 : 0;
  }
  if (r == -1) {
    close_fds (fds, d.nr);
    stop_helper (proxy);
    goto out_close;
  }
  if (nbd_wait_connected (index, doit, CONNECT_WAIT) == -1) {
    close_fds (fds, d.nr);
    goto out_disconnect;
  }
  /* Listening before swap can need it; it keeps the sockets' copies.
   * Over netlink it runs even with no way back (--reconnect-timeout 0,
   * a donor that names no region), to record a lost donor as failed
   * and fail the device at once.
   */
  if (strcmp (st.handover, "netlink") == 0 && proxy <= 0) {
    if (health_path (index, st.health, sizeof st.health) == -1)
      monitor = -1;
    else
      monitor = nbd_monitor_start (o, &d, index, backend, reconnect,
                                   strcmp (st.tls, "kernel") == 0, fds,
                                   d.nr, st.health);
  }
  close_fds (fds, d.nr);
  if (monitor == -1) {
    monitor = 0;
    goto out_disconnect;
  }
  if (proxy > 0 && limit_request_size (index) == -1)
    goto out_disconnect;

  fill_state (&st, "nbd", o, &d);
  st.pid = proxy;
  st.doit_pid = doit;
  st.monitor_pid = monitor;

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
  disconnect (index, st.handover, doit, proxy, monitor);
  if (st.health[0])
    unlink (st.health);
 out_close:
  donor_close (&d);
  return EXIT_REFUSED;
}

static bool
nbdmode_available (bool asked)
{
  if (nbd_driver_present (true))
    return true;
  if (asked)
    dram_error ("--mode=nbd: this kernel has no nbd driver (modprobe nbd "
                "failed); --mode=fuse needs no module");
  else
    dram_error ("no nbd driver on this kernel: using the module-free "
                "mode (--mode=fuse)");
  return false;
}

/* The monitor first: nothing must reconnect what is being taken down. */
static void
nbdmode_quiesce (const struct attach_state *st)
{
  stop_helper (st->monitor_pid);
}

/* Through the device: the kernel sends it on as a trim. */
static void
nbdmode_trim_file (const struct attach_state *st, char *buf, size_t len)
{
  snprintf (buf, len, "%s", st->device);
}

static int
nbdmode_trim (int fd, uint64_t size)
{
  uint64_t range[2] = { 0, size };

  return ioctl (fd, BLKDISCARD, range);
}

static int
detach_nbd (const struct attach_state *st)
{
  int index = nbd_device_index (st->device);

  if (index == -1)
    return -1;
  /* The monitor was stopped before swapoff (nbdmode_quiesce). */
  if (nbd_connected (index) &&
      disconnect (index, st->handover, st->doit_pid, st->pid, 0) == -1)
    return -1;
  stop_helper (st->doit_pid);
  stop_helper (st->pid);
  if (st->health[0])
    unlink (st->health);
  return 0;
}

static const char *
nbdmode_state (const struct attach_state *st)
{
  int index = nbd_device_index (st->device);

  if (index < 0 || !nbd_connected (index))
    return "disconnected";
  /* Connected, but nobody would remake a lost connection. */
  if (st->monitor_pid > 0 && kill (st->monitor_pid, 0) == -1 &&
      errno == ESRCH)
    return "monitor gone";
  return "connected";
}

const struct attach_mode nbd_mode = {
  .name = "nbd", .mode = MODE_NBD, .automatic = true, .region = true,
  .available = nbdmode_available, .attach = attach_nbd,
  .quiesce = nbdmode_quiesce, .trim_file = nbdmode_trim_file,
  .trim = nbdmode_trim, .detach = detach_nbd, .state = nbdmode_state,
};
