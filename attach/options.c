/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* dram-attach's command line: parsing and checking all of it before
 * anything is connected, created or mounted.
 */

#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "parse.h"
#include "port.h"
#include "report.h"

static const char *const mode_names[] = {
  [MODE_AUTO] = "auto", [MODE_NBD] = "nbd",
  [MODE_FUSE] = "fuse", [MODE_NFS] = "nfs",
};

const char *
mode_name (enum mode m)
{
  return mode_names[m];
}

static int
parse_mode (const char *str, enum mode *m)
{
  int i = choice_index (mode_names, sizeof mode_names / sizeof mode_names[0],
                        str);

  if (i == -1) {
    dram_error ("--mode: '%s' is not a mode (use nbd, fuse, nfs or auto)",
                str);
    return -1;
  }
  *m = i;
  return 0;
}

static int
set_str (char **dst, const char *src)
{
  free (*dst);
  *dst = strdup (src);
  if (*dst == NULL) {
    dram_error ("strdup: %m");
    return -1;
  }
  return 0;
}

/* The port T holds, checked, with STR as the user wrote it. */
static int
check_port (const struct target *t, const char *str)
{
  unsigned port;

  return port_parse (str, t->port, strlen (t->port), &port);
}

/* nbd://, nbds://, nbd+unix://, nbds+unix:// (libnbd connects).  The
 * parts dram-attach itself needs are checked here.
 */
static int
parse_uri (const char *str, struct target *t)
{
  static const struct {
    const char *scheme;
    bool unix_socket, tls;
  } schemes[] = {
    { "nbd://", false, false }, { "nbds://", false, true },
    { "nbd+unix://", true, false }, { "nbds+unix://", true, true },
  };
  const char *rest = NULL, *end, *colon;
  size_t i;

  for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
    if (strncmp (str, schemes[i].scheme, strlen (schemes[i].scheme)) == 0) {
      rest = str + strlen (schemes[i].scheme);
      break;
    }
  }
  if (rest == NULL) {
    dram_error ("'%s': unknown URI scheme (use nbd://, nbds://, nbd+unix:// "
                "or nbds+unix://)", str);
    return -1;
  }
  t->transport = T_URI;
  t->tls_uri = schemes[i].tls;
  if (set_str (&t->uri, str) == -1)
    return -1;

  if (schemes[i].unix_socket) {
    if (strstr (rest, "socket=") == NULL) {
      dram_error ("'%s': an nbd+unix URI needs ?socket=PATH", str);
      return -1;
    }
    return 0;
  }

  /* The authority: [user@]host[:port] up to '/' or '?'. */
  end = rest + strcspn (rest, "/?");
  if (memchr (rest, '@', end - rest))
    rest = (const char *) memchr (rest, '@', end - rest) + 1;
  if (rest == end) {
    dram_error ("'%s': the URI has no host", str);
    return -1;
  }
  if (*rest == '[') {
    const char *close = memchr (rest, ']', end - rest);
    if (close == NULL) {
      dram_error ("'%s': unterminated '[' in the host", str);
      return -1;
    }
    if (close == rest + 1) {
      dram_error ("'%s': the URI has no host", str);
      return -1;
    }
    if (close + 1 < end && close[1] != ':') {
      dram_error ("'%s': expected ':' or '/' after ']'", str);
      return -1;
    }
    t->host = strndup (rest + 1, close - rest - 1);
    colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
  }
  else {
    colon = memchr (rest, ':', end - rest);
    t->host = strndup (rest, (colon ? colon : end) - rest);
  }
  if (t->host == NULL) {
    dram_error ("strndup: %m");
    return -1;
  }
  t->port = strndup (colon ? colon + 1 : DEFAULT_PORT,
                     colon ? (size_t) (end - colon - 1) : strlen (DEFAULT_PORT));
  if (t->port == NULL) {
    dram_error ("strndup: %m");
    return -1;
  }
  return check_port (t, str);
}

int
target_parse (const char *str, struct target *t)
{
  const char *colon, *close;

  memset (t, 0, sizeof *t);
  if (*str == '\0') {
    dram_error ("the donor's address is empty");
    return -1;
  }
  if (strstr (str, "://"))
    return parse_uri (str, t);

  t->transport = T_TCP;
  if (*str == '[') {
    close = strchr (str, ']');
    if (close == NULL || close == str + 1) {
      dram_error ("'%s': expected [IPV6-ADDRESS] or [IPV6-ADDRESS]:PORT", str);
      return -1;
    }
    if (close[1] != '\0' && close[1] != ':') {
      dram_error ("'%s': expected ':PORT' after ']'", str);
      return -1;
    }
    t->host = strndup (str + 1, close - str - 1);
    t->port = strdup (close[1] ? close + 2 : DEFAULT_PORT);
  }
  else if ((colon = strchr (str, ':')) != NULL && strchr (colon + 1, ':')) {
    /* Two colons or more: a bare IPv6 address, default port. */
    t->host = strdup (str);
    t->port = strdup (DEFAULT_PORT);
  }
  else if (colon) {
    if (colon == str) {
      dram_error ("'%s': the host is missing before ':'", str);
      return -1;
    }
    t->host = strndup (str, colon - str);
    t->port = strdup (colon + 1);
  }
  else {
    t->host = strdup (str);
    t->port = strdup (DEFAULT_PORT);
  }
  if (t->host == NULL || t->port == NULL) {
    dram_error ("strdup: %m");
    return -1;
  }
  return check_port (t, str);
}

void
target_describe (const struct target *t, char *buf, size_t len)
{
  switch (t->transport) {
  case T_TCP:
    if (strchr (t->host, ':'))
      snprintf (buf, len, "[%s]:%s", t->host, t->port);
    else
      snprintf (buf, len, "%s:%s", t->host, t->port);
    break;
  case T_UNIX:
    snprintf (buf, len, "unix:%s", t->socket);
    break;
  case T_URI:
    snprintf (buf, len, "%s", t->uri);
    break;
  }
}

static void
target_free (struct target *t)
{
  free (t->host);
  free (t->port);
  free (t->socket);
  free (t->uri);
  memset (t, 0, sizeof *t);
}

void
options_free (struct options *o)
{
  target_free (&o->target);
  nfs_target_free (&o->nfs);
  free (o->export_name);
  free (o->device);
  free (o->label);
  free (o->tls_psk);
  free (o->tls_username);
  free (o->detach);
  memset (o, 0, sizeof *o);
}

enum {
  OPT_NO_SWAP = 256, OPT_TLS_PSK, OPT_TLS_USERNAME, OPT_DETACH, OPT_STATUS,
  OPT_JSON, OPT_UNIX, OPT_VERSION, OPT_PERSIST, OPT_NFS_VERSION,
  OPT_RECONNECT_TIMEOUT, OPT_FORCE,
};

static const char short_opts[] = ":c:de:hL:m:p:s:t:v";
static const struct option long_opts[] = {
  { "connections", required_argument, NULL, 'c' },
  { "detach", required_argument, NULL, OPT_DETACH },
  { "discard", no_argument, NULL, 'd' },
  { "export", required_argument, NULL, 'e' },
  { "force", no_argument, NULL, OPT_FORCE },
  { "help", no_argument, NULL, 'h' },
  { "json", no_argument, NULL, OPT_JSON },
  { "label", required_argument, NULL, 'L' },
  { "mode", required_argument, NULL, 'm' },
  { "nfs-version", required_argument, NULL, OPT_NFS_VERSION },
  { "no-swap", no_argument, NULL, OPT_NO_SWAP },
  { "persist", no_argument, NULL, OPT_PERSIST },
  { "priority", required_argument, NULL, 'p' },
  { "reconnect-timeout", required_argument, NULL, OPT_RECONNECT_TIMEOUT },
  { "size", required_argument, NULL, 's' },
  { "status", no_argument, NULL, OPT_STATUS },
  { "timeout", required_argument, NULL, 't' },
  { "tls-psk", required_argument, NULL, OPT_TLS_PSK },
  { "tls-username", required_argument, NULL, OPT_TLS_USERNAME },
  { "unix", required_argument, NULL, OPT_UNIX },
  { "verbose", no_argument, NULL, 'v' },
  { "version", no_argument, NULL, OPT_VERSION },
  { NULL, 0, NULL, 0 },
};

/* The long name of option C, for messages. */
static const char *
long_name (int c)
{
  size_t i;

  for (i = 0; long_opts[i].name; i++) {
    if (long_opts[i].val == c)
      return long_opts[i].name;
  }
  return "?";
}

/* A swap priority: -1 (the kernel chooses) or 0..32767. */
static int
parse_priority (const char *str, int *prio)
{
  uint64_t v;

  if (strcmp (str, "-1") == 0) {
    *prio = -1;
    return 0;
  }
  if (parse_uint ("--priority", str, 0, 32767, &v) == -1)
    return -1;
  *prio = v;
  return 0;
}

/* Options that only make sense when attaching. */
static int
check_attach_only (const struct options *o, unsigned given)
{
  if (o->action != ACT_ATTACH && given) {
    dram_error ("%s takes no attach options",
                o->action == ACT_DETACH ? "--detach" : "--status");
    return -1;
  }
  return 0;
}

/* --size: whole pages, enough for a swap header and some swap. */
static int
parse_swap_size (const char *str, uint64_t *size)
{
  long pagesize = sysconf (_SC_PAGESIZE);

  if (parse_size ("--size", str, size) == -1)
    return -1;
  if (*size % pagesize != 0 || *size < (uint64_t) pagesize * 10) {
    dram_error ("--size: %s is not a multiple of the page size (%ld) of "
                "at least 10 pages", str, pagesize);
    return -1;
  }
  return 0;
}

/* The options of the nbd and fuse front-ends, which talk NBD, are
 * refused in nfs mode and the other way round; NBD_OPT names the first
 * NBD option given, NFS_OPT the first NFS one.
 */
static int
check_mode_options (const struct options *o, const char *nbd_opt,
                    const char *nfs_opt)
{
  if (o->mode == MODE_NFS) {
    if (o->discard) {
      dram_error ("--discard: the kernel discards swap on block devices "
                  "only, not on a swap file over NFS");
      return -1;
    }
    if (nbd_opt && o->tls_psk) {
      dram_error ("--tls-psk is not an option of --mode=nfs: the kernel's "
                  "NFS client has no TLS-PSK (swap pages cross the network "
                  "in clear text); use the nbd or fuse mode for TLS");
      return -1;
    }
    if (nbd_opt) {
      dram_error ("--%s is not an option of --mode=nfs", nbd_opt);
      return -1;
    }
  }
  else if (nfs_opt) {
    dram_error ("--%s goes with --mode=nfs", nfs_opt);
    return -1;
  }
  return 0;
}

/* The donor of the nfs mode: SERVER:/EXPORT, nothing after it. */
static int
parse_nfs_donor (int argc, char **argv, struct options *o)
{
  if (optind >= argc) {
    dram_error ("no export given (SERVER:/EXPORT; see --help)");
    return -1;
  }
  if (nfs_target_parse (argv[optind++], &o->nfs) == -1)
    return -1;
  if (optind < argc) {
    dram_error ("unexpected argument '%s' (--mode=nfs takes no device)",
                argv[optind]);
    return -1;
  }
  return 0;
}

int
options_parse (int argc, char **argv, struct options *o)
{
  uint64_t v;
  unsigned attach_opts = 0;
  char *unix_socket = NULL;
  const char *nbd_opt = NULL, *nfs_opt = NULL;
  int c, r = -1;

  memset (o, 0, sizeof *o);
  o->nfs_version.major = 4;
  o->nfs_version.minor = -1;
  o->priority = -1;
  o->connections = 1;
  o->reconnect_timeout = DEFAULT_RECONNECT_TIMEOUT;
  o->swap = true;

  optind = 0;                   /* full rescan: tests parse many times */
  opterr = 0;
  while ((c = getopt_long (argc, argv, short_opts, long_opts, NULL)) != -1) {
    if (c != 'h' && c != 'v' && c != OPT_VERSION && c != OPT_DETACH &&
        c != OPT_STATUS && c != OPT_JSON)
      attach_opts++;
    if (!nbd_opt && (c == 'c' || c == 'e' || c == 't' || c == OPT_NO_SWAP ||
                     c == OPT_TLS_PSK || c == OPT_TLS_USERNAME ||
                     c == OPT_UNIX || c == OPT_RECONNECT_TIMEOUT ||
                     c == OPT_FORCE))
      nbd_opt = long_name (c);
    if (!nfs_opt && (c == 's' || c == OPT_PERSIST || c == OPT_NFS_VERSION))
      nfs_opt = long_name (c);
    switch (c) {
    case 'c':
      if (parse_uint ("--connections", optarg, 1, MAX_CONNECTIONS, &v) == -1)
        goto out;
      o->connections = v;
      break;
    case 'd':
      o->discard = true;
      break;
    case 'e':
      if (set_str (&o->export_name, optarg) == -1)
        goto out;
      break;
    case 'h':
      o->action = ACT_HELP;
      r = 0;
      goto out;
    case 'L':
      if (strlen (optarg) > SWAP_LABEL_MAX) {
        dram_error ("--label: '%s' is longer than %d bytes", optarg,
                    SWAP_LABEL_MAX);
        goto out;
      }
      if (set_str (&o->label, optarg) == -1)
        goto out;
      break;
    case 'm':
      if (parse_mode (optarg, &o->mode) == -1)
        goto out;
      break;
    case 'p':
      if (parse_priority (optarg, &o->priority) == -1)
        goto out;
      break;
    case 's':
      if (parse_swap_size (optarg, &o->size) == -1)
        goto out;
      break;
    case OPT_PERSIST:
      o->persist = true;
      break;
    case OPT_NFS_VERSION:
      if (nfs_version_parse (optarg, &o->nfs_version) == -1)
        goto out;
      break;
    case 't':
      if (parse_uint ("--timeout", optarg, 0, MAX_TIMEOUT, &v) == -1)
        goto out;
      o->timeout = v;
      break;
    case OPT_RECONNECT_TIMEOUT:
      if (parse_uint ("--reconnect-timeout", optarg, 0, MAX_TIMEOUT, &v) == -1)
        goto out;
      o->reconnect_timeout = v;
      break;
    case 'v':
      o->verbose = true;
      break;
    case OPT_FORCE:
      o->force = true;
      break;
    case OPT_NO_SWAP:
      o->swap = false;
      break;
    case OPT_TLS_PSK:
      if (set_str (&o->tls_psk, optarg) == -1)
        goto out;
      break;
    case OPT_TLS_USERNAME:
      if (set_str (&o->tls_username, optarg) == -1)
        goto out;
      break;
    case OPT_UNIX:
      free (unix_socket);
      unix_socket = strdup (optarg);
      break;
    case OPT_DETACH:
      if (o->action != ACT_ATTACH)
        goto conflict;
      o->action = ACT_DETACH;
      if (set_str (&o->detach, optarg) == -1)
        goto out;
      break;
    case OPT_STATUS:
      if (o->action != ACT_ATTACH)
        goto conflict;
      o->action = ACT_STATUS;
      break;
    case OPT_JSON:
      o->json = true;
      break;
    case OPT_VERSION:
      o->action = ACT_VERSION;
      r = 0;
      goto out;
    case '?':
      /* getopt names a long option given a value by its value. */
      if (strncmp (argv[optind - 1], "--", 2) == 0 && optopt)
        dram_error ("option '%.*s' takes no value",
                    (int) strcspn (argv[optind - 1], "="), argv[optind - 1]);
      else if (optopt)
        dram_error ("unknown option '-%c' (see --help)", optopt);
      else
        dram_error ("unknown option '%s' (see --help)", argv[optind - 1]);
      goto out;
    case ':':
    default:
      dram_error ("option '%s' needs a value", argv[optind - 1]);
      goto out;
    }
  }

  if (check_attach_only (o, attach_opts) == -1)
    goto out;
  if (o->json && o->action != ACT_STATUS) {
    dram_error ("--json goes with --status");
    goto out;
  }
  if (o->action != ACT_ATTACH) {
    if (optind < argc) {
      dram_error ("unexpected argument '%s'", argv[optind]);
      goto out;
    }
    r = 0;
    goto out;
  }

  /* An NFS export (SERVER:/EXPORT) can only mean the nfs mode. */
  if (o->mode == MODE_AUTO && !unix_socket && optind < argc &&
      nfs_target_looks_like (argv[optind]))
    o->mode = MODE_NFS;
  if (check_mode_options (o, nbd_opt, nfs_opt) == -1)
    goto out;
  if (o->mode == MODE_NFS) {
    r = parse_nfs_donor (argc, argv, o) == -1 ? -1 : 0;
    goto out;
  }

  /* Attach: the donor, then an optional device. */
  if (unix_socket) {
    o->target.transport = T_UNIX;
    o->target.socket = unix_socket;
    unix_socket = NULL;
  }
  else {
    if (optind >= argc) {
      dram_error ("no donor given (HOST[:PORT], --unix SOCKET or an NBD "
                  "URI; see --help)");
      goto out;
    }
    if (target_parse (argv[optind++], &o->target) == -1)
      goto out;
  }
  if (optind < argc && set_str (&o->device, argv[optind++]) == -1)
    goto out;
  if (optind < argc) {
    dram_error ("unexpected argument '%s'", argv[optind]);
    goto out;
  }
  if (o->device && strncmp (o->device, "/dev/", 5) != 0) {
    dram_error ("'%s' is not a device path (expected /dev/nbdN)", o->device);
    goto out;
  }
  if (o->tls_username && !o->tls_psk) {
    dram_error ("--tls-username needs --tls-psk");
    goto out;
  }
  if (o->target.transport == T_URI && o->export_name) {
    dram_error ("--export cannot be used with a URI (put the export name in "
                "the URI)");
    goto out;
  }
  if (!o->swap && (o->priority != -1 || o->discard || o->label ||
                  o->force)) {
    dram_error ("--no-swap cannot be used with --priority, --discard, "
                "--label or --force");
    goto out;
  }
  r = 0;

 out:
  free (unix_socket);
  if (r == -1)
    options_free (o);
  return r;

 conflict:
  dram_error ("--detach and --status cannot be used together");
  goto out;
}
