/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Telling a client on this machine from one across the network, which
 * must use TLS unless the operator said insecure=true.
 */

#include <config.h>

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "peer.h"

bool
peer_is_local (const struct sockaddr *sa, socklen_t len)
{
  const struct sockaddr_in *sin;
  const struct sockaddr_in6 *sin6;
  const uint8_t *a;

  if (len < sizeof (sa_family_t))
    return false;
  switch (sa->sa_family) {
  case AF_UNIX:
    return true;
  case AF_INET:
    if (len < sizeof *sin)
      return false;
    sin = (const struct sockaddr_in *) sa;
    return (ntohl (sin->sin_addr.s_addr) >> 24) == 127;
  case AF_INET6:
    if (len < sizeof *sin6)
      return false;
    sin6 = (const struct sockaddr_in6 *) sa;
    if (IN6_IS_ADDR_LOOPBACK (&sin6->sin6_addr))
      return true;
    a = sin6->sin6_addr.s6_addr;
    return IN6_IS_ADDR_V4MAPPED (&sin6->sin6_addr) && a[12] == 127;
  default:
    return false;
  }
}

void
peer_format (const struct sockaddr *sa, socklen_t len,
             char *buf, size_t buflen)
{
  const void *addr = NULL;

  if (sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in))
    addr = &((const struct sockaddr_in *) sa)->sin_addr;
  else if (sa->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6))
    addr = &((const struct sockaddr_in6 *) sa)->sin6_addr;
  if (addr == NULL || inet_ntop (sa->sa_family, addr, buf, buflen) == NULL)
    snprintf (buf, buflen, "a peer of address family %d", sa->sa_family);
}
