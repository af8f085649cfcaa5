/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Surviving SIGBUS on stores into the region (see guard.h).
 *
 * Each guarded store sets a thread-local jump buffer; the handler
 * jumps back to it only when the faulting address is inside the
 * region and a guarded store is in progress on that thread.  The
 * handler is installed with SA_NODEFER so that leaving it by
 * siglongjmp leaves SIGBUS unblocked, which lets sigsetjmp skip
 * saving the signal mask (a system call) on every request.
 */

#include <config.h>

#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "guard.h"
#include "report.h"

/* initial-exec: the handler must not call __tls_get_addr. */
static __thread sigjmp_buf *volatile guard_jmp
  __attribute__ ((tls_model ("initial-exec")));

static char *guard_start, *guard_end;
static struct sigaction old_action;
static int installed;

static void
on_sigbus (int sig, siginfo_t *info, void *ucontext)
{
  sigjmp_buf *jb = guard_jmp;
  char *addr = info->si_addr;

  if (jb != NULL && addr >= guard_start && addr < guard_end)
    siglongjmp (*jb, 1);

  /* Not ours: die as we would have without the guard. */
  signal (SIGBUS, SIG_DFL);
  raise (SIGBUS);
}

int
guard_install (void *start, size_t len)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset (&sa.sa_mask);
  guard_start = start;
  guard_end = guard_start + len;
  if (sigaction (SIGBUS, &sa, &old_action) == -1) {
    dram_error ("sigaction: SIGBUS: %m");
    return -1;
  }
  installed = 1;
  return 0;
}

void
guard_remove (void)
{
  if (installed)
    sigaction (SIGBUS, &old_action, NULL);
  installed = 0;
  guard_start = guard_end = NULL;
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
