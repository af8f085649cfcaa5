/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Handing sockets to the kernel's NBD driver over generic netlink
 * (family "nbd", include/uapi/linux/nbd-netlink.h).
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nbd-netlink.h>

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "netlink.h"
#include "report.h"

static struct nl_msg *
new_msg (int family, uint8_t cmd)
{
  struct nl_msg *msg = nlmsg_alloc ();

  if (msg == NULL) {
    dram_error ("nlmsg_alloc: out of memory");
    return NULL;
  }
  if (genlmsg_put (msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, cmd, 0)
      == NULL) {
    dram_error ("genlmsg_put: message too small");
    nlmsg_free (msg);
    return NULL;
  }
  return msg;
}

/* NBD_ATTR_SOCKETS: one NBD_SOCK_ITEM holding NBD_SOCK_FD per socket. */
static int
put_sockets (struct nl_msg *msg, const int *fds, unsigned n)
{
  struct nlattr *socks, *item;
  unsigned i;

  socks = nla_nest_start (msg, NBD_ATTR_SOCKETS);
  if (socks == NULL)
    return -1;
  for (i = 0; i < n; i++) {
    item = nla_nest_start (msg, NBD_SOCK_ITEM);
    if (item == NULL || nla_put_u32 (msg, NBD_SOCK_FD, fds[i]))
      return -1;
    nla_nest_end (msg, item);
  }
  nla_nest_end (msg, socks);
  return 0;
}

struct nl_msg *
nbd_msg_connect (int family, const struct nbd_connect_req *req)
{
  struct nl_msg *msg = new_msg (family, NBD_CMD_CONNECT);

  if (msg == NULL)
    return NULL;
  if ((req->index >= 0 && nla_put_u32 (msg, NBD_ATTR_INDEX, req->index)) ||
      nla_put_u64 (msg, NBD_ATTR_SIZE_BYTES, req->size) ||
      nla_put_u64 (msg, NBD_ATTR_BLOCK_SIZE_BYTES, req->block_size) ||
      nla_put_u64 (msg, NBD_ATTR_SERVER_FLAGS, req->server_flags) ||
      nla_put_u64 (msg, NBD_ATTR_TIMEOUT, req->timeout) ||
      nla_put_u64 (msg, NBD_ATTR_DEAD_CONN_TIMEOUT, req->dead_conn_timeout) ||
      nla_put_u64 (msg, NBD_ATTR_CLIENT_FLAGS, req->client_flags))
    goto too_big;
  if (req->backend &&
      nla_put_string (msg, NBD_ATTR_BACKEND_IDENTIFIER, req->backend))
    goto too_big;
  if (put_sockets (msg, req->fds, req->nr_fds) == -1)
    goto too_big;
  return msg;

 too_big:
  dram_error ("netlink message too large");
  nlmsg_free (msg);
  return NULL;
}

struct nl_msg *
nbd_msg_disconnect (int family, int index)
{
  struct nl_msg *msg = new_msg (family, NBD_CMD_DISCONNECT);

  if (msg && nla_put_u32 (msg, NBD_ATTR_INDEX, index)) {
    dram_error ("netlink message too large");
    nlmsg_free (msg);
    return NULL;
  }
  return msg;
}

struct nl_msg *
nbd_msg_reconfigure (int family, int index, const char *backend,
                     const int *fds, unsigned nr_fds)
{
  struct nl_msg *msg = new_msg (family, NBD_CMD_RECONFIGURE);

  if (msg == NULL)
    return NULL;
  if (nla_put_u32 (msg, NBD_ATTR_INDEX, index) ||
      (backend &&
       nla_put_string (msg, NBD_ATTR_BACKEND_IDENTIFIER, backend)) ||
      put_sockets (msg, fds, nr_fds) == -1) {
    dram_error ("netlink message too large");
    nlmsg_free (msg);
    return NULL;
  }
  return msg;
}

int
nbd_parse_link_dead (int family, struct nlmsghdr *hdr)
{
  struct nlattr *attrs[NBD_ATTR_MAX + 1];
  struct genlmsghdr *gh;

  if (hdr->nlmsg_type != family || !genlmsg_valid_hdr (hdr, 0))
    return -1;
  gh = nlmsg_data (hdr);
  if (gh->cmd != NBD_CMD_LINK_DEAD ||
      genlmsg_parse (hdr, 0, attrs, NBD_ATTR_MAX, NULL) != 0 ||
      attrs[NBD_ATTR_INDEX] == NULL ||
      nla_len (attrs[NBD_ATTR_INDEX]) < (int) sizeof (uint32_t))
    return -1;
  return nla_get_u32 (attrs[NBD_ATTR_INDEX]) & 0x7fffffff;
}

/* A generic netlink socket and the "nbd" family.  Returns the family,
 * -1 after reporting, -2 when the family does not exist.
 */
static int
open_family (struct nl_sock **skp)
{
  struct nl_sock *sk = nl_socket_alloc ();
  int family, err;

  if (sk == NULL) {
    dram_error ("nl_socket_alloc: out of memory");
    return -1;
  }
  err = genl_connect (sk);
  if (err < 0) {
    dram_error ("generic netlink: %s", nl_geterror (err));
    nl_socket_free (sk);
    return -1;
  }
  family = genl_ctrl_resolve (sk, "nbd");
  if (family < 0) {
    nl_socket_free (sk);
    return -2;
  }
  *skp = sk;
  return family;
}

static int
read_index (struct nl_msg *msg, void *arg)
{
  struct nlattr *attrs[NBD_ATTR_MAX + 1];
  int *index = arg;

  if (genlmsg_parse (nlmsg_hdr (msg), 0, attrs, NBD_ATTR_MAX, NULL) == 0 &&
      attrs[NBD_ATTR_INDEX])
    *index = nla_get_u32 (attrs[NBD_ATTR_INDEX]);
  return NL_OK;
}

/* Sends MSG (consumed) and waits for the kernel's answer. */
static int
transact (struct nl_sock *sk, struct nl_msg *msg, const char *what,
          int *index)
{
  int err;

  if (index)
    nl_socket_modify_cb (sk, NL_CB_VALID, NL_CB_CUSTOM, read_index, index);
  err = nl_send_sync (sk, msg);
  if (err < 0) {
    dram_error ("the kernel refused %s: %s", what, nl_geterror (err));
    return -1;
  }
  return 0;
}

int
nbd_netlink_connect (const struct nbd_connect_req *req)
{
  struct nl_sock *sk = NULL;
  struct nl_msg *msg;
  int family, index = -1;

  family = open_family (&sk);
  if (family < 0)
    return family;
  msg = nbd_msg_connect (family, req);
  if (msg == NULL || transact (sk, msg, "NBD_CMD_CONNECT", &index) == -1) {
    nl_socket_free (sk);
    return -1;
  }
  nl_socket_free (sk);
  if (index < 0)
    index = req->index;
  return index;
}

/* Sends MSG (NULL: building it failed, reported) on SK, which it
 * closes, and waits for the kernel's answer.
 */
static int
send_and_close (struct nl_sock *sk, struct nl_msg *msg, const char *what)
{
  int r = msg ? transact (sk, msg, what, NULL) : -1;

  nl_socket_free (sk);
  return r;
}

int
nbd_netlink_disconnect (int index)
{
  struct nl_sock *sk = NULL;
  int family = open_family (&sk);

  if (family < 0)
    return family;
  return send_and_close (sk, nbd_msg_disconnect (family, index),
                         "NBD_CMD_DISCONNECT");
}

int
nbd_netlink_reconfigure (int index, const char *backend, const int *fds,
                         unsigned nr_fds)
{
  struct nl_sock *sk = NULL;
  int family = open_family (&sk);

  if (family < 0)
    return family;
  return send_and_close (sk, nbd_msg_reconfigure (family, index, backend,
                                                  fds, nr_fds),
                         "NBD_CMD_RECONFIGURE");
}

struct nbd_events {
  struct nl_sock *sk;
  int family;
  int index;
  unsigned dead;                /* counted since the last read */
};

static int
on_event (struct nl_msg *msg, void *arg)
{
  struct nbd_events *ev = arg;

  if (nbd_parse_link_dead (ev->family, nlmsg_hdr (msg)) == ev->index)
    ev->dead++;
  return NL_OK;
}

struct nbd_events *
nbd_events_open (int index)
{
  struct nbd_events *ev = calloc (1, sizeof *ev);
  int group, err;

  if (ev == NULL) {
    dram_error ("calloc: %m");
    return NULL;
  }
  ev->index = index;
  ev->family = open_family (&ev->sk);
  if (ev->family < 0) {
    if (ev->family == -2)
      dram_error ("the kernel has no nbd netlink family");
    free (ev);
    return NULL;
  }
  group = genl_ctrl_resolve_grp (ev->sk, "nbd", NBD_GENL_MCAST_GROUP_NAME);
  if (group < 0) {
    dram_error ("the nbd netlink family has no group %s: %s",
                NBD_GENL_MCAST_GROUP_NAME, nl_geterror (group));
    goto out_free;
  }
  /* Notifications carry no sequence number of ours. */
  nl_socket_disable_seq_check (ev->sk);
  nl_socket_modify_cb (ev->sk, NL_CB_VALID, NL_CB_CUSTOM, on_event, ev);
  err = nl_socket_add_membership (ev->sk, group);
  if (err == 0)
    err = nl_socket_set_nonblocking (ev->sk);
  if (err < 0) {
    dram_error ("netlink group %s: %s", NBD_GENL_MCAST_GROUP_NAME,
                nl_geterror (err));
    goto out_free;
  }
  return ev;

 out_free:
  nl_socket_free (ev->sk);
  free (ev);
  return NULL;
}

int
nbd_events_fd (const struct nbd_events *ev)
{
  return nl_socket_get_fd (ev->sk);
}

int
nbd_events_read (struct nbd_events *ev, bool *overrun)
{
  int err, n;

  *overrun = false;
  for (;;) {
    err = nl_recvmsgs_default (ev->sk);
    if (err == -NLE_AGAIN)
      break;
    if (err == -NLE_NOMEM) {       /* ENOBUFS: the kernel dropped some */
      *overrun = true;
      continue;
    }
    if (err < 0) {
      dram_error ("reading the nbd netlink notifications: %s",
                  nl_geterror (err));
      return -1;
    }
  }
  n = ev->dead;
  ev->dead = 0;
  return n;
}

void
nbd_events_close (struct nbd_events *ev)
{
  if (ev == NULL)
    return;
  nl_socket_free (ev->sk);
  free (ev);
}
