/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Kernel TLS for the NBD driver.  The kernel's NBD driver cannot do TLS
 * itself, but it can use a socket on which the kernel does TLS (kTLS):
 * after libnbd's TLS handshake and NBD negotiation, the session's keys
 * and sequence numbers are handed to the kernel, and the socket goes to
 * the NBD driver like a plain one.  No process is then left in the data
 * path, so swap traffic never waits on a process that waits on memory.
 *
 * Debian's gnutls does not set up kTLS itself, and libnbd keeps its
 * session private; dram-attach notes the sessions that libnbd creates
 * by standing in for gnutls_init.
 */

#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/tls.h>

#include <gnutls/gnutls.h>

#include "ktls.h"
#include "report.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

static __thread gnutls_session_t noted;

/* Called by libnbd in place of gnutls's own (the executable's symbol
 * comes first in the lookup order); calls gnutls's.
 */
__attribute__ ((visibility ("default"))) int
gnutls_init (gnutls_session_t *session, unsigned int flags)
{
  static int (*real) (gnutls_session_t *, unsigned int);
  int r;

  if (real == NULL) {
    real = (int (*) (gnutls_session_t *, unsigned int))
      dlsym (RTLD_NEXT, "gnutls_init");
    if (real == NULL)
      return GNUTLS_E_INTERNAL_ERROR;
  }
  r = real (session, flags);
  if (r == GNUTLS_E_SUCCESS)
    noted = *session;
  return r;
}

gnutls_session_t
ktls_take_session (void)
{
  gnutls_session_t s = noted;

  noted = NULL;
  return s;
}

/* How each cipher's kernel struct is laid out: struct tls_crypto_info,
 * then the nonce bytes, the key, the salt and the record sequence
 * number, all byte arrays (linux/tls.h).
 */
struct layout {
  gnutls_cipher_algorithm_t cipher;
  uint16_t type;
  size_t iv, key, salt;
};

static const struct layout layouts[] = {
  { GNUTLS_CIPHER_AES_128_GCM, TLS_CIPHER_AES_GCM_128, 8, 16, 4 },
  { GNUTLS_CIPHER_AES_256_GCM, TLS_CIPHER_AES_GCM_256, 8, 32, 4 },
  { GNUTLS_CIPHER_CHACHA20_POLY1305, TLS_CIPHER_CHACHA20_POLY1305, 12, 32, 0 },
};

#define SEQ 8
#define LAYOUT_SIZE(l) (sizeof (struct tls_crypto_info) + (l).iv + (l).key + \
                        (l).salt + SEQ)
_Static_assert (sizeof (struct tls12_crypto_info_aes_gcm_128) ==
                sizeof (struct tls_crypto_info) + 8 + 16 + 4 + SEQ, "gcm128");
_Static_assert (sizeof (struct tls12_crypto_info_aes_gcm_256) ==
                sizeof (struct tls_crypto_info) + 8 + 32 + 4 + SEQ, "gcm256");
_Static_assert (sizeof (struct tls12_crypto_info_chacha20_poly1305) ==
                sizeof (struct tls_crypto_info) + 12 + 32 + 0 + SEQ, "chacha");

static const struct layout *
find_layout (gnutls_session_t s)
{
  gnutls_cipher_algorithm_t c = gnutls_cipher_get (s);
  size_t i;

  for (i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
    if (layouts[i].cipher == c)
      return &layouts[i];
  return NULL;
}

bool
ktls_supported (gnutls_session_t s, char *why, size_t len)
{
  gnutls_protocol_t v = gnutls_protocol_get_version (s);

  if (v != GNUTLS_TLS1_2 && v != GNUTLS_TLS1_3) {
    snprintf (why, len, "%s is not TLS 1.2 or 1.3",
              gnutls_protocol_get_name (v));
    return false;
  }
  if (find_layout (s) == NULL) {
    snprintf (why, len, "the kernel is not given %s (only AES-GCM and "
              "ChaCha20-Poly1305)", gnutls_cipher_get_name (gnutls_cipher_get (s)));
    return false;
  }
  if (gnutls_record_check_pending (s) != 0) {
    snprintf (why, len, "the session holds unread data");
    return false;
  }
  return true;
}

/* Room for the largest layout. */
union crypto_info {
  struct tls12_crypto_info_aes_gcm_256 gcm256;
  struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/* One direction's state (READ: what we receive) as the kernel takes it.
 * From gnutls's static IV: AES-GCM's salt is its first 4 bytes, and its
 * 8 nonce bytes are the rest of it in TLS 1.3 but start as the sequence
 * number in TLS 1.2; ChaCha20's nonce is all 12 bytes, in both.
 */
static int
crypto_info (gnutls_session_t s, int read, union crypto_info *ci,
             socklen_t *size)
{
  const struct layout *l = find_layout (s);
  bool tls13 = gnutls_protocol_get_version (s) == GNUTLS_TLS1_3;
  gnutls_datum_t mac, iv, key;
  unsigned char seq[SEQ], *p = (unsigned char *) ci;
  struct tls_crypto_info info;

  if (l == NULL || gnutls_record_get_state (s, read, &mac, &iv, &key, seq) < 0)
    return -1;
  if (key.size != l->key ||
      iv.size != (l->salt && !tls13 ? l->salt : l->salt + l->iv))
    return -1;
  memset (ci, 0, sizeof *ci);
  info.version = tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
  info.cipher_type = l->type;
  memcpy (p, &info, sizeof info);
  p += sizeof info;
  memcpy (p, l->salt && !tls13 ? seq : iv.data + l->salt, l->iv);
  p += l->iv;
  memcpy (p, key.data, l->key);
  p += l->key;
  memcpy (p, iv.data, l->salt);
  p += l->salt;
  memcpy (p, seq, SEQ);
  *size = LAYOUT_SIZE (*l);
  return 0;
}

/* Sets FD up for kernel TLS with CI (LEN bytes) both ways. */
static int
set_keys (int fd, const void *tx, const void *rx, socklen_t len)
{
  if (setsockopt (fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == -1)
    return -1;
  if (setsockopt (fd, SOL_TLS, TLS_TX, tx, len) == -1 ||
      setsockopt (fd, SOL_TLS, TLS_RX, rx, len) == -1)
    return -2;
  return 0;
}

/* A socket whose keys fail half-way is lost for the fallback, so the
 * same is tried first on a throwaway connection over loopback: the
 * tls module and the cipher's crypto module must both be there.
 */
static int
probe (const union crypto_info *ci, socklen_t cilen, const char *cipher,
       char *why, size_t len)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  socklen_t sl = sizeof sin;
  union crypto_info dummy;
  int lfd, cfd = -1, r = -1;

  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  lfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd == -1 || bind (lfd, (struct sockaddr *) &sin, sizeof sin) == -1 ||
      listen (lfd, 1) == -1 ||
      getsockname (lfd, (struct sockaddr *) &sin, &sl) == -1 ||
      (cfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
      connect (cfd, (struct sockaddr *) &sin, sizeof sin) == -1) {
    snprintf (why, len, "cannot try kernel TLS on loopback: %s",
              strerror (errno));
    goto out;
  }
  /* Same cipher and version, no real key. */
  memcpy (&dummy, ci, sizeof dummy);
  memset ((char *) &dummy + sizeof (struct tls_crypto_info), 0,
          cilen - sizeof (struct tls_crypto_info));
  switch (set_keys (cfd, &dummy, &dummy, cilen)) {
  case 0:
    r = 0;
    break;
  case -1:
    snprintf (why, len, "the kernel has no TLS (modprobe tls: %s)",
              strerror (errno));
    break;
  default:
    snprintf (why, len, "the kernel cannot do %s TLS (%s)", cipher,
              strerror (errno));
    break;
  }
 out:
  if (cfd >= 0)
    close (cfd);
  if (lfd >= 0)
    close (lfd);
  return r;
}

int
ktls_install (int fd, gnutls_session_t s, char *why, size_t len)
{
  union crypto_info tx, rx;
  socklen_t txlen, rxlen;
  int r = -1;

  if (!ktls_supported (s, why, len))
    return -1;
  if (crypto_info (s, 0, &tx, &txlen) == -1 ||
      crypto_info (s, 1, &rx, &rxlen) == -1) {
    snprintf (why, len, "cannot read the session's keys");
    goto out;
  }
  if (probe (&tx, txlen, gnutls_cipher_get_name (gnutls_cipher_get (s)),
             why, len) == -1)
    goto out;
  if (set_keys (fd, &tx, &rx, txlen) != 0) {
    dram_error ("kernel TLS: setting up the connection: %m");
    r = -2;
    goto out;
  }
  r = 0;
 out:
  /* No copy of the keys stays in this process's memory. */
  gnutls_memset (&tx, 0, sizeof tx);
  gnutls_memset (&rx, 0, sizeof rx);
  return r;
}
