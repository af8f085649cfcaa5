/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the nfs front-end's logic.  Its addresses with every
 * kind of bad input, the names and mount options built from them, its
 * command line, the kernel configuration lookup, the fstab lines of
 * --persist on temporary files, the swap file, and its record.
 */

#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "fstab.h"
#include "cmdcase.h"
#include "nfsopts.h"
#include "options.h"
#include "state.h"
#include "swapfile.h"
#include "unit.h"

/* An address and what it must parse to, or the message it must be
 * refused with.
 */
static const struct {
  const char *in;
  const char *host;
  unsigned port;
  const char *export_path;
  const char *msg;
} targets[] = {
  { "10.0.2.2:/srv/swap", "10.0.2.2", 0, "/srv/swap", NULL },
  { "10.0.2.2:20049:/tmp/x", "10.0.2.2", 20049, "/tmp/x", NULL },
  { "donor.example:/", "donor.example", 0, "/", NULL },
  { "my-host_1:2049:/a/b", "my-host_1", 2049, "/a/b", NULL },
  { "[::1]:/e", "::1", 0, "/e", NULL },
  { "[fe80::1%eth0]:99:/e:f", "fe80::1%eth0", 99, "/e:f", NULL },
  { "h:/a:/b", "h", 0, "/a:/b", NULL },
  { "nfs://donor/srv", "donor", 0, "/srv", NULL },
  { "nfs://donor:7/srv/x", "donor", 7, "/srv/x", NULL },
  { "nfs://[2001:db8::1]:65535/", "2001:db8::1", 65535, "/", NULL },

  { "", NULL, 0, NULL, "expected SERVER:/EXPORT" },
  { "donor", NULL, 0, NULL, "'donor': expected SERVER:/EXPORT" },
  { "donor:", NULL, 0, NULL, "expected SERVER:/EXPORT" },
  { "donor:srv", NULL, 0, NULL, "expected SERVER:/EXPORT" },
  { ":/srv", NULL, 0, NULL, "the server is missing" },
  { "donor:0:/e", NULL, 0, NULL, "the port must be a number from 1 to 65535" },
  { "donor:65536:/e", NULL, 0, NULL, "from 1 to 65535" },
  { "donor:nfs:/e", NULL, 0, NULL, "the port must be a number" },
  { "donor::/e", NULL, 0, NULL, "the port must be a number" },
  { "::1:/e", NULL, 0, NULL, "an IPv6 address goes in brackets" },
  { "fe80::1:99:/e", NULL, 0, NULL, "an IPv6 address goes in brackets" },
  { "[::1:/e", NULL, 0, NULL, "unterminated '['" },
  { "[::1]/e", NULL, 0, NULL, "expected SERVER:/EXPORT" },
  { "[]:/e", NULL, 0, NULL, "the server is missing" },
  { "[::1]x:/e", NULL, 0, NULL, "expected ':' after ']'" },
  { "[fe%eth0]:/e", NULL, 0, NULL, "only an IPv6 address goes in brackets" },
  { "nfs://[donor]/e", NULL, 0, NULL, "only an IPv6 address goes in" },
  { "nfs:20://e/", NULL, 0, NULL, "the export may not start with '//'" },
  { "nfs://nfs//e", NULL, 0, NULL, "the export may not start with '//'" },
  { "do nor:/e", NULL, 0, NULL, "' ' cannot be part of the server's" },
  { "a,b:/e", NULL, 0, NULL, "',' cannot be part of the server's" },
  { "d/x:/e", NULL, 0, NULL, "'/' cannot be part of the server's" },
  { "donor:/my swap", NULL, 0, NULL, "may not contain spaces" },
  { "donor:/a,b", NULL, 0, NULL, "may not contain spaces" },
  { "donor:/a\tb", NULL, 0, NULL, "control characters" },
  { "donor:/a\\b", NULL, 0, NULL, "may not contain" },
  { "nfs://", NULL, 0, NULL, "the server is missing" },
  { "nfs:///srv", NULL, 0, NULL, "the server is missing" },
  { "nfs://donor", NULL, 0, NULL, "the URL names no export" },
  { "nfs://donor:70000/e", NULL, 0, NULL, "from 1 to 65535" },
  { "nfs://[::1/e", NULL, 0, NULL, "unterminated '['" },
  { "nfs://::1/e", NULL, 0, NULL, "an IPv6 address goes in brackets" },
};

START_TEST (target_table)
{
  struct nfs_target t;
  int r;

  clear_error ();
  r = nfs_target_parse (targets[_i].in, &t);
  if (targets[_i].msg) {
    ck_assert_msg (r == -1, "'%s' accepted", targets[_i].in);
    ck_assert_msg (strstr (last_error, targets[_i].msg) != NULL,
                   "'%s': message '%s' lacks '%s'", targets[_i].in,
                   last_error, targets[_i].msg);
    ck_assert_ptr_null (t.host);
    ck_assert_ptr_null (t.export_path);
  }
  else {
    ck_assert_msg (r == 0, "'%s' refused: %s", targets[_i].in, last_error);
    ck_assert_str_eq (t.host, targets[_i].host);
    ck_assert_uint_eq (t.port, targets[_i].port);
    ck_assert_str_eq (t.export_path, targets[_i].export_path);
    nfs_target_free (&t);
  }
}
END_TEST

/* A long export is refused, by its length. */
START_TEST (target_too_long)
{
  char in[2048];
  struct nfs_target t;

  snprintf (in, sizeof in, "donor:/");
  memset (in + 7, 'x', 1100);
  in[1107] = '\0';
  ck_assert_int_eq (nfs_target_parse (in, &t), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "longer than 1023 bytes"));
}
END_TEST

START_TEST (looks_like)
{
  ck_assert (nfs_target_looks_like ("donor:/srv"));
  ck_assert (nfs_target_looks_like ("[::1]:2049:/srv"));
  ck_assert (nfs_target_looks_like ("nfs://donor/srv"));
  ck_assert (!nfs_target_looks_like ("donor"));
  ck_assert (!nfs_target_looks_like ("donor:10809"));
  ck_assert (!nfs_target_looks_like ("::1"));
  ck_assert (!nfs_target_looks_like ("nbd://donor/x"));
  ck_assert (!nfs_target_looks_like ("nbd+unix:///x?socket=/s"));
  ck_assert (!nfs_target_looks_like ("nbd:/x"));
  ck_assert (!nfs_target_looks_like ("nbds+unix:/x"));
}
END_TEST

/* What each address becomes: the mount source, the canonical form and
 * the mountpoint's name.
 */
static const struct {
  const char *in, *source, *describe, *name;
} names[] = {
  { "10.0.2.2:/srv/swap", "10.0.2.2:/srv/swap", "10.0.2.2:/srv/swap",
    "10.0.2.2-srv-swap" },
  { "nfs://10.0.2.2:20049/tmp/dram-vm.Ab_1/send", "10.0.2.2:/tmp/dram-vm.Ab_1/send",
    "10.0.2.2:20049:/tmp/dram-vm.Ab_1/send",
    "10.0.2.2:20049-tmp-dram_2dvm.Ab_5f1-send" },
  { "[fe80::1%eth0]:99:/", "[fe80::1%eth0]:/", "[fe80::1%eth0]:99:/",
    "fe80_3a_3a1_25eth0:99-" },
  { "my-host:/a-b/c", "my-host:/a-b/c", "my-host:/a-b/c",
    "my_2dhost-a_2db-c" },
  { "my-host:/a/b-c", "my-host:/a/b-c", "my-host:/a/b-c",
    "my_2dhost-a-b_2dc" },
};

START_TEST (name_table)
{
  struct nfs_target t, again;
  char buf[512];

  ck_assert_int_eq (nfs_target_parse (names[_i].in, &t), 0);
  ck_assert_int_eq (nfs_mount_source (&t, buf, sizeof buf), 0);
  ck_assert_str_eq (buf, names[_i].source);
  ck_assert_int_eq (nfs_target_describe (&t, buf, sizeof buf), 0);
  ck_assert_str_eq (buf, names[_i].describe);
  /* The canonical form parses back to the same. */
  ck_assert_int_eq (nfs_target_parse (buf, &again), 0);
  ck_assert_str_eq (again.host, t.host);
  ck_assert_uint_eq (again.port, t.port);
  ck_assert_str_eq (again.export_path, t.export_path);
  nfs_target_free (&again);
  ck_assert_int_eq (nfs_mountpoint_name (&t, buf, sizeof buf), 0);
  ck_assert_str_eq (buf, names[_i].name);
  nfs_target_free (&t);
}
END_TEST

/* A name longer than a directory entry may be is refused. */
START_TEST (name_too_long)
{
  struct nfs_target t;
  char in[600], buf[512];

  snprintf (in, sizeof in, "donor:/");
  memset (in + 7, '-', 300);          /* each byte becomes _2d */
  in[307] = '\0';
  ck_assert_int_eq (nfs_target_parse (in, &t), 0);
  clear_error ();
  ck_assert_int_eq (nfs_mountpoint_name (&t, buf, sizeof buf), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "too long for a mountpoint"));
  nfs_target_free (&t);
}
END_TEST

static const struct {
  const char *version;
  int major, minor;
  const char *addr, *clientaddr;
  unsigned port;
  const char *kernel;           /* NULL: refused (no minor version) */
  const char *helper;
} options[] = {
  { "4", 4, -1, "10.0.2.2", "10.0.2.15", 20049, NULL, "vers=4,port=20049" },
  { "4.2", 4, 2, "10.0.2.2", "10.0.2.15", 20049,
    "vers=4.2,addr=10.0.2.2,clientaddr=10.0.2.15,port=20049",
    "vers=4.2,port=20049" },
  { "4.1", 4, 1, "192.168.1.5", "192.168.1.20", 0,
    "vers=4.1,addr=192.168.1.5,clientaddr=192.168.1.20", "vers=4.1" },
  { "4.0", 4, 0, "fe80::1%eth0", "fe80::2%eth0", 2049,
    "vers=4.0,addr=fe80::1%eth0,clientaddr=fe80::2%eth0", "vers=4.0" },
  { "3", 3, 0, "10.0.2.2", "10.0.2.15", 0, "vers=3,addr=10.0.2.2,nolock",
    "vers=3,nolock" },
  { "3", 3, 0, "::1", "::1", 1, "vers=3,addr=::1,nolock,port=1",
    "vers=3,nolock,port=1" },
};

START_TEST (option_table)
{
  struct nfs_version v;
  char buf[256];
  int r;

  ck_assert_int_eq (nfs_version_parse (options[_i].version, &v), 0);
  ck_assert_int_eq (v.major, options[_i].major);
  ck_assert_int_eq (v.minor, options[_i].minor);
  clear_error ();
  r = nfs_kernel_options (&v, options[_i].addr, options[_i].clientaddr,
                          options[_i].port, buf, sizeof buf);
  if (options[_i].kernel) {
    ck_assert_int_eq (r, 0);
    ck_assert_str_eq (buf, options[_i].kernel);
  }
  else
    ck_assert_int_eq (r, -1);
  ck_assert_int_eq (nfs_helper_options (&v, options[_i].port, buf,
                                        sizeof buf), 0);
  ck_assert_str_eq (buf, options[_i].helper);
}
END_TEST

START_TEST (option_errors)
{
  struct nfs_version v = { 4, 2 };
  char small[16];

  clear_error ();
  ck_assert_int_eq (nfs_kernel_options (&v, "10.0.2.2", "10.0.2.15", 0,
                                        small, sizeof small), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "too few"));
  for (const char *const *bad = (const char *const[]) { "2", "4.3", "v4",
         "", "4.", "44", NULL }; *bad; bad++) {
    clear_error ();
    ck_assert_int_eq (nfs_version_parse (*bad, &v), -1);
    ck_assert_ptr_nonnull (strstr (last_error, "is not a version"));
  }
}
END_TEST

START_TEST (kconfig)
{
  static const char config[] =
    "# Automatically generated file; DO NOT EDIT.\n"
    "CONFIG_NFS_FS=m\n"
    "CONFIG_NFS_SWAPX=n\n"
    "CONFIG_NFS_SWAP=y\n"
    "# CONFIG_NFSD_V2 is not set\n"
    "CONFIG_SUNRPC_SWAP=y\n";
  static const struct { const char *sym; char v; } want[] = {
    { "NFS_FS", 'm' }, { "NFS_SWAP", 'y' }, { "SUNRPC_SWAP", 'y' },
    { "NFSD_V2", 'n' }, { "NFS", 'n' }, { "NOT_THERE", 'n' },
  };
  size_t i;
  FILE *fp;

  for (i = 0; i < sizeof want / sizeof want[0]; i++) {
    fp = fmemopen ((void *) config, strlen (config), "r");
    ck_assert_ptr_nonnull (fp);
    ck_assert_msg (kconfig_lookup (fp, want[i].sym) == want[i].v,
                   "CONFIG_%s", want[i].sym);
    fclose (fp);
  }
}
END_TEST

/* --- the command line --------------------------------------------------- */

static const struct cmd cmds[] = {
  { { "--mode=nfs", "10.0.2.2:/srv" }, NULL },
  { { "10.0.2.2:2049:/srv" }, NULL },
  { { "nfs://donor/srv", "--size", "256M", "-p", "3", "--persist" }, NULL },
  { { "-s", "1G", "--nfs-version=3", "-L", "lbl", "d:/e" }, NULL },
  { { "--nfs-version", "4.1", "--mode", "nfs", "d:/e" }, NULL },

  { { "--mode=nfs" }, "no export given" },
  { { "--mode=nfs", "donor" }, "expected SERVER:/EXPORT" },
  { { "--mode=nfs", "donor:10809" }, "expected SERVER:/EXPORT" },
  { { "d:/e", "/dev/nbd0" }, "--mode=nfs takes no device" },
  { { "-c", "2", "d:/e" }, "--connections is not an option of --mode=nfs" },
  { { "d:/e", "--timeout=3" }, "--timeout is not an option of --mode=nfs" },
  { { "d:/e", "--reconnect-timeout=3" },
    "--reconnect-timeout is not an option of --mode=nfs" },
  { { "-e", "x", "d:/e" }, "--export is not an option of --mode=nfs" },
  { { "--force", "d:/e" }, "--force is not an option of --mode=nfs" },
  { { "--no-swap", "d:/e" }, "--no-swap is not an option of --mode=nfs" },
  { { "--tls-psk", "/k", "d:/e" }, "use the nbd or fuse mode for TLS" },
  { { "--mode=nfs", "--unix", "/s" }, "--unix is not an option" },
  { { "--discard", "d:/e" }, "discards swap on block devices only" },
  { { "--size", "1G", "donor" }, "--size goes with --mode=nfs" },
  { { "--persist", "donor" }, "--persist goes with --mode=nfs" },
  { { "--mode=fuse", "--nfs-version=3", "d:/e" },
    "--nfs-version goes with --mode=nfs" },
  { { "--size", "1000", "d:/e" }, "not a multiple of the page size" },
  { { "--size", "4K", "d:/e" }, "of at least 10 pages" },
  { { "--size", "lots", "d:/e" }, "--size: 'lots' is not a number" },
  { { "--nfs-version=4.3", "d:/e" }, "'4.3' is not a version" },
  { { "--detach", "all", "--persist" }, "--detach takes no attach options" },
  { { "--status", "--size", "1G" }, "--status takes no attach options" },
};

START_TEST (cmd_table)
{
  struct options o;

  if (check_cmd (&cmds[_i], _i, &o)) {
    ck_assert_int_eq (o.mode, MODE_NFS);
    options_free (&o);
  }
}
END_TEST

START_TEST (cmd_values)
{
  char *argv[] = { "dram-attach", "-s", "256M", "-p", "7", "--persist",
                   "--nfs-version=4.1", "[::1]:99:/srv", NULL };
  char *argv2[] = { "dram-attach", "d:/e", NULL };
  struct options o;

  ck_assert_int_eq (options_parse (8, argv, &o), 0);
  ck_assert_int_eq (o.mode, MODE_NFS);
  ck_assert_uint_eq (o.size, UINT64_C (256) << 20);
  ck_assert_int_eq (o.priority, 7);
  ck_assert (o.persist);
  ck_assert_int_eq (o.nfs_version.major, 4);
  ck_assert_int_eq (o.nfs_version.minor, 1);
  ck_assert_str_eq (o.nfs.host, "::1");
  ck_assert_uint_eq (o.nfs.port, 99);
  ck_assert_str_eq (o.nfs.export_path, "/srv");
  options_free (&o);

  /* Defaults: v4 with the highest minor version, the whole export. */
  ck_assert_int_eq (options_parse (2, argv2, &o), 0);
  ck_assert_int_eq (o.nfs_version.major, 4);
  ck_assert_int_eq (o.nfs_version.minor, -1);
  ck_assert_uint_eq (o.size, 0);
  ck_assert (!o.persist && o.swap);
  ck_assert_int_eq (o.priority, -1);
  options_free (&o);
}
END_TEST

/* --- fstab ---------------------------------------------------------------- */

static char dir[] = "/tmp/dram-nfs-test.XXXXXX";

static const char original[] =
  "# /etc/fstab: static file system information.\n"
  "#\n"
  "UUID=1234-abcd / ext4 errors=remount-ro 0 1\n"
  "# the donor's tmpfs\n"
  "dram-mnt-send /mnt/send tmpfs nodev,nosuid,noexec,size=64M,mode=0700 0 0\n"
  "/dev/sdb1 none swap sw 0 0\n";

static const struct fstab_entry lines[] = {
  { "10.0.2.2:/srv", "/run/dram/nfs/10.0.2.2-srv", "nfs4",
    "vers=4,_netdev,nofail,x-mount.mkdir=0700" },
  { "/run/dram/nfs/10.0.2.2-srv/dram-swap", "none", "swap", "nofail" },
};

static char *
slurp (const char *path)
{
  FILE *fp = fopen (path, "r");
  char *buf = calloc (1, 65536);

  ck_assert_ptr_nonnull (fp);
  ck_assert_ptr_nonnull (buf);
  fread (buf, 1, 65535, fp);
  fclose (fp);
  return buf;
}

static void
spit (const char *path, const char *text)
{
  FILE *fp = fopen (path, "w");

  ck_assert_ptr_nonnull (fp);
  fputs (text, fp);
  ck_assert_int_eq (fclose (fp), 0);
}

/* How many lines of TEXT are exactly LINE. */
static int
count_lines (const char *text, const char *line)
{
  size_t len = strlen (line);
  const char *p;
  int n = 0;

  for (p = text; (p = strstr (p, line)) != NULL; p += len) {
    if ((p == text || p[-1] == '\n') && p[len] == '\n')
      n++;
  }
  return n;
}

static void
fstab_setup (void)
{
  ck_assert_ptr_nonnull (mkdtemp (dir));
}

static void
fstab_teardown (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq (system (cmd), 0);
  snprintf (dir, sizeof dir, "/tmp/dram-nfs-test.XXXXXX");
}

#define NFS_LINE "10.0.2.2:/srv /run/dram/nfs/10.0.2.2-srv nfs4 " \
  "vers=4,_netdev,nofail,x-mount.mkdir=0700 0 0"
#define SWAP_LINE "/run/dram/nfs/10.0.2.2-srv/dram-swap none swap nofail 0 0"

/* Adding twice is adding once; the other lines and the comments stay. */
START_TEST (fstab_add_twice)
{
  char path[256], *text, *first;
  struct stat st;

  snprintf (path, sizeof path, "%s/fstab", dir);
  spit (path, original);
  ck_assert_int_eq (fstab_check (path, lines, 2), 0);
  ck_assert_int_eq (fstab_add (path, lines, 2), 0);
  first = slurp (path);
  ck_assert_int_eq (count_lines (first, NFS_LINE), 1);
  ck_assert_int_eq (count_lines (first, SWAP_LINE), 1);
  ck_assert_int_eq (count_lines (first, "# the donor's tmpfs"), 1);
  ck_assert_int_eq (count_lines (first, "#"), 1);
  ck_assert_int_eq (count_lines (first, "UUID=1234-abcd / ext4 "
                                 "errors=remount-ro 0 1"), 1);
  ck_assert_int_eq (count_lines (first, "/dev/sdb1 none swap sw 0 0"), 1);
  ck_assert_ptr_nonnull (strstr (first, "dram-mnt-send /mnt/send tmpfs "
                                 "nodev,nosuid,noexec,size=64M,mode=0700"));
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert_int_eq (st.st_mode & 07777, 0644);

  ck_assert_int_eq (fstab_add (path, lines, 2), 0);
  text = slurp (path);
  ck_assert_str_eq (text, first);
  free (text);

  /* Again with another priority: the line changes, no line is added. */
  {
    struct fstab_entry changed[2] = { lines[0], lines[1] };
    changed[1].options = "nofail,pri=5";
    ck_assert_int_eq (fstab_add (path, changed, 2), 0);
  }
  text = slurp (path);
  ck_assert_int_eq (count_lines (text, SWAP_LINE), 0);
  ck_assert_int_eq (count_lines (text, "/run/dram/nfs/10.0.2.2-srv/dram-swap "
                                 "none swap nofail,pri=5 0 0"), 1);
  ck_assert_int_eq (count_lines (text, NFS_LINE), 1);
  free (text);
  free (first);
}
END_TEST

/* Removing takes our lines only, by source and target; twice is fine. */
START_TEST (fstab_remove_ours)
{
  char path[256], *text;

  snprintf (path, sizeof path, "%s/fstab", dir);
  spit (path, original);
  ck_assert_int_eq (fstab_add (path, lines, 2), 0);
  ck_assert_int_eq (fstab_remove (path, lines, 2), 0);
  text = slurp (path);
  ck_assert_int_eq (count_lines (text, NFS_LINE), 0);
  ck_assert_int_eq (count_lines (text, SWAP_LINE), 0);
  ck_assert_int_eq (count_lines (text, "/dev/sdb1 none swap sw 0 0"), 1);
  ck_assert_int_eq (count_lines (text, "# the donor's tmpfs"), 1);
  ck_assert_int_eq (count_lines (text, "UUID=1234-abcd / ext4 "
                                 "errors=remount-ro 0 1"), 1);
  free (text);
  ck_assert_int_eq (fstab_remove (path, lines, 2), 0);
}
END_TEST

/* A missing fstab is created; another mount at our mountpoint is
 * refused; an fstab libmount cannot parse is not touched.
 */
START_TEST (fstab_refusals)
{
  char path[256], *text;
  struct stat st;
  struct fstab_entry other = lines[0];

  snprintf (path, sizeof path, "%s/new", dir);
  ck_assert_int_eq (fstab_check (path, lines, 2), 0);
  ck_assert_int_eq (fstab_add (path, lines, 2), 0);
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert_int_eq (st.st_mode & 07777, 0644);
  text = slurp (path);
  ck_assert_int_eq (count_lines (text, NFS_LINE), 1);
  free (text);

  other.source = "10.0.2.3:/srv";
  clear_error ();
  ck_assert_int_eq (fstab_check (path, &other, 1), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "already mounts 10.0.2.2:/srv "
                                 "on /run/dram/nfs/10.0.2.2-srv"));

  snprintf (path, sizeof path, "%s/bad", dir);
  spit (path, "/dev/sda1 / ext4 defaults 0 1\nthis-line-is-broken\n");
  clear_error ();
  ck_assert_int_eq (fstab_add (path, lines, 2), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "line 2 cannot be parsed"));
  ck_assert_int_eq (fstab_check (path, lines, 2), -1);
  text = slurp (path);
  ck_assert_str_eq (text, "/dev/sda1 / ext4 defaults 0 1\nthis-line-is-broken\n");
  free (text);

  snprintf (path, sizeof path, "%s/no/such/dir/fstab", dir);
  clear_error ();
  ck_assert_int_eq (fstab_check (path, lines, 2), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "cannot write it"));
}
END_TEST

/* --- the swap file ---------------------------------------------------------- */

START_TEST (swapfile)
{
  char path[256], magic[10];
  uint8_t uuid[SWAP_UUID_LEN] = { 1, 2, 3 };
  uint64_t size = UINT64_C (3) << 20;
  long pagesize = sysconf (_SC_PAGESIZE);
  struct stat st;
  int fd;

  snprintf (path, sizeof path, "%s/swap", dir);
  ck_assert_int_eq (swapfile_create (path, size, uuid, "lbl", false), 0);
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert_int_eq (st.st_mode & 07777, 0600);
  ck_assert_uint_eq (st.st_size, size);
  ck_assert_uint_ge ((uint64_t) st.st_blocks * 512, size);
  fd = open (path, O_RDONLY);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (pread (fd, magic, 10, pagesize - 10), 10);
  ck_assert_int_eq (memcmp (magic, "SWAPSPACE2", 10), 0);
  close (fd);

  /* It is never overwritten. */
  clear_error ();
  ck_assert_int_eq (swapfile_create (path, size, uuid, NULL, false), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "exists already"));
  ck_assert_int_eq (stat (path, &st), 0);

  /* A failure removes what it made. */
  snprintf (path, sizeof path, "%s/small", dir);
  clear_error ();
  ck_assert_int_eq (swapfile_create (path, pagesize, uuid, NULL, false), -1);
  ck_assert_ptr_nonnull (strstr (last_error, "too small for swap"));
  ck_assert_int_eq (access (path, F_OK), -1);
}
END_TEST

/* The record of an nfs attach: found by its swap file's path. */
START_TEST (state)
{
  struct attach_state s, t;
  char **list;
  size_t n;

  setenv ("DRAM_RUNDIR", dir, 1);
  memset (&s, 0, sizeof s);
  snprintf (s.device, sizeof s.device, "%s/nfs/10.0.2.2-srv/dram-swap", dir);
  snprintf (s.mode, sizeof s.mode, "nfs");
  snprintf (s.donor, sizeof s.donor, "10.0.2.2:20049:/srv");
  snprintf (s.mountpoint, sizeof s.mountpoint, "%s/nfs/10.0.2.2-srv", dir);
  snprintf (s.fstab, sizeof s.fstab, "/etc/fstab");
  snprintf (s.handover, sizeof s.handover, "nfs4.2");
  s.size = UINT64_C (256) << 20;
  s.connections = 1;
  s.swap = true;
  s.priority = -1;
  ck_assert_int_eq (state_save (&s), 0);
  memcpy (&t, &s, sizeof t);
  snprintf (t.device, sizeof t.device, "/dev/nbd0");
  snprintf (t.mode, sizeof t.mode, "nbd");
  ck_assert_int_eq (state_save (&t), 0);

  list = state_list (&n);
  ck_assert_uint_eq (n, 2);
  ck_assert_str_eq (list[0], "/dev/nbd0");
  ck_assert_str_eq (list[1], s.device);
  ck_assert_int_eq (state_load (list[1], &t), 0);
  ck_assert_mem_eq (&s, &t, sizeof s);
  state_list_free (list, n);
  ck_assert_int_eq (state_remove (s.device), 0);
  ck_assert_int_eq (state_remove ("/dev/nbd0"), 0);
  list = state_list (&n);
  ck_assert_uint_eq (n, 0);
  state_list_free (list, n);
  unsetenv ("DRAM_RUNDIR");
}
END_TEST

#define N(a) ((int) (sizeof a / sizeof a[0]))

int
main (void)
{
  TCase *tc = tcase_create ("nfs");

  tcase_add_loop_test (tc, target_table, 0, N (targets));
  tcase_add_test (tc, target_too_long);
  tcase_add_test (tc, looks_like);
  tcase_add_loop_test (tc, name_table, 0, N (names));
  tcase_add_test (tc, name_too_long);
  tcase_add_loop_test (tc, option_table, 0, N (options));
  tcase_add_test (tc, option_errors);
  tcase_add_test (tc, kconfig);
  tcase_add_loop_test (tc, cmd_table, 0, N (cmds));
  tcase_add_test (tc, cmd_values);
  tcase_add_checked_fixture (tc, fstab_setup, fstab_teardown);
  tcase_add_test (tc, fstab_add_twice);
  tcase_add_test (tc, fstab_remove_ours);
  tcase_add_test (tc, fstab_refusals);
  tcase_add_test (tc, swapfile);
  tcase_add_test (tc, state);
  return run_tcase ("nfs", tc);
}
