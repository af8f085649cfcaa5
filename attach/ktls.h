/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_KTLS_H
#define DRAM_KTLS_H

#include <gnutls/gnutls.h>

/* The gnutls session libnbd created last on this thread (libnbd does
 * not give it out; dram-attach notes each one as gnutls_init returns).
 * Clears the note.
 */
extern gnutls_session_t ktls_take_session (void);

/* Whether SESSION can move into the kernel (TLS 1.2 or 1.3 with
 * AES-GCM or ChaCha20-Poly1305).  Fills WHY otherwise.
 */
extern bool ktls_supported (gnutls_session_t session, char *why, size_t len);

/* Moves the idle SESSION's keys and record sequence numbers into the
 * kernel on FD (a descriptor of its socket): from then on the kernel
 * encrypts and decrypts, and anyone, the kernel's NBD driver included,
 * can use FD as a plain socket.  Returns 0; -1 with WHY filled when the
 * kernel cannot (no tls module) and FD is unchanged; -2 after
 * reporting, when FD was changed and is unusable.
 */
extern int ktls_install (int fd, gnutls_session_t session,
                         char *why, size_t len);

#endif /* DRAM_KTLS_H */
