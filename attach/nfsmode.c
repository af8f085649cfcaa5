/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The nfs front-end: the classic recipe done by the tool.  The donor
 * exports a tmpfs over NFS (scripts/dram-donate-nfs); dram-attach
 * mounts it on a private mountpoint, writes a swap file there in full
 * and swaps on it.  The kernel's NFS client does the swap I/O, with the
 * memory reserves of swap over NFS (CONFIG_NFS_SWAP): no process stays
 * in the data path.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <sys/utsname.h>

#include <libmount.h>

#include "device.h"
#include "fstab.h"
#include "human.h"
#include "modes.h"
#include "mount.h"
#include "nfsopts.h"
#include "report.h"
#include "state.h"
#include "swap.h"
#include "swapfile.h"

#define SWAPFILE_NAME "dram-swap"
#define PROBE_WAIT 10           /* seconds to reach the server */
#define MIB (UINT64_C (1) << 20)

/* What attach_nfs works out before it acquires anything. */
struct plan {
  char source[1100];            /* SERVER:/EXPORT */
  char mountpoint[480];
  char file[512];               /* the swap file */
  const char *fstype;           /* nfs4 or nfs */
  char addr[NI_MAXHOST];        /* the server's numeric address */
  char clientaddr[NI_MAXHOST];  /* ours, as the server sees it */
  bool helper;                  /* mount.nfs is there */
};

/* --- checks ----------------------------------------------------------- */

/* Whether FSTYPE is in /proc/filesystems. */
static bool
fs_listed (const char *fstype)
{
  FILE *fp = fopen ("/proc/filesystems", "re");
  char line[128], name[64];
  bool found = false;

  if (fp == NULL)
    return false;
  while (!found && fgets (line, sizeof line, fp) != NULL) {
    if (sscanf (line, "nodev %63s", name) == 1 ||
        sscanf (line, "%63s", name) == 1)
      found = strcmp (name, fstype) == 0;
  }
  fclose (fp);
  return found;
}

/* The NFS client for version V: loaded if it is a module. */
static int
check_nfs_client (const struct nfs_version *v, const char *fstype)
{
  const char *proto = v->major == 4 ? "nfsv4" : "nfsv3";
  char path[64];

  if (!fs_listed (fstype))
    load_module ("nfs");
  snprintf (path, sizeof path, "/sys/module/%s", proto);
  if (access (path, F_OK) == -1)
    load_module (proto);
  if (!fs_listed (fstype)) {
    dram_error ("this kernel has no NFS client: no '%s' in "
                "/proc/filesystems, and modprobe nfs did not add it",
                fstype);
    return -1;
  }
  return 0;
}

/* How CONFIG_SYMBOL is set in the running kernel's configuration:
 * 'y', 'm', 'n', or 0 when no configuration can be read.  WHERE says
 * which file told.  $DRAM_KERNEL_CONFIG names another file (tests).
 */
static char
kernel_config (const char *symbol, char *where, size_t len)
{
  const char *env = getenv ("DRAM_KERNEL_CONFIG");
  struct utsname u;
  FILE *fp;
  char v;

  if (env && *env)
    snprintf (where, len, "%s", env);
  else if (uname (&u) == 0)
    snprintf (where, len, "/boot/config-%s", u.release);
  else
    where[0] = '\0';
  fp = where[0] ? fopen (where, "re") : NULL;
  if (fp) {
    v = kconfig_lookup (fp, symbol);
    fclose (fp);
    return v;
  }
  if (env && *env)
    return 0;
  if (access ("/proc/config.gz", R_OK) == -1)
    return 0;
  snprintf (where, len, "/proc/config.gz");
  fp = popen ("gzip -dc /proc/config.gz 2>/dev/null", "re");
  if (fp == NULL)
    return 0;
  v = kconfig_lookup (fp, symbol);
  return pclose (fp) == 0 ? v : 0;
}

/* Swap over NFS needs CONFIG_NFS_SWAP.  Where the configuration cannot
 * be read, swapon says so later (see nfs_swapon).
 */
static int
check_nfs_swap (void)
{
  char where[300];

  if (kernel_config ("NFS_SWAP", where, sizeof where) != 'n')
    return 0;
  dram_error ("this kernel cannot swap over NFS (CONFIG_NFS_SWAP is not "
              "set in %s): use --mode=nbd or --mode=fuse", where);
  return -1;
}

/* The private mountpoint of the export, and that nobody uses it. */
static int
check_mountpoint (const struct options *o, struct plan *p)
{
  char name[NAME_MAX + 1], rundir[PATH_MAX];
  DIR *dir;
  struct dirent *e;
  bool empty = true;

  if (nfs_mountpoint_name (&o->nfs, name, sizeof name) == -1)
    return -1;
  if (mkdir (state_dir (), 0755) == -1 && errno != EEXIST) {
    dram_error ("%s: %m (DRAM_RUNDIR chooses another place)", state_dir ());
    return -1;
  }
  /* /proc/swaps shows the real path: so must the record. */
  if (realpath (state_dir (), rundir) == NULL) {
    dram_error ("%s: %m", state_dir ());
    return -1;
  }
  if ((size_t) snprintf (p->mountpoint, sizeof p->mountpoint, "%s/nfs/%s",
                         rundir, name) >= sizeof p->mountpoint ||
      (size_t) snprintf (p->file, sizeof p->file, "%s/" SWAPFILE_NAME,
                         p->mountpoint) >= sizeof p->file) {
    dram_error ("%s/nfs/%s: the path is too long", rundir, name);
    return -1;
  }
  if (mounted (p->mountpoint)) {
    dram_error ("%s is in use: something is mounted on it (attached "
                "already? see dram-attach --status)", p->mountpoint);
    return -1;
  }
  dir = opendir (p->mountpoint);
  if (dir == NULL) {
    if (errno == ENOENT)
      return 0;
    dram_error ("%s: %m", p->mountpoint);
    return -1;
  }
  while (empty && (e = readdir (dir)) != NULL)
    empty = strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0;
  closedir (dir);
  if (!empty) {
    dram_error ("%s is in use: it is not empty", p->mountpoint);
    return -1;
  }
  return 0;
}

/* Connects to ADDR (LEN bytes) within PROBE_WAIT seconds; fills in
 * CLIENTADDR with our end's address.  The kernel would otherwise wait
 * far longer before it gives up.
 */
static int
probe (const struct sockaddr *addr, socklen_t len, char *clientaddr,
       size_t clen, const char *what)
{
  struct pollfd pfd;
  struct sockaddr_storage local;
  socklen_t llen = sizeof local;
  int fd, err = 0;
  socklen_t elen = sizeof err;

  fd = socket (addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    dram_error ("socket: %m");
    return -1;
  }
  if (connect (fd, addr, len) == -1) {
    if (errno != EINPROGRESS)
      goto err;
    pfd = (struct pollfd) { .fd = fd, .events = POLLOUT };
    if (poll (&pfd, 1, PROBE_WAIT * 1000) != 1) {
      errno = ETIMEDOUT;
      goto err;
    }
    if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
      goto err;
    if (err) {
      errno = err;
      goto err;
    }
  }
  if (getsockname (fd, (struct sockaddr *) &local, &llen) == -1 ||
      getnameinfo ((struct sockaddr *) &local, llen, clientaddr, clen,
                   NULL, 0, NI_NUMERICHOST) != 0)
    goto err;
  close (fd);
  return 0;

 err:
  dram_error ("cannot reach the NFS server %s: %m", what);
  close (fd);
  return -1;
}

/* The server's address (resolved here: the kernel takes only numeric
 * ones), and that it answers on its port.
 */
static int
check_server (const struct options *o, struct plan *p)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
  unsigned port = o->nfs.port ? o->nfs.port : NFS_DEFAULT_PORT;
  char what[NI_MAXHOST + 32];
  int r;

  r = getaddrinfo (o->nfs.host, NULL, &hints, &res);
  if (r != 0) {
    dram_error ("%s: %s", o->nfs.host,
                r == EAI_SYSTEM ? strerror (errno) : gai_strerror (r));
    return -1;
  }
  if (getnameinfo (res->ai_addr, res->ai_addrlen, p->addr, sizeof p->addr,
                   NULL, 0, NI_NUMERICHOST) != 0) {
    dram_error ("%s: no numeric address", o->nfs.host);
    freeaddrinfo (res);
    return -1;
  }
  if (res->ai_family == AF_INET6)
    ((struct sockaddr_in6 *) res->ai_addr)->sin6_port = htons (port);
  else
    ((struct sockaddr_in *) res->ai_addr)->sin_port = htons (port);
  snprintf (what, sizeof what, "%s port %u", p->addr, port);
  r = probe (res->ai_addr, res->ai_addrlen, p->clientaddr,
             sizeof p->clientaddr, what);
  freeaddrinfo (res);
  return r;
}

/* Whether libmount would run a mount.TYPE helper (it looks in these
 * directories, util-linux's FS_SEARCH_PATH).
 */
static bool
helper_exists (const char *fstype)
{
  static const char *const dirs[] = { "/sbin", "/sbin/fs.d", "/sbin/fs" };
  char path[64];
  size_t i;

  for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf (path, sizeof path, "%s/mount.%s", dirs[i], fstype);
    if (access (path, X_OK) == 0)
      return true;
  }
  return false;
}

/* The lines --persist writes: the mount, and the swap on its file.  At
 * boot, mount.nfs mounts it (x-mount.mkdir: /run is empty then).
 */
static int
persist_entries (const struct options *o, const struct plan *p,
                 struct fstab_entry e[2], char *mopts, size_t mlen,
                 char *sopts, size_t slen)
{
  char vers[64];

  if (nfs_helper_options (&o->nfs_version, o->nfs.port, vers,
                          sizeof vers) == -1)
    return -1;
  snprintf (mopts, mlen, "%s,_netdev,nofail,x-mount.mkdir=0700", vers);
  if (o->priority >= 0)
    snprintf (sopts, slen, "nofail,pri=%d", o->priority);
  else
    snprintf (sopts, slen, "nofail");
  e[0] = (struct fstab_entry) { p->source, p->mountpoint, p->fstype, mopts };
  e[1] = (struct fstab_entry) { p->file, "none", "swap", sopts };
  return 0;
}

/* --- set-up and tear-down --------------------------------------------- */

/* One mount through libmount; *SYSERR is mount(2)'s errno, or 0 when
 * it was not called (a helper ran, or libmount refused).
 */
static int
mount_once (const struct plan *p, const char *opts, char *msg, size_t len,
            int *syserr)
{
  struct libmnt_context *cxt = mnt_new_context ();
  int rc;

  *syserr = 0;
  if (cxt == NULL) {
    snprintf (msg, len, "libmount: out of memory");
    return -1;
  }
  if (mnt_context_set_source (cxt, p->source) != 0 ||
      mnt_context_set_target (cxt, p->mountpoint) != 0 ||
      mnt_context_set_fstype (cxt, p->fstype) != 0 ||
      mnt_context_set_options (cxt, opts) != 0 ||
      (!p->helper && mnt_context_disable_helpers (cxt, 1) != 0)) {
    snprintf (msg, len, "libmount: out of memory");
    mnt_free_context (cxt);
    return -1;
  }
  dram_debug ("mount -t %s -o %s %s %s%s", p->fstype, opts, p->source,
              p->mountpoint, p->helper ? " (mount.nfs)" : "");
  rc = mnt_context_mount (cxt);
  if (rc == 0 && mnt_context_get_status (cxt) == 1) {
    mnt_free_context (cxt);
    return 0;
  }
  if (mnt_context_syscall_called (cxt))
    *syserr = mnt_context_get_syscall_errno (cxt);
  if (*syserr)
    snprintf (msg, len, "%s", strerror (*syserr));
  else if (mnt_context_get_excode (cxt, rc, msg, len) == 0 || !msg[0])
    snprintf (msg, len, "failed (libmount: %d)", rc);
  mnt_free_context (cxt);
  return -1;
}

/* What an errno from mounting NFS usually means. */
static const char *
mount_hint (int err)
{
  switch (err) {
  case ENOENT: return " (the server has no such export)";
  case EACCES:
  case EPERM: return " (the server does not export it to this machine)";
  case ECONNREFUSED: return " (nothing serves NFS on that port)";
  case EPROTONOSUPPORT: return " (the server or this kernel does not "
                               "speak that NFS version: see --nfs-version)";
  default: return "";
  }
}

/* Mounts the export: through mount.nfs where it exists, otherwise with
 * the kernel's own text options (vers=4.2, then 4.1, then 4.0 when no
 * minor version was asked for, as mount.nfs does).
 */
static int
mount_export (const struct options *o, const struct plan *p)
{
  struct nfs_version v = o->nfs_version;
  char opts[1024], msg[512];
  int err;

  if (p->helper) {
    if (nfs_helper_options (&v, o->nfs.port, opts, sizeof opts) == -1)
      return -1;
    if (mount_once (p, opts, msg, sizeof msg, &err) == 0)
      return 0;
    dram_error ("mount %s on %s: %s", p->source, p->mountpoint, msg);
    return -1;
  }
  if (v.major == 4 && v.minor < 0)
    v.minor = 2;
  for (;;) {
    if (nfs_kernel_options (&v, p->addr, p->clientaddr, o->nfs.port, opts,
                            sizeof opts) == -1)
      return -1;
    if (mount_once (p, opts, msg, sizeof msg, &err) == 0)
      return 0;
    if (v.major != 4 || o->nfs_version.minor >= 0 || v.minor == 0 ||
        (err != EPROTONOSUPPORT && err != EINVAL))
      break;
    dram_debug ("NFS v4.%d: %s; trying v4.%d", v.minor, msg, v.minor - 1);
    v.minor--;
  }
  dram_error ("mount %s on %s (-o %s): %s%s", p->source, p->mountpoint,
              opts, msg, mount_hint (err));
  return -1;
}

/* "nfs4.2" from the mount's vers= option, for --status. */
static void
mounted_version (const char *target, char *buf, size_t len)
{
  struct libmnt_table *tb;
  struct libmnt_fs *fs = mount_find (target, &tb);
  char *val = NULL;
  size_t vlen = 0;

  snprintf (buf, len, "nfs");
  if (fs && mnt_fs_get_option (fs, "vers", &val, &vlen) == 0 && val)
    snprintf (buf, len, "nfs%.*s", (int) vlen, val);
  mnt_unref_table (tb);
}

/* The swap file's size: SIZE, or the free space less a margin for the
 * server's own use (1/64, at least 1 MiB), in whole pages.
 */
static int
choose_size (const struct options *o, const struct plan *p, uint64_t *size)
{
  long pagesize = sysconf (_SC_PAGESIZE);
  struct statvfs sv;
  uint64_t avail, margin;
  char a[32], s[32];

  if (statvfs (p->mountpoint, &sv) == -1) {
    dram_error ("statvfs %s: %m", p->mountpoint);
    return -1;
  }
  avail = (uint64_t) sv.f_bavail * sv.f_frsize;
  format_size (avail, a, sizeof a);
  if (o->size) {
    if (o->size > avail) {
      format_size (o->size, s, sizeof s);
      dram_error ("--size %s is more than the export's free space (%s)",
                  s, a);
      return -1;
    }
    *size = o->size;
    return 0;
  }
  margin = avail / 64 > MIB ? avail / 64 : MIB;
  *size = avail > margin ? (avail - margin) / pagesize * pagesize : 0;
  if (*size < (uint64_t) pagesize * SWAP_MIN_PAGES) {
    dram_error ("the export has only %s free: too little for swap", a);
    return -1;
  }
  return 0;
}

/* swapon(2), with what EINVAL means on NFS: the file has no holes (it
 * was checked), so the kernel cannot swap over NFS.
 */
static int
nfs_swapon (const char *file, int priority)
{
  if (swapon (file, swap_flags (priority, false)) == 0)
    return 0;
  if (errno == EINVAL || (errno == EPERM && geteuid () == 0))
    dram_error ("swapon %s: %m: this kernel cannot swap over NFS (it needs "
                "CONFIG_NFS_SWAP; see dmesg): use --mode=nbd or --mode=fuse",
                file);
  else
    dram_error ("swapon %s: %m", file);
  return -1;
}

static int
fill_nfs_state (struct attach_state *st, const struct options *o,
                const struct plan *p, uint64_t size,
                const uint8_t uuid[SWAP_UUID_LEN])
{
  snprintf (st->device, sizeof st->device, "%s", p->file);
  snprintf (st->mode, sizeof st->mode, "nfs");
  if (nfs_target_describe (&o->nfs, st->donor, sizeof st->donor) == -1)
    return -1;
  snprintf (st->export_name, sizeof st->export_name, "%s",
            o->nfs.export_path);
  st->size = size;
  st->connections = 1;
  mounted_version (p->mountpoint, st->handover, sizeof st->handover);
  st->swap = true;
  st->priority = o->priority;
  uuid_format (uuid, st->uuid);
  snprintf (st->label, sizeof st->label, "%s", o->label ? o->label : "");
  snprintf (st->mountpoint, sizeof st->mountpoint, "%s", p->mountpoint);
  if (o->persist)
    snprintf (st->fstab, sizeof st->fstab, "%s", fstab_path ());
  st->attached_at = time (NULL);
  return 0;
}

static int
attach_nfs (const struct options *o)
{
  struct attach_state st;
  struct plan p;
  struct fstab_entry lines[2];
  char mopts[1200], sopts[64], size_s[32], nfsdir[PATH_MAX];
  uint8_t uuid[SWAP_UUID_LEN];
  uint64_t size;

  memset (&st, 0, sizeof st);
  memset (&p, 0, sizeof p);
  p.fstype = o->nfs_version.major == 4 ? "nfs4" : "nfs";
  p.helper = helper_exists (p.fstype);
  if (nfs_mount_source (&o->nfs, p.source, sizeof p.source) == -1)
    return EXIT_USAGE;

  /* Checks: nothing is acquired until all have passed. */
  if (check_nfs_client (&o->nfs_version, p.fstype) == -1 ||
      check_nfs_swap () == -1)
    return EXIT_REFUSED;
  if (check_mountpoint (o, &p) == -1)
    return EXIT_USAGE;
  if (o->persist &&
      (persist_entries (o, &p, lines, mopts, sizeof mopts,
                        sopts, sizeof sopts) == -1 ||
       fstab_check (fstab_path (), lines, 2) == -1))
    return EXIT_USAGE;
  if (check_server (o, &p) == -1)
    return EXIT_REFUSED;
  if (uuid_generate_v4 (uuid) == -1)
    return EXIT_REFUSED;

  snprintf (nfsdir, sizeof nfsdir, "%s", p.mountpoint);
  *strrchr (nfsdir, '/') = '\0';
  if ((mkdir (nfsdir, 0700) == -1 && errno != EEXIST) ||
      (mkdir (p.mountpoint, 0700) == -1 && errno != EEXIST)) {
    dram_error ("%s: %m", p.mountpoint);
    return EXIT_REFUSED;
  }
  if (mount_export (o, &p) == -1)
    goto out_rmdir;
  if (choose_size (o, &p, &size) == -1)
    goto out_unmount;
  if (swapfile_create (p.file, size, uuid, o->label,
                       size >= SWAPFILE_PROGRESS_MIN &&
                       isatty (STDERR_FILENO)) == -1)
    goto out_unmount;
  if (nfs_swapon (p.file, o->priority) == -1)
    goto out_unlink;
  if (o->persist && fstab_add (fstab_path (), lines, 2) == -1)
    goto out_swapoff;
  if (fill_nfs_state (&st, o, &p, size, uuid) == -1 ||
      state_save (&st) == -1)
    goto out_fstab;

  format_size (size, size_s, sizeof size_s);
  printf ("%s: %s of swap on %s (NFS %s, mounted on %s)%s\n", st.device,
          size_s, st.donor, st.handover + 3, st.mountpoint,
          o->persist ? ", in fstab" : "");
  fflush (stdout);
  return EXIT_SUCCESS;

 out_fstab:
  if (o->persist)
    fstab_remove (fstab_path (), lines, 2);
 out_swapoff:
  swap_off (p.file);
 out_unlink:
  if (unlink (p.file) == -1)
    dram_error ("%s: %m", p.file);
 out_unmount:
  unmount (p.mountpoint);
 out_rmdir:
  rmdir (p.mountpoint);
  return EXIT_REFUSED;
}

static int
detach_nfs (const struct attach_state *st)
{
  struct nfs_target t;
  struct fstab_entry lines[2];
  char source[1100];
  int r = 0;

  /* Without the mount, the path leads to the empty directory. */
  if (mounted (st->mountpoint) && unlink (st->device) == -1 &&
      errno != ENOENT) {
    dram_error ("%s: %m", st->device);
    return -1;
  }
  if (unmount (st->mountpoint) == -1)
    return -1;
  if (rmdir (st->mountpoint) == -1 && errno != ENOENT) {
    dram_error ("%s: %m", st->mountpoint);
    return -1;
  }
  if (st->fstab[0] == '\0')
    return 0;
  if (nfs_target_parse (st->donor, &t) == -1)
    return -1;
  if (nfs_mount_source (&t, source, sizeof source) == 0) {
    lines[0] = (struct fstab_entry) { source, st->mountpoint, NULL, NULL };
    lines[1] = (struct fstab_entry) { st->device, "none", NULL, NULL };
    r = fstab_remove (st->fstab, lines, 2);
  }
  else
    r = -1;
  nfs_target_free (&t);
  return r;
}

static const char *
nfsmode_state (const struct attach_state *st)
{
  return mounted (st->mountpoint) ? "mounted" : "not mounted";
}

/* An nfs attach is also known by its SERVER:/EXPORT and mountpoint. */
static bool
nfsmode_known_as (const struct attach_state *st, const char *what)
{
  return strcmp (st->donor, what) == 0 || strcmp (st->mountpoint, what) == 0;
}

const struct attach_mode nfs_mode = {
  .name = "nfs", .mode = MODE_NFS, .attach = attach_nfs,
  .detach = detach_nfs, .state = nfsmode_state,
  .known_as = nfsmode_known_as,
};
