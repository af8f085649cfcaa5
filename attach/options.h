/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_OPTIONS_H
#define DRAM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "nfsopts.h"

#define DEFAULT_PORT "10809"
#define MAX_CONNECTIONS 16
#define MAX_TIMEOUT 86400
#define DEFAULT_RECONNECT_TIMEOUT 120
#define SWAP_LABEL_MAX 15      /* plus a NUL, as mkswap writes it */

enum action { ACT_ATTACH, ACT_DETACH, ACT_STATUS, ACT_HELP, ACT_VERSION };
enum mode { MODE_AUTO, MODE_NBD, MODE_FUSE, MODE_NFS };
enum transport { T_TCP, T_UNIX, T_URI };

/* Where the donor is. */
struct target {
  enum transport transport;
  char *host;                   /* T_TCP; also filled for tcp URIs */
  char *port;                   /* T_TCP */
  char *socket;                 /* T_UNIX */
  char *uri;                    /* T_URI, as given */
  bool tls_uri;                 /* nbds:// */
};

struct options {
  enum action action;
  enum mode mode;
  struct target target;
  char *export_name;
  char *device;                 /* NULL: the first free one */
  int priority;                 /* -1: the kernel's default */
  bool discard;
  unsigned connections;
  unsigned timeout;             /* seconds; 0: wait for ever */
  unsigned reconnect_timeout;   /* seconds; 0: never reconnect */
  bool swap;                    /* false with --no-swap */
  bool force;                   /* swap over what the region holds */
  char *label;
  char *tls_psk;
  char *tls_username;
  bool verbose;
  bool json;
  char *detach;                 /* DEVICE or "all" */
  /* --mode=nfs */
  struct nfs_target nfs;
  struct nfs_version nfs_version;
  uint64_t size;                /* 0: the export's free space */
  bool persist;
};

/* Parses and checks the whole command line.  Returns 0 with OPTS
 * filled in, or -1 after reporting bad usage.  Nothing is acquired.
 */
extern int options_parse (int argc, char **argv, struct options *opts);

/* Parses HOST[:PORT], [V6]:PORT, a bare IPv6 literal, or an NBD URI. */
extern int target_parse (const char *str, struct target *t);

/* "host:port", "unix:PATH" or the URI, for messages and --status. */
extern void target_describe (const struct target *t, char *buf, size_t len);

extern void options_free (struct options *opts);

extern const char *mode_name (enum mode m);

#endif /* DRAM_OPTIONS_H */
