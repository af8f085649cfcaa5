/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the resident processes' log writer thread (logring.c).
 * Its sink here writes to a pipe, which the test reads or, to stand for
 * a log file whose page is in the swap that waits, does not read: the
 * thread that reports must never wait, what overflows is dropped and
 * counted, and the next line that gets through says how many.  Each
 * test runs in a process of its own (Check forks), which has one ring.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>

#include "logring.h"
#include "unit.h"

static int pipe_fd[2];

/* One line per message: "PRIORITY TEXT\n". */
static void
to_pipe (void *arg, int priority, const char *text)
{
  char line[2048];
  int n = snprintf (line, sizeof line, "%d %s\n", priority, text);

  ck_assert_ptr_eq (arg, pipe_fd);
  ck_assert_int_eq (write (pipe_fd[1], line, n), n);
}

static int
put (int priority, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = logring_vput (priority, fmt, ap);
  va_end (ap);
  return r;
}

/* Everything in the pipe now, NUL-terminated, appended to BUF. */
static void
drain (char *buf, size_t len)
{
  size_t have = strlen (buf);
  ssize_t n;

  while (have < len - 1 &&
         (n = read (pipe_fd[0], buf + have, len - 1 - have)) > 0)
    have += n;
  buf[have] = '\0';
}

static void
setup (void)
{
  ck_assert_int_eq (pipe2 (pipe_fd, O_CLOEXEC), 0);
  ck_assert_int_eq (fcntl (pipe_fd[0], F_SETFL, O_NONBLOCK), 0);
}

static void
teardown (void)
{
  close (pipe_fd[0]);
  close (pipe_fd[1]);
}

/* Not started: nothing is queued (the caller writes it itself). */
START_TEST (not_started)
{
  ck_assert_int_eq (logring_running (), 0);
  ck_assert_int_eq (put (3, "nobody writes this"), -1);
  ck_assert_int_eq (errno, ENOTCONN);
  ck_assert_int_eq (logring_flush (10), 0);
}
END_TEST

/* Every message reaches the sink, in order, with its priority and %m. */
START_TEST (in_order)
{
  static char buf[65536];
  char want[256], *p;
  int i;

  ck_assert_int_eq (logring_start (to_pipe, pipe_fd), 0);
  ck_assert_int_eq (logring_running (), 1);
  ck_assert_int_eq (logring_start (to_pipe, pipe_fd), -1);
  ck_assert_int_eq (errno, EBUSY);
  for (i = 0; i < 50; i++) {
    errno = ENOSPC;
    ck_assert_int_eq (put (i % 8, "message %d: %m", i), 0);
    ck_assert_int_eq (errno, ENOSPC);
  }
  ck_assert_int_eq (logring_flush (5000), 0);
  buf[0] = '\0';
  drain (buf, sizeof buf);
  p = buf;
  for (i = 0; i < 50; i++) {
    snprintf (want, sizeof want, "%d message %d: %s\n", i % 8, i,
              strerror (ENOSPC));
    ck_assert_int_eq (strncmp (p, want, strlen (want)), 0);
    p += strlen (want);
  }
  ck_assert_str_eq (p, "");
}
END_TEST

/* The writer is stuck (the pipe is full and nobody reads it): putting
 * still returns at once (the alarm fails the test if one waits), the
 * overflow is dropped, flushing gives up; once the writer can go on,
 * everything queued arrives and the next message says how many were
 * dropped, once.
 */
START_TEST (stuck_writer)
{
  static char buf[1 << 20];
  char *p, *n;
  int i, queued = 0, dropped = 0, told;

  ck_assert_int_ge (fcntl (pipe_fd[1], F_SETPIPE_SZ, 4096), 4096);
  ck_assert_int_eq (logring_start (to_pipe, pipe_fd), 0);
  alarm (10);
  for (i = 0; i < 5000; i++) {
    if (put (3, "lost the donor: message %d %0500d", i, 0) == 0)
      queued++;
    else {
      ck_assert_int_eq (errno, EAGAIN);
      dropped++;
    }
  }
  ck_assert_int_eq (logring_flush (200), -1);
  alarm (0);
  ck_assert_int_gt (queued, 0);
  ck_assert_int_gt (dropped, 0);
  ck_assert_int_eq (queued + dropped, 5000);

  /* The log is written again: every queued message, and the notes of
   * what was dropped (on the first message queued after a drop) add up.
   * The writer was stuck when the loop ended: the last drops are told
   * on the next message.
   */
  buf[0] = '\0';
  for (i = 0; i < 500 && logring_flush (10) == -1; i++)
    drain (buf, sizeof buf);
  ck_assert_int_eq (logring_flush (0), 0);
  ck_assert_int_eq (put (3, "reconnected"), 0);
  ck_assert_int_eq (put (3, "again"), 0);
  ck_assert_int_eq (logring_flush (5000), 0);
  drain (buf, sizeof buf);
  for (i = 0, p = buf; (p = strstr (p, "lost the donor")) != NULL; p++)
    i++;
  ck_assert_int_eq (i, queued);
  for (told = 0, p = buf; (p = strstr (p, " earlier message(s) dropped: "
                                         "the log was not being written)"))
                          != NULL; p++) {
    for (n = p; n > buf && n[-1] >= '0' && n[-1] <= '9'; n--)
      ;
    ck_assert_int_eq (n[-1], '(');
    told += atoi (n);
  }
  ck_assert_int_eq (told, dropped);
  p = strstr (buf, "\n3 reconnected (");
  ck_assert_ptr_nonnull (p);
  ck_assert_str_eq (strchr (p + 1, '\n'), "\n3 again\n");
}
END_TEST

/* The writer takes no signals: one that the reporting thread blocks
 * stays pending instead of being delivered to the writer (whose
 * default action would end the process).
 */
START_TEST (no_signals)
{
  sigset_t usr1, pending;

  ck_assert_int_eq (logring_start (to_pipe, pipe_fd), 0);
  sigemptyset (&usr1);
  sigaddset (&usr1, SIGUSR1);
  ck_assert_int_eq (pthread_sigmask (SIG_BLOCK, &usr1, NULL), 0);
  ck_assert_int_eq (kill (getpid (), SIGUSR1), 0);
  ck_assert_int_eq (put (3, "after the signal"), 0);
  ck_assert_int_eq (logring_flush (5000), 0);
  ck_assert_int_eq (sigpending (&pending), 0);
  ck_assert_int_eq (sigismember (&pending, SIGUSR1), 1);
}
END_TEST

/* A fork's child has no writer (the parent's is not there): it queues
 * nothing until it starts its own, which works.
 */
START_TEST (fork_child)
{
  char buf[256] = "";
  pid_t pid;
  int status;

  ck_assert_int_eq (logring_start (to_pipe, pipe_fd), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0) {
    if (logring_running () || put (3, "lost") != -1 || errno != ENOTCONN ||
        logring_start (to_pipe, pipe_fd) != 0 ||
        put (3, "from the child") != 0 || logring_flush (5000) != 0)
      _exit (1);
    _exit (0);
  }
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_int_eq (status, 0);
  drain (buf, sizeof buf);
  ck_assert_str_eq (buf, "3 from the child\n");
}
END_TEST

int
main (void)
{
  TCase *tc = tcase_create ("logring");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, not_started);
  tcase_add_test (tc, in_order);
  tcase_add_test (tc, stuck_writer);
  tcase_add_test (tc, no_signals);
  tcase_add_test (tc, fork_child);
  return run_tcase ("logring", tc);
}
