/* Part of gen_vectors.py: runs a generated stub and survives an unmasked
 * SIMD floating-point exception. The SIGFPE handler records the fault and
 * resumes the stub at its epilogue, so the epilogue stores the state the
 * kernel saved at the fault: MXCSR with the new flags, the destination as
 * the faulting instruction left it. Built as a shared library and called
 * through ctypes. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

static volatile uintptr_t resume_at;
static volatile int faulted;

static void on_fpe(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    faulted = 1;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)resume_at;
}

int run_guarded(void (*fn)(void *), void *io, uintptr_t resume)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, &old);
    resume_at = resume;
    faulted = 0;
    fn(io);
    sigaction(SIGFPE, &old, 0);
    return faulted;
}
