/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: dram-attach's command line and donor addresses, with
 * every kind of bad input; and the state file round trip.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "cmdcase.h"
#include "options.h"
#include "unit.h"
#include "state.h"

/* An address and what it must parse to (host, port; or NULL host for
 * the transports without one), or the message it must be refused with.
 */
static const struct {
  const char *in;
  enum transport transport;
  const char *host, *port;
  bool tls;
  const char *msg;
} targets[] = {
  { "donor", T_TCP, "donor", "10809", false, NULL },
  { "donor:1234", T_TCP, "donor", "1234", false, NULL },
  { "10.0.2.2:10809", T_TCP, "10.0.2.2", "10809", false, NULL },
  { "[::1]:99", T_TCP, "::1", "99", false, NULL },
  { "[fe80::1%eth0]", T_TCP, "fe80::1%eth0", "10809", false, NULL },
  { "::1", T_TCP, "::1", "10809", false, NULL },
  { "2001:db8::7", T_TCP, "2001:db8::7", "10809", false, NULL },
  { "nbd://donor", T_URI, "donor", "10809", false, NULL },
  { "nbd://donor:1/", T_URI, "donor", "1", false, NULL },
  { "nbd://donor:555/swap", T_URI, "donor", "555", false, NULL },
  { "nbds://alice@donor/swap?tls-psk-file=/k", T_URI, "donor", "10809",
    true, NULL },
  { "nbd://[2001:db8::1]:77/x", T_URI, "2001:db8::1", "77", false, NULL },
  { "nbd+unix:///swap?socket=/run/d.sock", T_URI, NULL, NULL, false, NULL },
  { "nbds+unix:///?socket=/s", T_URI, NULL, NULL, true, NULL },

  { "", 0, NULL, NULL, false, "the donor's address is empty" },
  { "donor:", 0, NULL, NULL, false, "the port must be a number" },
  { "donor:0", 0, NULL, NULL, false, "the port must be a number from 1 to "
                                     "65535" },
  { "donor:65536", 0, NULL, NULL, false, "from 1 to 65535" },
  { "donor:http", 0, NULL, NULL, false, "'donor:http': the port must be" },
  { "donor:-1", 0, NULL, NULL, false, "the port must be" },
  { ":10809", 0, NULL, NULL, false, "the host is missing before ':'" },
  { "[::1", 0, NULL, NULL, false, "expected [IPV6-ADDRESS]" },
  { "[]:5", 0, NULL, NULL, false, "expected [IPV6-ADDRESS]" },
  { "[::1]x", 0, NULL, NULL, false, "expected ':PORT' after ']'" },
  { "[::1]:", 0, NULL, NULL, false, "the port must be" },
  { "http://donor/", 0, NULL, NULL, false, "unknown URI scheme" },
  { "nbd+unix:///swap", 0, NULL, NULL, false, "needs ?socket=PATH" },
  { "nbd://", 0, NULL, NULL, false, "the URI has no host" },
  { "nbd:///x", 0, NULL, NULL, false, "the URI has no host" },
  { "nbd://donor:99999/", 0, NULL, NULL, false, "from 1 to 65535" },
  { "nbd://[::1/", 0, NULL, NULL, false, "unterminated '['" },
};

START_TEST (target_table)
{
  struct target t;
  int r;

  clear_error ();
  r = target_parse (targets[_i].in, &t);
  if (targets[_i].msg) {
    ck_assert_msg (r == -1, "'%s' accepted", targets[_i].in);
    ck_assert_msg (strstr (last_error, targets[_i].msg) != NULL,
                   "'%s': message '%s' lacks '%s'", targets[_i].in,
                   last_error, targets[_i].msg);
  }
  else {
    ck_assert_msg (r == 0, "'%s' refused: %s", targets[_i].in, last_error);
    ck_assert_int_eq (t.transport, targets[_i].transport);
    if (targets[_i].host) {
      ck_assert_str_eq (t.host, targets[_i].host);
      ck_assert_str_eq (t.port, targets[_i].port);
    }
    ck_assert_int_eq (t.tls_uri, targets[_i].tls);
    if (t.transport == T_URI)
      ck_assert_str_eq (t.uri, targets[_i].in);
  }
  free (t.host);
  free (t.port);
  free (t.uri);
}
END_TEST

START_TEST (describe)
{
  struct target t;
  char buf[128];

  ck_assert_int_eq (target_parse ("donor:7", &t), 0);
  target_describe (&t, buf, sizeof buf);
  ck_assert_str_eq (buf, "donor:7");
  free (t.host);
  free (t.port);
  ck_assert_int_eq (target_parse ("::1", &t), 0);
  target_describe (&t, buf, sizeof buf);
  ck_assert_str_eq (buf, "[::1]:10809");
  free (t.host);
  free (t.port);
}
END_TEST

/* A command line of up to 10 words, then the expected result. */
static const struct cmd cmds[] = {
  { { "donor" }, NULL },
  { { "donor", "/dev/nbd3" }, NULL },
  { { "-p", "5", "-d", "-c", "4", "-t", "30", "donor:1" }, NULL },
  { { "--priority=-1", "--label=dram", "--export", "swap", "donor" }, NULL },
  { { "--unix", "/tmp/s", "/dev/nbd1" }, NULL },
  { { "--no-swap", "donor" }, NULL },
  { { "--force", "-e", "mine", "donor" }, NULL },
  { { "--mode=nbd", "--tls-psk", "/k", "--tls-username", "u", "d" }, NULL },
  { { "--detach", "all" }, NULL },
  { { "--detach=/dev/nbd0", "-v" }, NULL },
  { { "--status" }, NULL },
  { { "--status", "--json" }, NULL },
  { { "--help" }, NULL },
  { { "--version" }, NULL },
  { { "-p", "32767", "-c", "16", "-t", "86400", "d" }, NULL },

  { { NULL }, "no donor given" },
  { { "-p", "32768", "d" }, "--priority: 32768 is out of range (0..32767)" },
  { { "-p", "-2", "d" }, "--priority: '-2' is not a number" },
  { { "-p", "high", "d" }, "--priority: 'high' is not a number" },
  { { "-c", "0", "d" }, "--connections: 0 is out of range (1..16)" },
  { { "-c", "17", "d" }, "--connections: 17 is out of range (1..16)" },
  { { "-t", "86401", "d" }, "--timeout: 86401 is out of range" },
  { { "-t", "1s", "d" }, "--timeout: '1s' is not a number" },
  { { "--reconnect-timeout", "0", "d" }, NULL },
  { { "--reconnect-timeout=86400", "d" }, NULL },
  { { "--reconnect-timeout=86401", "d" },
    "--reconnect-timeout: 86401 is out of range" },
  { { "--reconnect-timeout=1m", "d" },
    "--reconnect-timeout: '1m' is not a number" },
  { { "--reconnect-timeout", "-1", "d" },
    "--reconnect-timeout: '-1' is not a number" },
  { { "--status", "--reconnect-timeout=5" }, "--status takes no attach" },
  { { "--mode=zram", "d" }, "--mode: 'zram' is not a mode" },
  { { "--label=0123456789abcdef", "d" }, "is longer than 15 bytes" },
  { { "--bogus", "d" }, "unknown option '--bogus'" },
  { { "-x", "d" }, "unknown option '-x'" },
  { { "d", "-c" }, "option '-c' needs a value" },
  { { "d", "--export" }, "option '--export' needs a value" },
  { { "d", "/dev/nbd0", "extra" }, "unexpected argument 'extra'" },
  { { "d", "nbd0" }, "'nbd0' is not a device path" },
  { { "--tls-username", "u", "d" }, "--tls-username needs --tls-psk" },
  { { "-e", "x", "nbd://d/y" }, "--export cannot be used with a URI" },
  { { "--no-swap", "-p", "3", "d" }, "--no-swap cannot be used with" },
  { { "--no-swap", "--discard", "d" }, "--no-swap cannot be used with" },
  { { "--no-swap", "--force", "d" }, "--no-swap cannot be used with" },
  { { "--detach", "all", "--status" }, "cannot be used together" },
  { { "--status", "--detach", "all" }, "cannot be used together" },
  { { "--detach", "all", "-p", "3" }, "--detach takes no attach options" },
  { { "--status", "-c", "2" }, "--status takes no attach options" },
  { { "--status", "extra" }, "unexpected argument 'extra'" },
  { { "--json", "d" }, "--json goes with --status" },
  { { "nbd:/x" }, "the port must be" },
  { { "nbd://[]/" }, "the URI has no host" },
  { { "nbd://[::1]x/" }, "expected ':' or '/' after ']'" },
  { { "--status", "--json=x" }, "option '--json' takes no value" },
  { { "--discard=x", "d" }, "option '--discard' takes no value" },
};

START_TEST (cmd_table)
{
  struct options o;

  if (check_cmd (&cmds[_i], _i, &o))
    options_free (&o);
}
END_TEST

START_TEST (cmd_values)
{
  char *argv[] = { "dram-attach", "-p", "5", "--discard", "-c", "4",
                   "--timeout=30", "-L", "swp", "-e", "exp",
                   "--reconnect-timeout", "7", "[::1]:99", "/dev/nbd7",
                   NULL };
  char *argv2[] = { "dram-attach", "--detach", "all", NULL };
  struct options o;

  ck_assert_int_eq (options_parse (15, argv, &o), 0);
  ck_assert_int_eq (o.action, ACT_ATTACH);
  ck_assert_int_eq (o.mode, MODE_AUTO);
  ck_assert_int_eq (o.priority, 5);
  ck_assert (o.discard && o.swap);
  ck_assert_uint_eq (o.connections, 4);
  ck_assert_uint_eq (o.timeout, 30);
  ck_assert_uint_eq (o.reconnect_timeout, 7);
  ck_assert_str_eq (o.label, "swp");
  ck_assert_str_eq (o.export_name, "exp");
  ck_assert_str_eq (o.target.host, "::1");
  ck_assert_str_eq (o.target.port, "99");
  ck_assert_str_eq (o.device, "/dev/nbd7");
  options_free (&o);

  ck_assert_int_eq (options_parse (3, argv2, &o), 0);
  ck_assert_int_eq (o.action, ACT_DETACH);
  ck_assert_str_eq (o.detach, "all");
  options_free (&o);
}
END_TEST

/* Defaults: priority -1, one connection, no timeout, reconnecting for
 * two minutes, swap.
 */
START_TEST (cmd_defaults)
{
  char *argv[] = { "dram-attach", "--unix", "/s", NULL };
  struct options o;

  ck_assert_int_eq (options_parse (3, argv, &o), 0);
  ck_assert_int_eq (o.target.transport, T_UNIX);
  ck_assert_str_eq (o.target.socket, "/s");
  ck_assert_int_eq (o.priority, -1);
  ck_assert_uint_eq (o.connections, 1);
  ck_assert_uint_eq (o.timeout, 0);
  ck_assert_uint_eq (o.reconnect_timeout, DEFAULT_RECONNECT_TIMEOUT);
  ck_assert (o.swap && !o.discard);
  ck_assert_ptr_null (o.device);
  options_free (&o);
}
END_TEST

START_TEST (state_round_trip)
{
  char dir[] = "/tmp/dram-state.XXXXXX";
  struct attach_state s, t;
  char **list;
  size_t n;

  ck_assert_ptr_nonnull (mkdtemp (dir));
  setenv ("DRAM_RUNDIR", dir, 1);
  list = state_list (&n);
  ck_assert_ptr_nonnull (list);
  ck_assert_uint_eq (n, 0);
  state_list_free (list, n);

  memset (&s, 0, sizeof s);
  snprintf (s.device, sizeof s.device, "/dev/nbd3");
  snprintf (s.mode, sizeof s.mode, "nbd");
  snprintf (s.donor, sizeof s.donor, "[::1]:10809");
  s.size = UINT64_C (1) << 40;
  s.connections = 4;
  snprintf (s.handover, sizeof s.handover, "netlink");
  snprintf (s.tls, sizeof s.tls, "kernel");
  s.pid = 1234;
  s.doit_pid = 99;
  s.swap = true;
  s.priority = -1;
  s.discard = true;
  snprintf (s.uuid, sizeof s.uuid, "3b4f0a4e-0000-4000-8000-000000000001");
  snprintf (s.label, sizeof s.label, "lbl");
  s.attached_at = 1700000000;
  ck_assert_int_eq (state_save (&s), 0);
  snprintf (s.device, sizeof s.device, "/dev/nbd10");
  ck_assert_int_eq (state_save (&s), 0);

  ck_assert_int_eq (state_load ("/dev/nbd3", &t), 0);
  snprintf (s.device, sizeof s.device, "/dev/nbd3");
  ck_assert_mem_eq (&s, &t, sizeof s);
  ck_assert_int_eq (state_load ("/dev/nbd4", &t), 1);

  list = state_list (&n);
  ck_assert_uint_eq (n, 2);
  ck_assert_str_eq (list[0], "/dev/nbd10");
  ck_assert_str_eq (list[1], "/dev/nbd3");
  state_list_free (list, n);

  ck_assert_int_eq (state_remove ("/dev/nbd3"), 0);
  ck_assert_int_eq (state_remove ("/dev/nbd10"), 0);
  ck_assert_int_eq (state_remove ("/dev/nbd10"), 0);
  list = state_list (&n);
  ck_assert_uint_eq (n, 0);
  state_list_free (list, n);
  ck_assert_int_eq (rmdir (dir), 0);

  /* A directory that cannot be made is reported. */
  setenv ("DRAM_RUNDIR", "/proc/dram", 1);
  ck_assert_int_eq (state_save (&s), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "/proc/dram"));
  unsetenv ("DRAM_RUNDIR");
}
END_TEST

#define N(a) ((int) (sizeof a / sizeof a[0]))

int
main (void)
{
  TCase *tc = tcase_create ("options");

  tcase_add_loop_test (tc, target_table, 0, N (targets));
  tcase_add_test (tc, describe);
  tcase_add_loop_test (tc, cmd_table, 0, N (cmds));
  tcase_add_test (tc, cmd_values);
  tcase_add_test (tc, cmd_defaults);
  tcase_add_test (tc, state_round_trip);
  return run_tcase ("options", tc);
}
