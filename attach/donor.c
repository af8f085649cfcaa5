/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Talking to the donor: the NBD handshake through libnbd, then handing
 * the connected sockets over.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/nbd.h>

#include <libnbd.h>

#include "capacity.h"
#include "clock.h"
#include "donor.h"
#include "ktls.h"
#include "link.h"
#include "report.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

/* The first user name in the PSK file's text TEXT ("user:hexkey"
 * lines), or NULL after reporting.
 */
static char *
psk_first_user (const char *path, const char *text)
{
  const char *line, *colon, *end;

  for (line = text; *line; line = *end ? end + 1 : end) {
    end = strchrnul (line, '\n');
    colon = memchr (line, ':', end - line);
    if (colon == NULL || colon == line || line[0] == '#')
      continue;
    return strndup (line, colon - line);
  }
  dram_error ("--tls-psk: %s holds no 'username:key' line", path);
  return NULL;
}

/* Reads the whole PSK file PATH (at most PSK_FILE_MAX bytes) into a
 * NUL-terminated string; NULL after reporting.
 */
static char *
read_psk_file (const char *path, size_t *size)
{
  char *buf = malloc (PSK_FILE_MAX + 1);
  FILE *fp;
  size_t n;

  if (buf == NULL) {
    dram_error ("malloc: %m");
    return NULL;
  }
  fp = fopen (path, "re");
  if (fp == NULL) {
    dram_error ("--tls-psk: %s: %m", path);
    goto out_free;
  }
  n = fread (buf, 1, PSK_FILE_MAX + 1, fp);
  if (ferror (fp)) {
    dram_error ("--tls-psk: %s: %m", path);
    goto out_close;
  }
  if (n > PSK_FILE_MAX) {
    dram_error ("--tls-psk: %s is larger than %d KiB: not a key file?",
                path, PSK_FILE_MAX / 1024);
    goto out_close;
  }
  fclose (fp);
  buf[n] = '\0';
  *size = n;
  return buf;

 out_close:
  fclose (fp);
 out_free:
  free (buf);
  return NULL;
}

/* A sealed memfd holding TEXT (SIZE bytes), mapped and locked: PSK_FD
 * and PSK_PATH in D.  -1 after reporting.
 */
static int
pin_psk_copy (struct donor *d, const char *text, size_t size)
{
  int fd = memfd_create (PSK_MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING |
                         MFD_NOEXEC_SEAL);
  void *p;

  /* Kernels before 6.3 know no MFD_NOEXEC_SEAL. */
  if (fd == -1 && errno == EINVAL)
    fd = memfd_create (PSK_MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd == -1) {
    dram_error ("memfd_create: %m");
    return -1;
  }
  if (write (fd, text, size) != (ssize_t) size) {
    dram_error ("--tls-psk: copying the key file: %m");
    goto out_close;
  }
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
             F_SEAL_SEAL) == -1)
    dram_debug ("--tls-psk: cannot seal the key's copy: %m");
  /* An empty file has no page to lock (and mmap refuses length 0). */
  if (size > 0) {
    p = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      dram_error ("--tls-psk: mapping the key's copy: %m");
      goto out_close;
    }
    if (mlock (p, size) == -1)
      dram_error ("warning: --tls-psk: cannot lock the key's copy in "
                  "memory (%m): a reconnect may wait for it to be swapped "
                  "in");
  }
  d->psk_fd = fd;
  snprintf (d->psk_path, sizeof d->psk_path, "/proc/self/fd/%d", fd);
  return 0;

 out_close:
  close (fd);
  return -1;
}

/* The PSK file, read once.  Every connection, the first ones and each
 * reconnect, reads the key through libnbd, which opens the file it is
 * given.  A reconnect happens while swap waits for the donor, and the
 * file may be on tmpfs (/etc in an initramfs, /run/secrets in a
 * container), its page swapped out to the very device that waits: the
 * read would wait for it forever.  So libnbd is given a copy in locked
 * memory, which resident processes lock again after fork (resident.c),
 * as /proc/self/fd/N.  The user name is the first one in it unless
 * --tls-username names one.
 */
static int
load_psk (const struct options *o, struct donor *d)
{
  size_t size;
  char *text = read_psk_file (o->tls_psk, &size), *user;
  int r = -1;

  if (text == NULL)
    return -1;
  user = o->tls_username ? strdup (o->tls_username)
                         : psk_first_user (o->tls_psk, text);
  if (user == NULL)
    goto out;
  if ((size_t) snprintf (d->username, sizeof d->username, "%s", user)
      >= sizeof d->username) {
    dram_error ("--tls-psk: the user name '%s' is too long", user);
    goto out;
  }
  r = pin_psk_copy (d, text, size);
 out:
  free (user);
  /* The key's bytes do not linger in the heap. */
  explicit_bzero (text, size);
  free (text);
  return r;
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
describe_nbd_error (const struct donor *d, const struct options *o,
                    char *buf, size_t len)
{
  const char *msg = nbd_get_error ();
  int err = nbd_get_errno ();
  const char *hint = "";

  /* Refused at connect(2), or (through a NAT, QEMU's user network)
   * at the first read.
   */
  if (strstr (msg, "connect:") != NULL || err == ECONNREFUSED)
    hint = " (is nbdkit running there?)";
  else if (strstr (msg, "requires TLS") != NULL)
    hint = " (the donor requires TLS: use --tls-psk FILE with its key)";
  else if (strstr (msg, "refused TLS") != NULL)
    hint = " (the donor does not offer TLS: start it with --tls=require "
           "--tls-psk=FILE)";
  else if (strstr (msg, "gnutls_handshake") != NULL)
    hint = " (the TLS handshake failed: are the key and its user name the "
           "donor's?)";
  else if (err == ENOENT && remote_tcp (&o->target) && !o->tls_psk &&
           !o->target.tls_uri)
    hint = " (a donor on another machine refuses clients without TLS: "
           "use --tls-psk FILE with the donor's key; or check the export "
           "name)";
  else if (err == ENOENT)
    hint = " (check the export name)";
  snprintf (buf, len, "donor %s: %s%s", d->name, msg, hint);
}

/* Runs H while BUSY says so, until DEADLINE (monotonic_ms; -1: no
 * limit).  Returns 0, or -1 with libnbd's error set or ETIMEDOUT.
 */
static int
run_while (struct nbd_handle *h, int (*busy) (struct nbd_handle *),
           int64_t deadline)
{
  int64_t left = -1;

  while (busy (h) == 1) {
    if (deadline >= 0) {
      left = deadline - monotonic_ms ();
      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
    }
    if (nbd_poll (h, left) == -1)
      return -1;
  }
  return 0;
}

/* Runs the handshake started on H until DEADLINE: to the transmission
 * phase, or in option mode to where options are negotiated.
 */
static int
finish_handshake (struct nbd_handle *h, int64_t deadline)
{
  if (run_while (h, nbd_aio_is_connecting, deadline) == -1)
    return -1;
  return nbd_aio_is_ready (h) == 1 || nbd_aio_is_negotiating (h) == 1 ? 0
         : -1;
}

/* A TCP connection to the address the first connection reached, made
 * within TIMEOUT ms (-1: no limit).  Ours, not libnbd's
 * nbd_aio_connect: libnbd 1.14 leaves a handle whose connect(2) was
 * refused at once (a donor's own host with nothing on the port) in
 * CONNECT.START with no error, and its next nbd_poll reports only
 * "external event 0 is invalid".  Returns the socket, non-blocking, or
 * -1 with WHY filled.
 */
static int
connect_peer (const struct donor *d, int timeout, char *why, size_t len)
{
  struct pollfd pfd = { .events = POLLOUT };
  int fd, err = 0, one = 1, r;
  socklen_t errlen = sizeof err;

  fd = socket (d->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
               0);
  if (fd == -1) {
    snprintf (why, len, "donor %s: socket: %m", d->name);
    return -1;
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (fd, (const struct sockaddr *) &d->peer, d->peer_len) == -1) {
    if (errno != EINPROGRESS) {
      err = errno;
      goto out_refused;
    }
    pfd.fd = fd;
    do
      r = poll (&pfd, 1, timeout);
    while (r == -1 && errno == EINTR);
    if (r == 0) {
      snprintf (why, len, "donor %s: no answer within %d s", d->name,
                timeout / 1000);
      close (fd);
      return -1;
    }
    if (r == -1 || getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == -1)
      err = errno;
    if (err)
      goto out_refused;
  }
  return fd;

 out_refused:
  snprintf (why, len, "donor %s: connect: %s (is nbdkit running there?)",
            d->name, strerror (err));
  close (fd);
  return -1;
}

/* Connects once, giving up after TIMEOUT ms (-1: no limit); with
 * OPT_MODE, stops where options are negotiated (libnbd's option mode)
 * instead of opening the export.  Returns the handle, or NULL with WHY
 * filled.
 */
static struct nbd_handle *
connect_one (const struct options *o, const struct donor *d, int timeout,
             bool opt_mode, char *why, size_t len)
{
  const struct target *t = &o->target;
  const int64_t deadline = timeout < 0 ? -1 : monotonic_ms () + timeout;
  struct nbd_handle *h = nbd_create ();
  int r;

  if (h == NULL) {
    snprintf (why, len, "nbd_create: %s", nbd_get_error ());
    return NULL;
  }
  /* Full info: the export description carries the region's identity. */
  if (nbd_set_request_structured_replies (h, false) == -1 ||
      nbd_set_full_info (h, true) == -1 ||
      nbd_set_export_name (h, o->export_name ? o->export_name : "") == -1 ||
      nbd_set_opt_mode (h, opt_mode) == -1)
    goto err;
  if (o->tls_psk) {
    if (nbd_set_tls (h, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_psk_file (h, d->psk_path) == -1 ||
        nbd_set_tls_username (h, d->username) == -1)
      goto err;
  }

  switch (t->transport) {
  case T_TCP:
    /* A reconnect resolves nothing: a lookup reads /etc/hosts, which on
     * a tmpfs root can be in the very swap that waits for it.
     */
    if (d->peer_len > 0) {
      int fd = connect_peer (d, timeout, why, len);

      if (fd == -1) {
        nbd_close (h);
        return NULL;
      }
      /* The handle owns FD from here, even when this fails. */
      r = nbd_aio_connect_socket (h, fd);
    }
    else
      r = nbd_aio_connect_tcp (h, t->host, t->port);
    break;
  case T_UNIX:
    r = nbd_aio_connect_unix (h, t->socket);
    break;
  case T_URI:
  default:
    /* The URI is the operator's own, from the command line: its
     * tls-psk-file may be read.
     */
    r = nbd_set_uri_allow_local_file (h, true);
    if (r == 0)
      r = nbd_aio_connect_uri (h, t->uri);
    break;
  }
  if (r == -1)
    goto err;
  if (finish_handshake (h, deadline) == -1) {
    if (errno == ETIMEDOUT && nbd_aio_is_connecting (h)) {
      snprintf (why, len, "donor %s: no answer within %d s", d->name,
                timeout / 1000);
      nbd_close (h);
      return NULL;
    }
    goto err;
  }
  return h;

 err:
  describe_nbd_error (d, o, why, len);
  nbd_close (h);
  return NULL;
}

/* The region's identity in the export description, or "". */
static void
read_identity (struct nbd_handle *h, char *id)
{
  char *desc = nbd_get_export_description (h);

  if (identity_from_description (desc, id) == -1)
    id[0] = '\0';
  free (desc);
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
  read_identity (h, d->identity);
  return 0;
}

/* Where the first connection went, for the others and the reconnects
 * (none remembered: they resolve the name again).
 */
static void
remember_peer (struct donor *d)
{
  socklen_t len = sizeof d->peer;

  if (getpeername (nbd_aio_get_fd (d->h[0]), (struct sockaddr *) &d->peer,
                   &len) == 0 && len <= sizeof d->peer)
    d->peer_len = len;
  else
    dram_debug ("donor %s: getpeername: %m", d->name);
}

static int
on_export (void *opaque, const char *name, const char *description)
{
  struct capacity *c = opaque;

  /* Parsed, c->size is set: a donor's budget is never 0. */
  if (name[0] == '\0')
    capacity_parse (description, c);
  return 0;
}

int
donor_capacity (const struct options *o, const struct donor *d, int timeout,
                struct capacity *c)
{
  const int64_t deadline = monotonic_ms () + timeout;
  struct capacity found = { 0 };
  char why[600];
  struct nbd_handle *h = connect_one (o, d, timeout, true, why, sizeof why);
  int r = -1;

  if (h == NULL) {
    dram_debug ("donor %s: no capacity: %s", d->name, why);
    return -1;
  }
  if (nbd_aio_opt_list (h, (nbd_list_callback) { .callback = on_export,
                                                 .user_data = &found },
                        NBD_NULL_COMPLETION) == -1 ||
      run_while (h, nbd_aio_is_connecting, deadline) == -1)
    dram_debug ("donor %s: NBD_OPT_LIST: %s", d->name,
                errno == ETIMEDOUT ? "no answer" : nbd_get_error ());
  else if (found.size == 0)
    dram_debug ("donor %s lists no capacity (not a dram donor?)", d->name);
  else {
    *c = found;
    r = 0;
  }
  if (nbd_aio_is_negotiating (h) == 1)
    nbd_aio_opt_abort (h);
  nbd_close (h);
  return r;
}

/* The first connection was refused: when the donor says it has no
 * room for another region, WHY says that instead of what libnbd saw.
 */
static void
explain_refusal (const struct options *o, const struct donor *d, char *why,
                 size_t len)
{
  char summary[128];
  struct capacity c;

  if (donor_capacity (o, d, CAPACITY_WAIT_MS, &c) == -1 ||
      capacity_fits (&c))
    return;
  capacity_summary (&c, summary, sizeof summary);
  snprintf (why, len, "donor %s: %s; nothing left for this recipient",
            d->name, summary);
}

int
donor_connect (const struct options *o, struct donor *d)
{
  char why[600];
  unsigned i;

  memset (d, 0, sizeof *d);
  for (i = 0; i < MAX_CONNECTIONS; i++)
    d->fd[i] = -1;
  d->psk_fd = -1;
  target_describe (&o->target, d->name, sizeof d->name);
  if (o->tls_psk && load_psk (o, d) == -1)
    goto err;

  for (i = 0; i < o->connections; i++) {
    d->h[i] = connect_one (o, d, -1, false, why, sizeof why);
    if (d->h[i] == NULL) {
      if (i == 0)
        explain_refusal (o, d, why, sizeof why);
      dram_error ("%s", why);
      goto err;
    }
    d->session[i] = ktls_take_session ();
    d->nr++;
    if (i == 0) {
      if (read_info (d) == -1)
        goto err;
      if (o->target.transport == T_TCP)
        remember_peer (d);
      d->have_capacity = donor_capacity (o, d, CAPACITY_WAIT_MS,
                                         &d->capacity) == 0;
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
  return 0;

 err:
  donor_close (d);
  return -1;
}

unsigned
donor_reconnect_time (const struct options *o, const struct donor *d)
{
  if (o->reconnect_timeout == 0)
    return 0;
  if (d->identity[0] == '\0') {
    dram_error ("warning: donor %s does not name its region (not the dram "
                "plugin?): a lost connection will not be remade, since "
                "dram-attach could not tell whether the data survived",
                d->name);
    return 0;
  }
  return o->reconnect_timeout;
}

struct nbd_handle *
donor_reconnect (const struct options *o, const struct donor *d,
                 int timeout, bool *lost, char *why, size_t len)
{
  struct nbd_handle *h = connect_one (o, d, timeout, false, why, len);
  char id[IDENTITY_LEN + 1];
  int64_t size;

  *lost = false;
  if (h == NULL)
    return NULL;
  size = nbd_get_size (h);
  read_identity (h, id);
  if (strcmp (id, d->identity) != 0 || size != (int64_t) d->size) {
    *lost = true;
    snprintf (why, len, "donor %s now serves another region (%s, %" PRId64
              " bytes; it was %s, %" PRIu64 " bytes): what was swapped out "
              "there is lost", d->name, id[0] ? id : "no identity", size,
              d->identity, d->size);
    nbd_close (h);
    return NULL;
  }
  return h;
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

int
donor_dup_socket (struct nbd_handle *h, char *why, size_t len)
{
  int fd = nbd_aio_get_fd (h), dup, flags;
  const char *err;

  if (fd == -1) {
    err = nbd_get_error ();
    snprintf (why, len, "%s", err ? err : "no socket");
    return -1;
  }
  dup = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  if (dup == -1) {
    snprintf (why, len, "dup: %m");
    return -1;
  }
  flags = fcntl (dup, F_GETFL);
  if (flags == -1 || fcntl (dup, F_SETFL, flags & ~O_NONBLOCK) == -1) {
    snprintf (why, len, "fcntl: %m");
    close (dup);
    return -1;
  }
  return dup;
}

/* As donor_dup_socket, reporting what failed. */
static int
dup_socket (struct nbd_handle *h, const char *name)
{
  char why[300];
  int fd = donor_dup_socket (h, why, sizeof why);

  if (fd == -1)
    dram_error ("donor %s: %s", name, why);
  return fd;
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
    d->fd[i] = dup_socket (d->h[i], d->name);
    if (d->fd[i] == -1)
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
    d->fd[i] = dup_socket (d->h[i], d->name);
    if (d->fd[i] == -1)
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

struct link *
donor_link (struct nbd_handle *h, const char *name)
{
  int fd;

  if (nbd_get_tls_negotiated (h) == 1)
    return nbd_link (h);
  fd = dup_socket (h, name);
  nbd_close (h);
  if (fd == -1)
    return NULL;
  return socket_link (fd, name);
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
  if (d->psk_fd >= 0)
    close (d->psk_fd);
  d->psk_fd = -1;
}
