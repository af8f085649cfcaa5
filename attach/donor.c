/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Talking to the donor: the NBD handshake through libnbd, then handing
 * the connected sockets over.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/nbd.h>

#include <libnbd.h>

#include "donor.h"
#include "ktls.h"
#include "report.h"

char *
psk_first_user (const char *path)
{
  FILE *fp = fopen (path, "re");
  char line[1024], *colon;
  char *user = NULL;

  if (fp == NULL) {
    dram_error ("--tls-psk: %s: %m", path);
    return NULL;
  }
  while (fgets (line, sizeof line, fp) != NULL) {
    colon = strchr (line, ':');
    if (colon == NULL || colon == line || line[0] == '#')
      continue;
    user = strndup (line, colon - line);
    break;
  }
  fclose (fp);
  if (user == NULL)
    dram_error ("--tls-psk: %s holds no 'username:key' line", path);
  return user;
}

/* Whether the donor is reached over TCP from another machine, where
 * the dram plugin refuses clients without TLS.
 */
static bool
remote_tcp (const struct target *t)
{
  const char *h = t->host;

  if (h == NULL || t->transport == T_UNIX)
    return false;
  return strcmp (h, "localhost") != 0 && strncmp (h, "127.", 4) != 0 &&
         strcmp (h, "::1") != 0;
}

/* libnbd's last error, with a hint for the refusals operators meet. */
static void
report_nbd_error (const struct donor *d, const struct options *o)
{
  const char *msg = nbd_get_error ();
  int err = nbd_get_errno ();
  const char *hint = "";

  if (strstr (msg, "connect:") != NULL)
    hint = " (is nbdkit running there?)";
  else if (err == ENOENT && remote_tcp (&o->target) && !o->tls_psk &&
           !o->target.tls_uri)
    hint = " (a donor on another machine refuses clients without TLS: "
           "use --tls-psk FILE with the donor's key; or check the export "
           "name)";
  else if (err == ENOENT)
    hint = " (check the export name)";
  dram_error ("donor %s: %s%s", d->name, msg, hint);
}

static struct nbd_handle *
connect_one (const struct options *o, const struct donor *d,
             const char *username)
{
  const struct target *t = &o->target;
  struct nbd_handle *h = nbd_create ();
  int r;

  if (h == NULL) {
    dram_error ("nbd_create: %s", nbd_get_error ());
    return NULL;
  }
  if (nbd_set_request_structured_replies (h, false) == -1 ||
      nbd_set_export_name (h, o->export_name ? o->export_name : "") == -1)
    goto err;
  if (o->tls_psk) {
    if (nbd_set_tls (h, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_psk_file (h, o->tls_psk) == -1 ||
        nbd_set_tls_username (h, username) == -1)
      goto err;
  }

  switch (t->transport) {
  case T_TCP:
    r = nbd_connect_tcp (h, t->host, t->port);
    break;
  case T_UNIX:
    r = nbd_connect_unix (h, t->socket);
    break;
  case T_URI:
  default:
    r = nbd_connect_uri (h, t->uri);
    break;
  }
  if (r == -1)
    goto err;
  return h;

 err:
  report_nbd_error (d, o);
  nbd_close (h);
  return NULL;
}

/* What the first connection learnt; later ones must agree. */
static int
read_info (struct donor *d)
{
  struct nbd_handle *h = d->h[0];
  int64_t size = nbd_get_size (h);

  if (size == -1) {
    dram_error ("donor %s: %s", d->name, nbd_get_error ());
    return -1;
  }
  d->size = size;
  d->read_only = nbd_is_read_only (h) == 1;
  d->can_flush = nbd_can_flush (h) == 1;
  d->can_fua = nbd_can_fua (h) == 1;
  d->can_trim = nbd_can_trim (h) == 1;
  d->can_multi_conn = nbd_can_multi_conn (h) == 1;
  return 0;
}

int
donor_connect (const struct options *o, struct donor *d)
{
  char *username = NULL;
  unsigned i;

  memset (d, 0, sizeof *d);
  for (i = 0; i < MAX_CONNECTIONS; i++)
    d->fd[i] = -1;
  target_describe (&o->target, d->name, sizeof d->name);

  if (o->tls_psk) {
    username = o->tls_username ? strdup (o->tls_username)
                               : psk_first_user (o->tls_psk);
    if (username == NULL)
      return -1;
  }

  for (i = 0; i < o->connections; i++) {
    d->h[i] = connect_one (o, d, username);
    if (d->h[i] == NULL)
      goto err;
    d->session[i] = ktls_take_session ();
    d->nr++;
    if (i == 0) {
      if (read_info (d) == -1)
        goto err;
      if (o->connections > 1 && !d->can_multi_conn) {
        dram_error ("donor %s does not allow several connections "
                    "(no multi-conn); use --connections 1", d->name);
        goto err;
      }
    }
    else if (nbd_get_size (d->h[i]) != (int64_t) d->size) {
      dram_error ("donor %s: connection %u reports another size", d->name,
                  i + 1);
      goto err;
    }
  }
  free (username);
  return 0;

 err:
  free (username);
  donor_close (d);
  return -1;
}

uint64_t
donor_kernel_flags (const struct donor *d)
{
  uint64_t f = NBD_FLAG_HAS_FLAGS;

  if (d->read_only)
    f |= NBD_FLAG_READ_ONLY;
  if (d->can_flush)
    f |= NBD_FLAG_SEND_FLUSH;
  if (d->can_fua)
    f |= NBD_FLAG_SEND_FUA;
  if (d->can_trim)
    f |= NBD_FLAG_SEND_TRIM;
  if (d->can_multi_conn)
    f |= NBD_FLAG_CAN_MULTI_CONN;
  return f;
}

/* Duplicates connection I's socket for the kernel, blocking. */
static int
dup_socket (struct donor *d, unsigned i)
{
  int fd = nbd_aio_get_fd (d->h[i]), flags;

  if (fd == -1) {
    dram_error ("donor %s: %s", d->name, nbd_get_error ());
    return -1;
  }
  d->fd[i] = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  if (d->fd[i] == -1) {
    dram_error ("dup: %m");
    return -1;
  }
  flags = fcntl (d->fd[i], F_GETFL);
  if (flags == -1 || fcntl (d->fd[i], F_SETFL, flags & ~O_NONBLOCK) == -1) {
    dram_error ("fcntl: %m");
    return -1;
  }
  return 0;
}

/* libnbd holds nothing unread after the handshake, and nbd_close only
 * closes its own descriptor: the duplicate stays connected.
 */
static void
forget_handle (struct donor *d, unsigned i)
{
  nbd_close (d->h[i]);
  d->h[i] = NULL;
  d->session[i] = NULL;
}

int
donor_take_sockets (struct donor *d)
{
  unsigned i;

  for (i = 0; i < d->nr; i++) {
    if (dup_socket (d, i) == -1)
      return -1;
    forget_handle (d, i);
  }
  return 0;
}

int
donor_take_ktls_sockets (struct donor *d, char *why, size_t len)
{
  unsigned i;
  int r;

  /* Check them all first, so that falling back leaves all usable. */
  for (i = 0; i < d->nr; i++) {
    if (d->session[i] == NULL) {
      snprintf (why, len, "libnbd's TLS session could not be found");
      return -1;
    }
    if (!ktls_supported (d->session[i], why, len))
      return -1;
  }
  for (i = 0; i < d->nr; i++) {
    if (dup_socket (d, i) == -1)
      return -2;
    r = ktls_install (d->fd[i], d->session[i], why, len);
    if (r < 0) {
      /* Only the first can fail without having changed a socket. */
      if (r == -1 && i > 0)
        dram_error ("kernel TLS failed on connection %u: %s", i + 1, why);
      close (d->fd[i]);
      d->fd[i] = -1;
      return r == -1 && i == 0 ? -1 : -2;
    }
  }
  for (i = 0; i < d->nr; i++)
    forget_handle (d, i);
  return 0;
}

void
donor_close (struct donor *d)
{
  unsigned i;

  for (i = 0; i < MAX_CONNECTIONS; i++) {
    if (d->h[i])
      nbd_close (d->h[i]);
    d->h[i] = NULL;
    d->session[i] = NULL;
    if (d->fd[i] >= 0)
      close (d->fd[i]);
    d->fd[i] = -1;
  }
  d->nr = 0;
}
