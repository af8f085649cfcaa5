/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Fuzzing dram-attach's command line.  The input, split at newlines
 * and NULs, is an argv for options_parse; each of its words is also
 * given on its own to target_parse, nfs_target_parse and
 * nfs_version_parse, and the whole input is a kernel configuration for
 * kconfig_lookup.  What is accepted must hold what the modes rely on;
 * an NFS export must come back the same from the text that --status
 * shows and --detach parses again, and from its mountpoint's name.
 */

#include <config.h>

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nfsopts.h"
#include "options.h"
#include "parse.h"

#define MAX_WORDS 64

static void
check_port_text (const char *port, const char *what)
{
  uint64_t v;

  if (port == NULL || parse_uint ("port", port, 1, 65535, &v) == -1)
    fuzz_fail ("%s: port '%s' accepted", what, port ? port : "(none)");
}

/* A described target fits any buffer: NUL-terminated, a prefix of the
 * whole text.
 */
static void
check_target_describe (const struct target *t, size_t small)
{
  size_t need = 32, len;
  char *full, *buf;

  if (t->host)
    need += strlen (t->host);
  if (t->port)
    need += strlen (t->port);
  if (t->socket)
    need += strlen (t->socket);
  if (t->uri)
    need += strlen (t->uri);
  full = malloc (need);
  buf = malloc (small);
  if (full == NULL || buf == NULL)
    abort ();
  target_describe (t, full, need);
  len = strnlen (full, need);
  if (len == need)
    fuzz_fail ("target_describe left its buffer unterminated");
  target_describe (t, buf, small);
  if (strnlen (buf, small) == small)
    fuzz_fail ("target_describe left a %zu-byte buffer unterminated", small);
  if (strncmp (buf, full, small - 1) != 0 ||
      strlen (buf) != (len < small - 1 ? len : small - 1))
    fuzz_fail ("target_describe in %zu bytes: '%s', not a prefix of '%s'",
               small, buf, full);
  free (buf);
  free (full);
}

static void
check_target (const struct target *t, const char *what, size_t small)
{
  switch (t->transport) {
  case T_TCP:
    if (t->host == NULL || t->host[0] == '\0')
      fuzz_fail ("%s: no host", what);
    check_port_text (t->port, what);
    break;
  case T_UNIX:
    if (t->socket == NULL)
      fuzz_fail ("%s: no socket", what);
    break;
  case T_URI:
    if (t->uri == NULL)
      fuzz_fail ("%s: no URI", what);
    if (t->host)
      check_port_text (t->port, what);
    break;
  }
  check_target_describe (t, small);
}

/* Undoes nfs_mountpoint_name: NAME must name T and nothing else. */
static void
check_mountpoint_name (const struct nfs_target *t, const char *name)
{
  char *host = malloc (strlen (name) + 1), *exp = malloc (strlen (name) + 1);
  char *out;
  const char *p = name;
  unsigned long port = 0;
  unsigned byte;

  if (host == NULL || exp == NULL)
    abort ();
  for (out = host; *p && *p != ':' && *p != '-'; out++) {
    if (*p == '_' && sscanf (p + 1, "%2x", &byte) == 1 &&
        isxdigit ((unsigned char) p[1]) && isxdigit ((unsigned char) p[2])) {
      *out = byte;
      p += 3;
    }
    else if (isalnum ((unsigned char) *p) || *p == '.')
      *out = *p++;
    else
      fuzz_fail ("mountpoint name '%s': bad byte in the server", name);
  }
  *out = '\0';
  if (*p == ':') {
    port = strtoul (p + 1, (char **) &p, 10);
    if (port == 0 || port > 65535)
      fuzz_fail ("mountpoint name '%s': bad port", name);
  }
  if (*p != '-')
    fuzz_fail ("mountpoint name '%s': no export", name);
  for (out = exp; *p; out++) {
    if (*p == '-') {
      *out = '/';
      p++;
    }
    else if (*p == '_' && sscanf (p + 1, "%2x", &byte) == 1 &&
             isxdigit ((unsigned char) p[1]) &&
             isxdigit ((unsigned char) p[2])) {
      *out = byte;
      p += 3;
    }
    else if (isalnum ((unsigned char) *p) || *p == '.')
      *out = *p++;
    else
      fuzz_fail ("mountpoint name '%s': bad byte in the export", name);
  }
  *out = '\0';
  if (strcmp (host, t->host) != 0 || port != t->port ||
      strcmp (exp, t->export_path) != 0)
    fuzz_fail ("mountpoint name '%s' is not %s port %u export %s", name,
               t->host, t->port, t->export_path);
  free (host);
  free (exp);
}

/* TEXT parses back to HOST, PORT and EXPORT. */
static void
check_reparse (const char *text, const char *what, const char *host,
               unsigned port, const char *exp)
{
  struct nfs_target again;

  if (nfs_target_parse (text, &again) == -1)
    fuzz_fail ("%s '%s' does not parse", what, text);
  if (strcmp (again.host, host) != 0 || again.port != port ||
      strcmp (again.export_path, exp) != 0)
    fuzz_fail ("%s '%s' is server %s port %u export %s, not %s %u %s", what,
               text, again.host, again.port, again.export_path, host, port,
               exp);
  nfs_target_free (&again);
}

static void
check_nfs (const struct nfs_target *t, const struct nfs_version *v,
           size_t small)
{
  size_t need = strlen (t->host) + strlen (t->export_path) + 32;
  char *buf = malloc (need), *tiny = malloc (small);
  char name[NAME_MAX + 1], opts[128];
  int r;

  if (buf == NULL || tiny == NULL)
    abort ();
  if (t->host[0] == '\0' || t->export_path[0] != '/' || t->port > 65535)
    fuzz_fail ("nfs target '%s' port %u '%s' accepted", t->host, t->port,
               t->export_path);

  if (nfs_target_describe (t, buf, need) == -1)
    fuzz_fail ("nfs_target_describe failed in %zu bytes", need);
  check_reparse (buf, "described", t->host, t->port, t->export_path);
  r = nfs_target_describe (t, tiny, small);
  if (strnlen (tiny, small) == small ||
      (r == 0 && strcmp (tiny, buf) != 0) ||
      (r == -1 && strlen (buf) < small))
    fuzz_fail ("nfs_target_describe in %zu bytes: %d '%s'", small, r, tiny);

  if (nfs_mount_source (t, buf, need) == -1)
    fuzz_fail ("nfs_mount_source failed in %zu bytes", need);
  check_reparse (buf, "mount source", t->host, 0, t->export_path);

  if (nfs_mountpoint_name (t, name, sizeof name) == 0) {
    if (strlen (name) > NAME_MAX)
      fuzz_fail ("mountpoint name '%s' is too long", name);
    check_mountpoint_name (t, name);
  }

  if (nfs_helper_options (v, t->port, opts, sizeof opts) == -1)
    fuzz_fail ("nfs_helper_options failed");
  r = nfs_kernel_options (v, "192.0.2.1", "192.0.2.2", t->port, opts,
                          sizeof opts);
  if (r != (v->major == 4 && v->minor < 0 ? -1 : 0))
    fuzz_fail ("nfs_kernel_options for %d.%d returned %d", v->major,
               v->minor, r);
  free (tiny);
  free (buf);
}

/* What the modes take for granted once options_parse has passed. */
static void
check_options (const struct options *o, size_t small)
{
  if (o->action == ACT_HELP || o->action == ACT_VERSION ||
      o->action == ACT_STATUS)
    return;
  if (o->action == ACT_DETACH) {
    if (o->detach == NULL)
      fuzz_fail ("--detach without what");
    return;
  }
  if (o->json)
    fuzz_fail ("--json accepted without --status");
  if (o->mode == MODE_NFS) {
    if (o->discard)
      fuzz_fail ("--discard accepted with --mode=nfs");
    check_nfs (&o->nfs, &o->nfs_version, small);
    return;
  }
  check_target (&o->target, "options_parse", small);
  if (o->connections < 1 || o->connections > MAX_CONNECTIONS ||
      o->timeout > MAX_TIMEOUT || o->priority < -1 || o->priority > 32767)
    fuzz_fail ("connections %u, timeout %u, priority %d accepted",
               o->connections, o->timeout, o->priority);
  if (o->label && strlen (o->label) > SWAP_LABEL_MAX)
    fuzz_fail ("label '%s' accepted", o->label);
  if (o->device && strncmp (o->device, "/dev/", 5) != 0)
    fuzz_fail ("device '%s' accepted", o->device);
  if (o->tls_username && !o->tls_psk)
    fuzz_fail ("--tls-username accepted without --tls-psk");
  if (!o->swap && (o->priority != -1 || o->discard || o->label))
    fuzz_fail ("--no-swap accepted with swap options");
}

/* One word as each parser takes it on its own. */
static void
parse_word (const char *word, size_t small)
{
  struct target t;
  struct nfs_target nt;
  struct nfs_version v = { 4, -1 };

  if (target_parse (word, &t) == 0)
    check_target (&t, word, small);
  /* On failure too, what target_parse filled is the caller's to free. */
  free (t.host);
  free (t.port);
  free (t.socket);
  free (t.uri);

  nfs_target_looks_like (word);
  nfs_version_parse (word, &v);
  if (nfs_target_parse (word, &nt) == 0) {
    check_nfs (&nt, &v, small);
    nfs_target_free (&nt);
  }
}

static void
parse_kconfig (const uint8_t *data, size_t size, const char *symbol)
{
  FILE *fp;
  char c;

  if (size == 0)
    return;
  fp = fmemopen ((void *) data, size, "r");
  if (fp == NULL)
    abort ();
  c = kconfig_lookup (fp, symbol);
  if (c != 'y' && c != 'm' && c != 'n')
    fuzz_fail ("kconfig_lookup returned '%c'", c);
  fclose (fp);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct options o;
  char *argv[MAX_WORDS + 2];
  size_t n, i;
  char **words = fuzz_split (data, size, &n);
  /* A buffer size for the describe functions' truncation. */
  size_t small = 1 + (size ? data[0] % 48 : 0);

  if (n > MAX_WORDS)
    n = MAX_WORDS;
  argv[0] = (char *) "dram-attach";
  for (i = 0; i < n; i++)
    argv[i + 1] = words[i];
  argv[n + 1] = NULL;
  if (options_parse (n + 1, argv, &o) == 0) {
    check_options (&o, small);
    options_free (&o);
  }

  for (i = 0; i < n; i++)
    parse_word (words[i], small);
  parse_kconfig (data, size, n > 0 ? words[0] : "NFS_SWAP");
  free (words);
  return 0;
}
