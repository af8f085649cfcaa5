/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The nfs front-end's pure logic: the export's address, the names
 * derived from it, and the mount options the kernel or mount.nfs gets.
 */
#ifndef DRAM_NFSOPTS_H
#define DRAM_NFSOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define NFS_DEFAULT_PORT 2049

/* SERVER[:PORT]:/EXPORT or nfs://SERVER[:PORT]/EXPORT. */
struct nfs_target {
  char *host;                   /* name or address, without [] */
  unsigned port;                /* 0: the default (2049) */
  char *export_path;            /* starts with '/' */
};

/* The NFS version: 3, or 4 with a minor version (-1: the highest the
 * client and the server both speak, trying 4.2, 4.1, then 4.0).
 */
struct nfs_version {
  int major;
  int minor;
};

/* Parses SERVER:/EXPORT, SERVER:PORT:/EXPORT (an IPv6 SERVER in
 * brackets) or nfs://SERVER[:PORT]/EXPORT.  Returns 0, or -1 after
 * reporting what is wrong.
 */
extern int nfs_target_parse (const char *str, struct nfs_target *t);
extern void nfs_target_free (struct nfs_target *t);

/* Whether STR is an NFS address rather than an NBD one. */
extern bool nfs_target_looks_like (const char *str);

/* "3", "4", "4.0", "4.1" or "4.2". */
extern int nfs_version_parse (const char *str, struct nfs_version *v);

/* The mount source, "SERVER:/EXPORT" ("[V6]:/EXPORT"); the port is an
 * option, not part of it.
 */
extern int nfs_mount_source (const struct nfs_target *t,
                             char *buf, size_t len);

/* The address as the user wrote it, canonical: SERVER[:PORT]:/EXPORT. */
extern int nfs_target_describe (const struct nfs_target *t,
                                char *buf, size_t len);

/* The name of the private mountpoint of T, unique to host, port and
 * export and safe in a path and in fstab: letters, digits, '.' and ':'
 * as they are, '/' as '-', any other byte as _XX (hex).
 */
extern int nfs_mountpoint_name (const struct nfs_target *t,
                                char *buf, size_t len);

/* The options for mount.nfs (the helper resolves the server and
 * negotiates): vers=4[.N] or vers=3,nolock, and port= when not 2049.
 */
extern int nfs_helper_options (const struct nfs_version *v, unsigned port,
                               char *buf, size_t len);

/* The text options the kernel's NFS client takes from mount(2), which
 * mount.nfs would otherwise have written: vers=4.MINOR (MINOR >= 0
 * here), the server's numeric address ADDR, for v4 this machine's
 * address CLIENTADDR (for callbacks), port= when not 2049; v3 gets
 * nolock (no rpc.statd is needed: a swapfile takes no locks).
 */
extern int nfs_kernel_options (const struct nfs_version *v, const char *addr,
                               const char *clientaddr, unsigned port,
                               char *buf, size_t len);

/* How CONFIG_SYMBOL is set in the kernel configuration FP: 'y', 'm',
 * 'n' (absent or "is not set").
 */
extern char kconfig_lookup (FILE *fp, const char *symbol);

#endif /* DRAM_NFSOPTS_H */
