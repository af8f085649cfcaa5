/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Surviving SIGBUS on stores into a region (see guard.h).
 *
 * Each guarded store sets a thread-local jump buffer and the range it
 * stores to; the handler jumps back only when a guarded store is in
 * progress on the faulting thread and the faulting address is inside
 * that store's range.  The handler is installed with SA_NODEFER so
 * that leaving it by siglongjmp leaves SIGBUS unblocked, which lets
 * sigsetjmp skip saving the signal mask (a system call) on every
 * request.
 */

#include <config.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "guard.h"
#include "report.h"

/* initial-exec: the handler must not call __tls_get_addr. */
static __thread sigjmp_buf *volatile guard_jmp
  __attribute__ ((tls_model ("initial-exec")));

static __thread char *volatile guard_lo
  __attribute__ ((tls_model ("initial-exec")));
static __thread char *volatile guard_hi
  __attribute__ ((tls_model ("initial-exec")));

/* Regions that asked for the handler; installing and removing it
 * happen at start-up and at region creation, never on the data path.
 */
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_action;
static unsigned users;

static void
on_sigbus (int sig, siginfo_t *info, void *ucontext)
{
  sigjmp_buf *jb = guard_jmp;
  char *addr = info->si_addr;

  if (jb != NULL && addr >= guard_lo && addr < guard_hi)
    siglongjmp (*jb, 1);

  /* Not ours: die as we would have without the guard. */
  signal (SIGBUS, SIG_DFL);
  raise (SIGBUS);
}

int
guard_install (void)
{
  struct sigaction sa;
  int r = 0;

  pthread_mutex_lock (&install_lock);
  if (users == 0) {
    memset (&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset (&sa.sa_mask);
    if (sigaction (SIGBUS, &sa, &old_action) == -1) {
      dram_error ("sigaction: SIGBUS: %m");
      r = -1;
    }
  }
  if (r == 0)
    users++;
  pthread_mutex_unlock (&install_lock);
  return r;
}

void
guard_remove (void)
{
  pthread_mutex_lock (&install_lock);
  if (users > 0 && --users == 0)
    sigaction (SIGBUS, &old_action, NULL);
  pthread_mutex_unlock (&install_lock);
}

/* The barriers keep the compiler from moving the stores to guard_jmp
 * across the copy.
 */
int
guarded_copy (void *dst, const void *src, size_t n)
{
  sigjmp_buf jb;

  if (sigsetjmp (jb, 0) != 0) {
    guard_jmp = NULL;
    return -1;
  }
  guard_lo = dst;
  guard_hi = (char *) dst + n;
  guard_jmp = &jb;
  __asm__ volatile ("" ::: "memory");
  if (src)
    memcpy (dst, src, n);
  else
    memset (dst, 0, n);
  __asm__ volatile ("" ::: "memory");
  guard_jmp = NULL;
  return 0;
}
