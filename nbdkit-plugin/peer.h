/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_PEER_H
#define DRAM_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* True when the peer is on this machine: a Unix socket, 127.0.0.0/8,
 * ::1 or ::ffff:127.0.0.0/104.  Anything else is a remote client.
 */
extern bool peer_is_local (const struct sockaddr *sa, socklen_t len);

/* The peer's address as text, for messages. */
extern void peer_format (const struct sockaddr *sa, socklen_t len,
                         char *buf, size_t buflen);

#endif /* DRAM_PEER_H */
