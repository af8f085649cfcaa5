/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the plugin's parameters, and who counts as a local peer. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <check.h>

#include "params.h"
#include "peer.h"
#include "unit.h"

#define GIB (UINT64_C (1) << 30)
#define MEMTOTAL (16 * GIB)

/* A whole command line: up to 6 key=value words, then what the
 * plugin must say about it (NULL: accepted).
 */
struct case_ {
  const char *args[6];
  const char *msg;
};

static const struct case_ cases[] = {
  { { "size=1G" }, NULL },
  { { "size=4096", "backing=memfd" }, NULL },
  { { "size=1G", "backing=file", "file=/dev/shm/x" }, NULL },
  { { "size=1G", "file=/dev/shm/x" }, NULL },
  { { "size=1G", "dir=/dev/shm" }, NULL },
  { { "size=1G", "file=/srv/x", "allow-disk=true" }, NULL },
  { { "size=1G", "mlock=true", "reserve=yes", "insecure=on" }, NULL },
  { { "size=32G", "force=true" }, NULL },
  { { "size=16G" }, NULL },

  { { "backing=malloc" }, "size= is required" },
  { { "size=0" }, "size=0: must be greater than 0" },
  { { "size=4097" }, "size=4097 (4097 bytes) is not a multiple of 4096" },
  { { "size=1M1" }, "size: '1M1' has an unknown unit" },
  { { "size=-1G" }, "size: '-1G' is not a number" },
  { { "size=lots" }, "size: 'lots' is not a number" },
  { { "size=1G", "size=2G" }, "size= given more than once" },
  { { "size=16G", "size=4k" }, "size= given more than once" },
  { { "size=17G" }, "size=17G (18253611008 bytes) is larger than this "
                    "machine's RAM (MemTotal 17179869184 bytes); use "
                    "force=true" },
  { { "size=1G", "backing=disk" }, "backing=disk: unknown backing" },
  { { "size=1G", "backing=" }, "backing=: unknown backing" },
  { { "size=1G", "backing=file" }, "backing=file needs file=PATH or dir=DIR" },
  { { "size=1G", "file=/a", "dir=/b" }, "file= and dir= cannot both be given" },
  { { "size=1G", "backing=memfd", "file=/a" },
    "file= only applies to backing=file, not backing=memfd" },
  { { "size=1G", "backing=malloc", "dir=/a" },
    "dir= only applies to backing=file, not backing=malloc" },
  { { "size=1G", "allow-disk=true" }, "allow-disk=true only applies to "
                                      "backing=file" },
  { { "size=1G", "file=" }, "file= must not be empty" },
  { { "size=1G", "mlock=maybe" }, "mlock: 'maybe' is not a boolean" },
  { { "size=1G", "reserve=" }, "reserve: '' is not a boolean" },
  { { "size=1G", "force=2" }, "force: '2' is not a boolean" },
  { { "size=1G", "insecure=yes please" }, "insecure: 'yes please' is not" },
  { { "size=1G", "allow-disk=t" }, "allow-disk: 't' is not a boolean" },
  { { "size=1G", "colour=blue" }, "unknown parameter 'colour'" },
  { { "size=1G", "Size=1G" }, "unknown parameter 'Size'" },
  { { "size=1G", "mlock=true", "mlock=false" }, "mlock= given more than once" },
  { { "size=1G", "region=256M", "lease=0" }, NULL },
  { { "size=1G", "region=1G", "lease=90s" }, NULL },
  { { "size=1G", "region=256M", "dir=/dev/shm", "lease=2h" }, NULL },
  { { "size=1G", "region=0" }, "region=0: must be greater than 0" },
  { { "size=1G", "region=5000" }, "region=5000 (5000 bytes) is not a "
                                  "multiple of 4096" },
  { { "size=1G", "region=2G" }, "region=2G is larger than size=1G, the "
                                "donor's whole budget" },
  { { "size=1G", "region=big" }, "region: 'big' is not a number" },
  { { "size=1G", "region=256M", "file=/dev/shm/x" },
    "file= holds a single region" },
  { { "size=1G", "lease=5x" }, "lease: '5x' is not a duration" },
  { { "size=1G", "lease=5mm" }, "lease: '5mm' is not a duration" },
  { { "size=1G", "lease=-1" }, "lease: '-1' is not a number" },
  { { "size=1G", "lease=" }, "lease: '' is not a number" },
  { { "size=1G", "lease=1m", "lease=2m" }, "lease= given more than once" },
};

START_TEST (params_table)
{
  const struct case_ *c = &cases[_i];
  struct dram_params p;
  int r = 0;
  size_t i;

  memset (&p, 0, sizeof p);
  clear_error ();
  for (i = 0; r == 0 && i < 6 && c->args[i]; i++) {
    char *kv = strdup (c->args[i]), *eq = strchr (kv, '=');

    *eq = '\0';
    r = params_set (&p, kv, eq + 1);
    free (kv);
  }
  if (r == 0)
    r = params_check (&p, MEMTOTAL);
  if (c->msg == NULL) {
    ck_assert_msg (r == 0, "case %d refused: %s", _i, last_error);
    ck_assert_str_eq (last_error, "");
  }
  else {
    ck_assert_msg (r == -1, "case %d accepted", _i);
    ck_assert_msg (strstr (last_error, c->msg) != NULL,
                   "case %d: message '%s' lacks '%s'",
                   _i, last_error, c->msg);
  }
  params_free (&p);
}
END_TEST

/* What the accepted parameters turn into. */
START_TEST (params_values)
{
  struct dram_params p;

  memset (&p, 0, sizeof p);
  ck_assert_int_eq (params_set (&p, "size", "2G"), 0);
  ck_assert_int_eq (params_set (&p, "dir", "/dev/shm"), 0);
  ck_assert_int_eq (params_set (&p, "mlock", "true"), 0);
  ck_assert_int_eq (params_check (&p, MEMTOTAL), 0);
  ck_assert_uint_eq (p.size, 2 * GIB);
  ck_assert_int_eq (p.backing, BACKING_FILE);
  ck_assert_str_eq (p.dir, "/dev/shm");
  ck_assert (p.mlock && !p.reserve && !p.force && !p.insecure);
  ck_assert_uint_eq (p.region, 2 * GIB);
  ck_assert_uint_eq (p.lease_ms, DEFAULT_LEASE_MS);
  params_free (&p);

  ck_assert_int_eq (params_set (&p, "size", "1G"), 0);
  ck_assert_int_eq (params_set (&p, "region", "256M"), 0);
  ck_assert_int_eq (params_set (&p, "lease", "90s"), 0);
  ck_assert_int_eq (params_check (&p, MEMTOTAL), 0);
  ck_assert_uint_eq (p.region, 256 << 20);
  ck_assert_uint_eq (p.lease_ms, 90000);
  params_free (&p);
  ck_assert_int_eq (params_set (&p, "size", "1G"), 0);
  ck_assert_int_eq (params_set (&p, "lease", "0"), 0);
  ck_assert_int_eq (params_check (&p, MEMTOTAL), 0);
  ck_assert_uint_eq (p.lease_ms, 0);
  params_free (&p);
  ck_assert_int_eq (params_set (&p, "size", "1G"), 0);
  ck_assert_int_eq (params_set (&p, "lease", "2d"), 0);
  ck_assert_int_eq (params_check (&p, MEMTOTAL), 0);
  ck_assert_uint_eq (p.lease_ms, UINT64_C (2) * 86400000);
  params_free (&p);

  /* Defaults. */
  ck_assert_int_eq (params_set (&p, "size", "4k"), 0);
  ck_assert_int_eq (params_check (&p, MEMTOTAL), 0);
  ck_assert_int_eq (p.backing, BACKING_MALLOC);
  ck_assert_str_eq (backing_name (p.backing), "malloc");
  ck_assert (!p.mlock && !p.reserve);
  params_free (&p);
}
END_TEST

static const struct {
  int family;
  const char *addr;
  bool local;
} peers[] = {
  { AF_INET, "127.0.0.1", true },
  { AF_INET, "127.255.3.4", true },
  { AF_INET, "128.0.0.1", false },
  { AF_INET, "10.0.2.2", false },
  { AF_INET, "192.0.2.1", false },
  { AF_INET, "0.0.0.0", false },
  { AF_INET6, "::1", true },
  { AF_INET6, "::ffff:127.0.0.9", true },
  { AF_INET6, "::ffff:10.0.0.1", false },
  { AF_INET6, "fe80::1", false },
  { AF_INET6, "2001:db8::1", false },
  { AF_INET6, "::", false },
};

START_TEST (peer_table)
{
  struct sockaddr_storage ss;
  struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
  socklen_t len;
  char text[64];

  memset (&ss, 0, sizeof ss);
  ss.ss_family = peers[_i].family;
  if (peers[_i].family == AF_INET) {
    ck_assert_int_eq (inet_pton (AF_INET, peers[_i].addr, &sin->sin_addr), 1);
    len = sizeof *sin;
  }
  else {
    ck_assert_int_eq (inet_pton (AF_INET6, peers[_i].addr,
                                 &sin6->sin6_addr), 1);
    len = sizeof *sin6;
  }
  ck_assert_msg (peer_is_local ((struct sockaddr *) &ss, len)
                 == peers[_i].local, "%s", peers[_i].addr);
  peer_format ((struct sockaddr *) &ss, len, text, sizeof text);
  ck_assert_str_eq (text, peers[_i].addr);
  /* A truncated address is never trusted. */
  ck_assert (!peer_is_local ((struct sockaddr *) &ss, len - 1));
}
END_TEST

START_TEST (peer_unix)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/x" };
  struct sockaddr sa = { .sa_family = AF_PACKET };
  char text[64];

  ck_assert (peer_is_local ((struct sockaddr *) &sun, sizeof sun));
  ck_assert (!peer_is_local (&sa, sizeof sa));
  peer_format (&sa, sizeof sa, text, sizeof text);
  ck_assert_str_eq (text, "a peer of address family 17");
}
END_TEST

#define N(a) ((int) (sizeof a / sizeof a[0]))

int
main (void)
{
  TCase *tc = tcase_create ("params");

  tcase_add_loop_test (tc, params_table, 0, N (cases));
  tcase_add_test (tc, params_values);
  tcase_add_loop_test (tc, peer_table, 0, N (peers));
  tcase_add_test (tc, peer_unix);
  return run_tcase ("params", tc);
}
