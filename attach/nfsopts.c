/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The nfs front-end's addresses, names and mount options (see
 * nfsopts.h): no system calls, so that the unit tests cover all of it.
 */

#include <config.h>

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfsopts.h"
#include "parse.h"
#include "port.h"
#include "report.h"

#define MAX_EXPORT 1024         /* NFS4_MAXPATHLEN is 4096; mount.nfs 1024 */

static const char usage_forms[] =
  "expected SERVER:/EXPORT, SERVER:PORT:/EXPORT or nfs://SERVER[:PORT]/EXPORT";

void
nfs_target_free (struct nfs_target *t)
{
  free (t->host);
  free (t->export_path);
  memset (t, 0, sizeof *t);
}

bool
nfs_target_looks_like (const char *str)
{
  static const char *const nbd_schemes[] = {
    "nbd:", "nbds:", "nbd+unix:", "nbds+unix:",
  };
  size_t i;

  if (strncmp (str, "nfs://", 6) == 0)
    return true;
  /* nbd:/x is an NBD URI mistyped, not a server called "nbd". */
  for (i = 0; i < sizeof nbd_schemes / sizeof nbd_schemes[0]; i++) {
    if (strncmp (str, nbd_schemes[i], strlen (nbd_schemes[i])) == 0)
      return false;
  }
  return strstr (str, "://") == NULL && strstr (str, ":/") != NULL;
}

/* A host name, IPv4 address, or (BRACKETED) IPv6 address with an
 * optional %scope: only the characters those use.
 */
static int
check_host (const char *whole, const char *host, bool bracketed)
{
  const char *p;

  if (*host == '\0') {
    dram_error ("'%s': the server is missing (%s)", whole, usage_forms);
    return -1;
  }
  for (p = host; *p; p++) {
    if (isalnum ((unsigned char) *p) || *p == '.' || *p == '-' || *p == '_')
      continue;
    if (bracketed && (*p == ':' || *p == '%'))
      continue;
    dram_error ("'%s': '%c' cannot be part of the server's name or address",
                whole, *p);
    return -1;
  }
  /* Only an IPv6 address keeps its brackets when described again. */
  if (bracketed && strchr (host, ':') == NULL) {
    dram_error ("'%s': only an IPv6 address goes in brackets", whole);
    return -1;
  }
  return 0;
}

/* The export: an absolute path that a mount table can hold. */
static int
check_export (const char *whole, const char *exp)
{
  const unsigned char *p;

  if (*exp != '/') {
    dram_error ("'%s': the export must be an absolute path (%s)", whole,
                usage_forms);
    return -1;
  }
  /* SERVER://EXPORT, as described or as a mount source, is a URL. */
  if (exp[1] == '/') {
    dram_error ("'%s': the export may not start with '//'", whole);
    return -1;
  }
  if (strlen (exp) >= MAX_EXPORT) {
    dram_error ("the export is longer than %d bytes: '%.60s...'",
                MAX_EXPORT - 1, whole);
    return -1;
  }
  for (p = (const unsigned char *) exp; *p; p++) {
    if (*p <= ' ' || *p == 0x7f || *p == ',' || *p == '\\') {
      dram_error ("'%s': the export may not contain spaces, control "
                  "characters, ',' or '\\'", whole);
      return -1;
    }
  }
  return 0;
}

/* HOST, [V6], HOST:PORT or [V6]:PORT, LEN bytes of WHOLE at STR. */
static int
parse_authority (const char *whole, const char *str, size_t len,
                 struct nfs_target *t)
{
  const char *end = str + len, *colon, *close;
  bool bracketed = false;

  if (len > 0 && *str == '[') {
    close = memchr (str, ']', len);
    if (close == NULL) {
      dram_error ("'%s': unterminated '[' in the server's address", whole);
      return -1;
    }
    if (close + 1 < end && close[1] != ':') {
      dram_error ("'%s': expected ':' after ']'", whole);
      return -1;
    }
    t->host = strndup (str + 1, close - str - 1);
    colon = close + 1 < end ? close + 1 : NULL;
    bracketed = true;
  }
  else {
    colon = memchr (str, ':', len);
    if (colon && memchr (colon + 1, ':', end - colon - 1)) {
      dram_error ("'%s': an IPv6 address goes in brackets: "
                  "[ADDRESS]:/EXPORT", whole);
      return -1;
    }
    t->host = strndup (str, (colon ? colon : end) - str);
  }
  if (t->host == NULL) {
    dram_error ("strndup: %m");
    return -1;
  }
  if (check_host (whole, t->host, bracketed) == -1)
    return -1;
  if (colon && port_parse (whole, colon + 1, end - colon - 1, &t->port) == -1)
    return -1;
  return 0;
}

int
nfs_target_parse (const char *str, struct nfs_target *t)
{
  const char *sep, *exp;
  size_t len;

  memset (t, 0, sizeof *t);
  if (strncmp (str, "nfs://", 6) == 0) {
    str += 6;
    len = strcspn (str, "/");
    exp = str + len;
    if (parse_authority (str - 6, str, len, t) == -1)
      goto err;
    if (*exp == '\0') {
      dram_error ("'%s': the URL names no export (nfs://SERVER[:PORT]/EXPORT)",
                  str - 6);
      goto err;
    }
    if (check_export (str - 6, exp) == -1)
      goto err;
  }
  else {
    /* The export starts at the first ":/" after any brackets. */
    sep = strstr (*str == '[' && strchr (str, ']') ? strchr (str, ']') : str,
                  ":/");
    if (sep == NULL) {
      dram_error ("'%s': %s", str, usage_forms);
      goto err;
    }
    exp = sep + 1;
    if (parse_authority (str, str, sep - str, t) == -1 ||
        check_export (str, exp) == -1)
      goto err;
  }
  t->export_path = strdup (exp);
  if (t->export_path == NULL) {
    dram_error ("strdup: %m");
    goto err;
  }
  return 0;

 err:
  nfs_target_free (t);
  return -1;
}

int
nfs_version_parse (const char *str, struct nfs_version *v)
{
  static const struct { const char *name; int major, minor; } versions[] = {
    { "3", 3, 0 }, { "4", 4, -1 },
    { "4.0", 4, 0 }, { "4.1", 4, 1 }, { "4.2", 4, 2 },
  };
  size_t i;

  for (i = 0; i < sizeof versions / sizeof versions[0]; i++) {
    if (strcmp (str, versions[i].name) == 0) {
      v->major = versions[i].major;
      v->minor = versions[i].minor;
      return 0;
    }
  }
  dram_error ("--nfs-version: '%s' is not a version (use 4, 4.2, 4.1, 4.0 "
              "or 3)", str);
  return -1;
}

/* snprintf into BUF, reporting truncation. */
static int __attribute__ ((format (printf, 3, 4)))
put (char *buf, size_t len, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (buf, len, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= len) {
    dram_error ("internal error: %zu bytes are too few for '%s'", len, fmt);
    return -1;
  }
  return 0;
}

int
nfs_mount_source (const struct nfs_target *t, char *buf, size_t len)
{
  if (strchr (t->host, ':'))
    return put (buf, len, "[%s]:%s", t->host, t->export_path);
  return put (buf, len, "%s:%s", t->host, t->export_path);
}

int
nfs_target_describe (const struct nfs_target *t, char *buf, size_t len)
{
  const char *l = strchr (t->host, ':') ? "[" : "";
  const char *r = *l ? "]" : "";

  if (t->port)
    return put (buf, len, "%s%s%s:%u:%s", l, t->host, r, t->port,
                t->export_path);
  return put (buf, len, "%s%s%s:%s", l, t->host, r, t->export_path);
}

/* Appends S to BUF (at *POS, of LEN), escaped as nfs_mountpoint_name
 * says; SLASH is what '/' becomes.
 */
static int
escape_name (const char *s, const char *slash, char *buf, size_t len,
             size_t *pos)
{
  const unsigned char *p;
  int n;

  for (p = (const unsigned char *) s; *p; p++) {
    if (isalnum (*p) || *p == '.')
      n = snprintf (buf + *pos, len - *pos, "%c", *p);
    else if (*p == '/' && slash)
      n = snprintf (buf + *pos, len - *pos, "%s", slash);
    else
      n = snprintf (buf + *pos, len - *pos, "_%02x", *p);
    if (n < 0 || (size_t) n >= len - *pos)
      return -1;
    *pos += n;
  }
  return 0;
}

int
nfs_mountpoint_name (const struct nfs_target *t, char *buf, size_t len)
{
  size_t pos = 0, max = len < NAME_MAX + 1 ? len : NAME_MAX + 1;
  int n;

  if (escape_name (t->host, NULL, buf, max, &pos) == -1)
    goto too_long;
  if (t->port) {
    n = snprintf (buf + pos, max - pos, ":%u", t->port);
    if (n < 0 || (size_t) n >= max - pos)
      goto too_long;
    pos += n;
  }
  if (escape_name (t->export_path, "-", buf, max, &pos) == -1)
    goto too_long;
  return 0;

 too_long:
  dram_error ("%s:%s: the server's name and the export are too long for "
              "a mountpoint's name (%d bytes)", t->host, t->export_path,
              NAME_MAX);
  return -1;
}

/* ",port=N" when not the default, or "". */
static const char *
port_option (unsigned port, char *buf, size_t len)
{
  if (port == 0 || port == NFS_DEFAULT_PORT)
    return "";
  snprintf (buf, len, ",port=%u", port);
  return buf;
}

int
nfs_helper_options (const struct nfs_version *v, unsigned port,
                    char *buf, size_t len)
{
  char p[24];

  if (v->major == 3)
    return put (buf, len, "vers=3,nolock%s", port_option (port, p, sizeof p));
  if (v->minor < 0)
    return put (buf, len, "vers=4%s", port_option (port, p, sizeof p));
  return put (buf, len, "vers=4.%d%s", v->minor,
              port_option (port, p, sizeof p));
}

int
nfs_kernel_options (const struct nfs_version *v, const char *addr,
                    const char *clientaddr, unsigned port,
                    char *buf, size_t len)
{
  char p[24];

  if (v->major == 3)
    return put (buf, len, "vers=3,addr=%s,nolock%s", addr,
                port_option (port, p, sizeof p));
  if (v->minor < 0) {
    dram_error ("internal error: the kernel needs a minor version");
    return -1;
  }
  return put (buf, len, "vers=4.%d,addr=%s,clientaddr=%s%s", v->minor, addr,
              clientaddr, port_option (port, p, sizeof p));
}

char
kconfig_lookup (FILE *fp, const char *symbol)
{
  char line[512], set[256], unset[256];
  size_t n;

  snprintf (set, sizeof set, "CONFIG_%s=", symbol);
  snprintf (unset, sizeof unset, "# CONFIG_%s is not set", symbol);
  n = strlen (set);
  while (fgets (line, sizeof line, fp) != NULL) {
    if (strncmp (line, set, n) == 0)
      return line[n] == 'y' || line[n] == 'm' ? line[n] : 'n';
    if (strncmp (line, unset, strlen (unset)) == 0)
      return 'n';
  }
  return 'n';
}
