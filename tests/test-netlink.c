/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the netlink messages for the kernel's NBD driver, read
 * back attribute by attribute.
 */

#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nbd-netlink.h>

#include <check.h>
#include <netlink/genl/genl.h>

#include "netlink.h"
#include "unit.h"

#define FAMILY 0x1d

static void
parse (struct nl_msg *msg, uint8_t cmd, struct nlattr **attrs)
{
  struct nlmsghdr *nlh = nlmsg_hdr (msg);
  struct genlmsghdr *gh = nlmsg_data (nlh);

  ck_assert_int_eq (nlh->nlmsg_type, FAMILY);
  ck_assert_int_eq (gh->cmd, cmd);
  ck_assert_int_eq (genlmsg_parse (nlh, 0, attrs, NBD_ATTR_MAX, NULL), 0);
}

START_TEST (connect_full)
{
  static const int fds[] = { 7, 9, 12 };
  struct nbd_connect_req req = {
    .index = 3, .size = UINT64_C (1) << 33, .block_size = 4096,
    .server_flags = 0x12d, .timeout = 30, .dead_conn_timeout = 60,
    .client_flags = 0, .fds = fds, .nr_fds = 3, .backend = "dram:donor:1",
  };
  struct nlattr *attrs[NBD_ATTR_MAX + 1], *item;
  struct nlattr *sock[NBD_SOCK_MAX + 1];
  struct nl_msg *msg = nbd_msg_connect (FAMILY, &req);
  int rem, n = 0;

  ck_assert_ptr_nonnull (msg);
  parse (msg, NBD_CMD_CONNECT, attrs);
  ck_assert_uint_eq (nla_get_u32 (attrs[NBD_ATTR_INDEX]), 3);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_SIZE_BYTES]),
                     UINT64_C (1) << 33);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_BLOCK_SIZE_BYTES]), 4096);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_SERVER_FLAGS]), 0x12d);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_TIMEOUT]), 30);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_DEAD_CONN_TIMEOUT]), 60);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_CLIENT_FLAGS]), 0);
  ck_assert_str_eq (nla_get_string (attrs[NBD_ATTR_BACKEND_IDENTIFIER]),
                    "dram:donor:1");
  ck_assert_ptr_nonnull (attrs[NBD_ATTR_SOCKETS]);
  nla_for_each_nested (item, attrs[NBD_ATTR_SOCKETS], rem) {
    ck_assert_int_eq (nla_type (item), NBD_SOCK_ITEM);
    ck_assert_int_eq (nla_parse_nested (sock, NBD_SOCK_MAX, item, NULL), 0);
    ck_assert_uint_eq (nla_get_u32 (sock[NBD_SOCK_FD]), fds[n]);
    n++;
  }
  ck_assert_int_eq (n, 3);
  nlmsg_free (msg);
}
END_TEST

/* No index: the kernel picks the device; no backend: not sent. */
START_TEST (connect_minimal)
{
  static const int fd = 4;
  struct nbd_connect_req req = {
    .index = -1, .size = 40960, .block_size = 4096, .fds = &fd, .nr_fds = 1,
  };
  struct nlattr *attrs[NBD_ATTR_MAX + 1];
  struct nl_msg *msg = nbd_msg_connect (FAMILY, &req);

  ck_assert_ptr_nonnull (msg);
  parse (msg, NBD_CMD_CONNECT, attrs);
  ck_assert_ptr_null (attrs[NBD_ATTR_INDEX]);
  ck_assert_ptr_null (attrs[NBD_ATTR_BACKEND_IDENTIFIER]);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_SIZE_BYTES]), 40960);
  ck_assert_uint_eq (nla_get_u64 (attrs[NBD_ATTR_TIMEOUT]), 0);
  nlmsg_free (msg);
}
END_TEST

START_TEST (disconnect)
{
  struct nlattr *attrs[NBD_ATTR_MAX + 1];
  struct nl_msg *msg = nbd_msg_disconnect (FAMILY, 15);

  ck_assert_ptr_nonnull (msg);
  parse (msg, NBD_CMD_DISCONNECT, attrs);
  ck_assert_uint_eq (nla_get_u32 (attrs[NBD_ATTR_INDEX]), 15);
  ck_assert_ptr_null (attrs[NBD_ATTR_SOCKETS]);
  nlmsg_free (msg);
}
END_TEST

/* New sockets for device 2: the index, the backend (the kernel checks
 * it against NBD_CMD_CONNECT's) and the sockets, nothing else (a size
 * would resize the device).
 */
START_TEST (reconfigure)
{
  static const int fds[] = { 5, 8 };
  struct nlattr *attrs[NBD_ATTR_MAX + 1], *item;
  struct nlattr *sock[NBD_SOCK_MAX + 1];
  struct nl_msg *msg = nbd_msg_reconfigure (FAMILY, 2, "dram:donor:1", fds,
                                            2);
  int rem, n = 0, a;

  ck_assert_ptr_nonnull (msg);
  parse (msg, NBD_CMD_RECONFIGURE, attrs);
  ck_assert_uint_eq (nla_get_u32 (attrs[NBD_ATTR_INDEX]), 2);
  ck_assert_str_eq (nla_get_string (attrs[NBD_ATTR_BACKEND_IDENTIFIER]),
                    "dram:donor:1");
  for (a = 0; a <= NBD_ATTR_MAX; a++)
    if (a != NBD_ATTR_INDEX && a != NBD_ATTR_SOCKETS &&
        a != NBD_ATTR_BACKEND_IDENTIFIER)
      ck_assert_ptr_null (attrs[a]);
  nla_for_each_nested (item, attrs[NBD_ATTR_SOCKETS], rem) {
    ck_assert_int_eq (nla_parse_nested (sock, NBD_SOCK_MAX, item, NULL), 0);
    ck_assert_uint_eq (nla_get_u32 (sock[NBD_SOCK_FD]), fds[n]);
    n++;
  }
  ck_assert_int_eq (n, 2);
  nlmsg_free (msg);
}
END_TEST

/* No backend at connect: none now. */
START_TEST (reconfigure_no_backend)
{
  static const int fd = 3;
  struct nlattr *attrs[NBD_ATTR_MAX + 1];
  struct nl_msg *msg = nbd_msg_reconfigure (FAMILY, 0, NULL, &fd, 1);

  ck_assert_ptr_nonnull (msg);
  parse (msg, NBD_CMD_RECONFIGURE, attrs);
  ck_assert_uint_eq (nla_get_u32 (attrs[NBD_ATTR_INDEX]), 0);
  ck_assert_ptr_null (attrs[NBD_ATTR_BACKEND_IDENTIFIER]);
  ck_assert_ptr_nonnull (attrs[NBD_ATTR_SOCKETS]);
  nlmsg_free (msg);
}
END_TEST

/* What the kernel multicasts: a command of FAMILY with an optional
 * index (-1: none).
 */
static struct nl_msg *
notification (int family, uint8_t cmd, int64_t index)
{
  struct nl_msg *msg = nlmsg_alloc ();

  ck_assert_ptr_nonnull (msg);
  ck_assert_ptr_nonnull (genlmsg_put (msg, 0, 0, family, 0, 0, cmd, 1));
  if (index >= 0)
    ck_assert_int_eq (nla_put_u32 (msg, NBD_ATTR_INDEX, index), 0);
  return msg;
}

static const struct {
  int family;
  uint8_t cmd;
  int64_t index;
  int want;
} link_dead_cases[] = {
  { FAMILY, NBD_CMD_LINK_DEAD, 0, 0 },
  { FAMILY, NBD_CMD_LINK_DEAD, 7, 7 },
  { FAMILY, NBD_CMD_LINK_DEAD, -1, -1 },         /* no index */
  { FAMILY, NBD_CMD_STATUS, 7, -1 },             /* another command */
  { FAMILY, NBD_CMD_RECONFIGURE, 7, -1 },
  { FAMILY + 1, NBD_CMD_LINK_DEAD, 7, -1 },      /* another family */
};

START_TEST (link_dead)
{
  struct nl_msg *msg = notification (link_dead_cases[_i].family,
                                     link_dead_cases[_i].cmd,
                                     link_dead_cases[_i].index);

  ck_assert_int_eq (nbd_parse_link_dead (FAMILY, nlmsg_hdr (msg)),
                    link_dead_cases[_i].want);
  nlmsg_free (msg);
}
END_TEST

/* A message cut short after its headers is not read past its end. */
START_TEST (link_dead_truncated)
{
  struct nl_msg *msg = notification (FAMILY, NBD_CMD_LINK_DEAD, 3);
  struct nlmsghdr *hdr = nlmsg_hdr (msg);

  hdr->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
  ck_assert_int_eq (nbd_parse_link_dead (FAMILY, hdr), -1);
  hdr->nlmsg_len = NLMSG_HDRLEN;
  ck_assert_int_eq (nbd_parse_link_dead (FAMILY, hdr), -1);
  nlmsg_free (msg);
}
END_TEST

int
main (void)
{
  TCase *tc = tcase_create ("netlink");

  tcase_add_test (tc, connect_full);
  tcase_add_test (tc, connect_minimal);
  tcase_add_test (tc, disconnect);
  tcase_add_test (tc, reconfigure);
  tcase_add_test (tc, reconfigure_no_backend);
  tcase_add_loop_test (tc, link_dead, 0,
                       sizeof link_dead_cases / sizeof link_dead_cases[0]);
  tcase_add_test (tc, link_dead_truncated);
  return run_tcase ("netlink", tc);
}
