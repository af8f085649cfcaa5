/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* dram-attach: make a donor's RAM this machine's swap.  This file
 * parses the command line and reports; attach.c does the work.
 */

#include <config.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/uio.h>

#include "attach.h"
#include "logring.h"
#include "logsock.h"
#include "options.h"
#include "report.h"

static bool verbose;
static bool background;          /* dram_report_in_background */
static struct logsock syslog_sock = { .fd = -1 };
static int log_fd = -1;         /* DRAM_ATTACH_LOG, or -1: syslog */

static void
send_syslog (int priority, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  logsock_vsend (&syslog_sock, priority, fmt, ap);
  va_end (ap);
}

/* The writer thread's end (logring.h): one write(2) per line, so that
 * the processes sharing a log file do not mix their lines.  A line
 * that cannot be written has nowhere else to go.
 */
static void
sink (void *unused, int priority, const char *text)
{
  struct iovec iov[] = {
    { .iov_base = (char *) "dram-attach: ", .iov_len = 13 },
    { .iov_base = (char *) text, .iov_len = strlen (text) },
    { .iov_base = (char *) "\n", .iov_len = 1 },
  };

  (void) unused;
  if (log_fd < 0)
    send_syslog (LOG_DAEMON | priority, "%s", text);
  else if (writev (log_fd, iov, 3) == -1) {
    /* nowhere else to say so */
  }
}

/* To stderr, or through the writer thread once a resident process has
 * left its terminal behind (straight to the log if the thread could
 * not be started).
 */
static void
vreport (int priority, const char *fmt, va_list ap)
{
  char text[1024];

  if (!background) {
    fputs ("dram-attach: ", stderr);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
  }
  else if (logring_running ())
    logring_vput (priority, fmt, ap);   /* or dropped, and counted */
  else {
    vsnprintf (text, sizeof text, fmt, ap);
    sink (NULL, priority, text);
  }
}

void
dram_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vreport (LOG_ERR, fmt, ap);
  va_end (ap);
}

void
dram_debug (const char *fmt, ...)
{
  va_list ap;

  if (!verbose)
    return;
  va_start (ap, fmt);
  vreport (LOG_DEBUG, fmt, ap);
  va_end (ap);
}

void
dram_report_in_background (const char *ident, int fd)
{
  log_fd = fd;
  /* No daemon now: messages are dropped, as syslog(3) drops them. */
  if (fd < 0)
    logsock_open (&syslog_sock, _PATH_LOG, ident);
  background = true;
  if (logring_start (sink, NULL) == -1)
    dram_error ("warning: cannot start the log writer thread (%m): "
                "messages are written by the threads that report them");
}

void
dram_report_flush (void)
{
  logring_flush (1000);
}

static void __attribute__ ((noreturn))
usage (FILE *fp, int status)
{
  fprintf (fp,
"Usage: dram-attach [OPTIONS] HOST[:PORT] [DEVICE]\n"
"       dram-attach [OPTIONS] --unix SOCKET [DEVICE]\n"
"       dram-attach [OPTIONS] nbd://HOST[:PORT]/EXPORT [DEVICE]\n"
"       dram-attach [OPTIONS] [--mode=nfs] SERVER[:PORT]:/EXPORT\n"
"       dram-attach --detach DEVICE|SWAPFILE|SERVER:/EXPORT|all\n"
"       dram-attach --status [--json]\n"
"\n"
"Connects to a dram donor (nbdkit with the dram plugin) and makes its RAM\n"
"this machine's swap on DEVICE (default: the first free /dev/nbdN).\n"
"With an NFS export (a tmpfs lent by dram-donate-nfs), swaps on a file\n"
"there instead.\n"
"\n"
"Options:\n"
"  -m, --mode=nbd|fuse|nfs|auto  front-end (default auto: nfs for an NFS\n"
"                                export, else nbd when the kernel has the\n"
"                                nbd driver, else fuse)\n"
"  -e, --export=NAME       the donor's export, the region asked for\n"
"                          (default: a name of its own, HOST-TOKEN)\n"
"  -p, --priority=N        swap priority, -1 (kernel's choice) to 32767\n"
"  -d, --discard           discard freed swap, so the donor frees the RAM\n"
"  -c, --connections=N     connections to the donor, 1 to %d (the donor\n"
"                          must allow multi-conn)\n"
"  -t, --timeout=SECONDS   kernel request timeout (default 0: wait)\n"
"      --reconnect-timeout=SECONDS  when the donor is lost, keep trying to\n"
"                          reconnect (to the same region) this long\n"
"                          (default %d; 0: never)\n"
"      --no-swap           attach the device only\n"
"      --force             make swap even where the region already holds\n"
"                          a swap area or a filesystem\n"
"  -L, --label=LABEL       swap label (up to 15 bytes)\n"
"      --tls-psk=FILE      TLS with this pre-shared key file\n"
"      --tls-username=NAME the key's user (default: the file's first)\n"
"      --unix=SOCKET       the donor listens on a Unix socket\n"
"  -s, --size=SIZE         nfs: the swap file's size (default: the\n"
"                          export's free space)\n"
"      --nfs-version=V     nfs: 4 (default: 4.2, 4.1 or 4.0), 4.2, 4.1,\n"
"                          4.0 or 3\n"
"      --persist           nfs: also add the mount and the swap to\n"
"                          /etc/fstab (--detach removes them)\n"
"  -v, --verbose           say more\n"
"      --detach=DEVICE|all swapoff, disconnect (unmount) and clean up\n"
"      --status            list what dram-attach has attached\n"
"      --json              with --status: as JSON\n"
"  -h, --help              this help\n"
"      --version           the version\n"
"\n"
"Exit status: 0 done, 1 bad usage, 2 the donor or the kernel refused.\n"
"See dram-attach(8).\n", MAX_CONNECTIONS, DEFAULT_RECONNECT_TIMEOUT);
  exit (status);
}

int
main (int argc, char **argv)
{
  struct options o;
  int r;

  if (options_parse (argc, argv, &o) == -1)
    return EXIT_USAGE;
  verbose = o.verbose;
  switch (o.action) {
  case ACT_HELP:
    usage (stdout, EXIT_SUCCESS);
  case ACT_VERSION:
    printf ("dram-attach %s\n", PACKAGE_VERSION);
    r = EXIT_SUCCESS;
    break;
  case ACT_STATUS:
    r = status_run (o.json);
    break;
  case ACT_DETACH:
    r = detach_run (o.detach);
    break;
  case ACT_ATTACH:
  default:
    r = attach_run (&o);
    break;
  }
  options_free (&o);
  return r;
}
