/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Messages written by a thread of their own (see logring.h).  The ring
 * is static: its pages are touched when the writer starts, so that
 * queueing a message allocates nothing (the resident processes lock
 * what they have touched).
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logring.h"
#include "resident.h"

#define SLOTS 64
#define TEXT_MAX 1024
#define WRITER_STACK (128 * 1024)

struct slot {
  int priority;
  char text[TEXT_MAX];
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t queued;        /* the writer waits for a message */
  pthread_cond_t written;       /* logring_flush waits for the writer */
  pid_t owner;                  /* the process whose writer runs */
  logring_sink sink;
  void *arg;
  unsigned long head, tail;     /* queued, written: tail <= head */
  unsigned long dropped;        /* since the last message queued */
  struct slot slot[SLOTS];
} ring;

static void *
writer (void *unused)
{
  char text[TEXT_MAX];
  int priority;

  (void) unused;
  /* Its stack touched now (and so locked in a resident process) rather
   * than when a message comes: prefault_stack's 64 KiB of WRITER_STACK.
   */
  prefault_stack ();
  pthread_mutex_lock (&ring.lock);
  for (;;) {
    while (ring.tail == ring.head)
      pthread_cond_wait (&ring.queued, &ring.lock);
    priority = ring.slot[ring.tail % SLOTS].priority;
    memcpy (text, ring.slot[ring.tail % SLOTS].text, TEXT_MAX);
    pthread_mutex_unlock (&ring.lock);
    ring.sink (ring.arg, priority, text);
    pthread_mutex_lock (&ring.lock);
    /* Only now is the slot free: logring_flush waits for this. */
    ring.tail++;
    pthread_cond_broadcast (&ring.written);
  }
  return NULL;
}

int
logring_start (logring_sink sink, void *arg)
{
  pthread_attr_t attr;
  pthread_t thread;
  sigset_t all, old;
  int err;

  if (logring_running ()) {
    errno = EBUSY;
    return -1;
  }
  /* A fork's child starts afresh: the parent's writer is not here. */
  pthread_mutex_init (&ring.lock, NULL);
  pthread_cond_init (&ring.queued, NULL);
  pthread_cond_init (&ring.written, NULL);
  ring.sink = sink;
  ring.arg = arg;
  ring.head = ring.tail = ring.dropped = 0;
  memset (ring.slot, 0, sizeof ring.slot);

  /* The writer takes no signals: they stay the process's other
   * threads' to handle as before.
   */
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, WRITER_STACK);
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  err = pthread_create (&thread, &attr, writer, NULL);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  pthread_attr_destroy (&attr);
  if (err != 0) {
    errno = err;
    return -1;
  }
  pthread_detach (thread);
  ring.owner = getpid ();
  return 0;
}

int
logring_running (void)
{
  return ring.owner != 0 && ring.owner == getpid ();
}

int
logring_vput (int priority, const char *fmt, va_list ap)
{
  struct slot *s;
  int err = errno, n;

  if (!logring_running ()) {
    errno = ENOTCONN;
    return -1;
  }
  pthread_mutex_lock (&ring.lock);
  if (ring.head - ring.tail >= SLOTS) {
    ring.dropped++;
    pthread_mutex_unlock (&ring.lock);
    errno = EAGAIN;
    return -1;
  }
  s = &ring.slot[ring.head % SLOTS];
  s->priority = priority;
  errno = err;                  /* for %m */
  n = vsnprintf (s->text, TEXT_MAX, fmt, ap);
  if (ring.dropped > 0 && n >= 0 && n < TEXT_MAX)
    snprintf (s->text + n, TEXT_MAX - n, " (%lu earlier message(s) "
              "dropped: the log was not being written)", ring.dropped);
  ring.dropped = 0;
  ring.head++;
  pthread_cond_signal (&ring.queued);
  pthread_mutex_unlock (&ring.lock);
  errno = err;
  return 0;
}

int
logring_flush (unsigned ms)
{
  struct timespec deadline;
  int r;

  if (!logring_running ())
    return 0;
  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ms / 1000;
  deadline.tv_nsec += (long) (ms % 1000) * 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock (&ring.lock);
  while (ring.tail != ring.head &&
         pthread_cond_timedwait (&ring.written, &ring.lock, &deadline) == 0)
    ;
  r = ring.tail == ring.head ? 0 : -1;
  pthread_mutex_unlock (&ring.lock);
  return r;
}
