/* The network poller: fd readiness over epoll (edge-triggered), as Go's
 * runtime/netpoll_epoll.go and the pollDesc of netpoll.go.
 *
 * A goc__pollfd is registered once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET
 * and holds at most one waiting reader and one waiting writer (parkers, so
 * plain threads can wait too), plus a "ready" flag per direction for an edge
 * that arrived while nobody waited. Anyone can poll: an M that finds no work
 * polls without blocking; one idle M at a time blocks in epoll_wait until the
 * earliest timer (sched.c), and an eventfd interrupts it.
 *
 * Invariants:
 * - pollfd records are never freed, only reused (type-stable memory): an
 *   event from epoll_wait may name a record that was closed meanwhile. Each
 *   event carries the record's sequence number, bumped at every close, so a
 *   stale event is recognised and dropped.
 * - rwait/wwait, rthread/wthread, rready/wready and closing change only
 *   under pd->lock; a waiter is woken only by whoever wins its parker's
 *   claim.
 * - A plain thread waits in poll(2) on the fd and on its own eventfd, named
 *   in rthread/wthread (eventfd + 1) while it waits; whoever clears that
 *   slot under the lock writes to the eventfd once (close, evict, wake).
 * - goc__sched.nnetwait_g counts the goroutines waiting on fds, by the
 *   parity of their run's epoch (an earlier run's abandoned ones never wake,
 *   and must not keep the next run "alive"), and nnetwait the plain threads;
 *   the deadlock detector treats a program with such waiters as alive, as
 *   Go does.
 */
#include "runtime/internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#ifdef GOC_TSAN
/* The record reaches the poller through the kernel (epoll's data word),
   which TSan cannot see: a release at registration pairs with an acquire
   at each event. */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define tsan_acquire(p) __tsan_acquire(p)
#define tsan_release(p) __tsan_release(p)
#else
#define tsan_acquire(p) ((void)(p))
#define tsan_release(p) ((void)(p))
#endif

#define EVENTS_PER_POLL 128 /* as Go */
#define SEQ_BITS 16         /* the top 16 bits of a pointer are free on x86-64 and AArch64 */

static int epfd = -1;
static int breakfd = -1;
/* Set (release) once epfd and breakfd exist: Ms that poll without having
   gone through pthread_once read them only after an acquire of this. */
static _Atomic bool netpoll_ready;
static pthread_once_t netpoll_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t break_pending;
static goc__lock free_lock;
static goc__pollfd *free_list;

static void netpoll_init_once(void) {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd < 0 || breakfd < 0)
        goc__fatal("netpoll: cannot create epoll or eventfd: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0)
        goc__fatal("netpoll: epoll_ctl: %s", strerror(errno));
    atomic_store_explicit(&netpoll_ready, true, memory_order_release);
}

goc__pollfd *goc__pollfd_open(int fd, int *err) {
    pthread_once(&netpoll_once, netpoll_init_once);
    goc__lock_acquire(&free_lock);
    goc__pollfd *pd = free_list;
    if (pd)
        free_list = pd->link;
    goc__lock_release(&free_lock);
    if (!pd) {
        pd = calloc(1, sizeof *pd);
        if (!pd) {
            *err = ENOMEM;
            return NULL;
        }
    }
    goc__lock_acquire(&pd->lock);
    pd->fd = fd;
    pd->rwait = pd->wwait = NULL;
    pd->rthread = pd->wthread = 0;
    pd->rready = pd->wready = false;
    pd->closing = false;
    uint64_t seq = pd->seq & ((1u << SEQ_BITS) - 1);
    goc__lock_release(&pd->lock);
    tsan_release(pd);
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = (uint64_t)(uintptr_t)pd | (seq << (64 - SEQ_BITS)),
    };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        *err = errno;
        goc__lock_acquire(&free_lock);
        pd->link = free_list;
        free_list = pd;
        goc__lock_release(&free_lock);
        return NULL;
    }
    *err = 0;
    return pd;
}

/* Wakes the waiter in *slot, if any (pd->lock held). */
static goc__parker *take_waiter(goc__parker **slot) {
    goc__parker *pk = *slot;
    if (pk) {
        *slot = NULL;
        if (!goc__parker_claim(pk))
            pk = NULL; /* its deadline won: it takes itself off */
    }
    return pk;
}

static void thread_wake(goc__pollfd *pd, bool rd, bool wr);

void goc__pollfd_evict(goc__pollfd *pd) {
    goc__lock_acquire(&pd->lock);
    pd->closing = true;
    goc__parker *r = take_waiter(&pd->rwait), *w = take_waiter(&pd->wwait);
    thread_wake(pd, true, true);
    goc__lock_release(&pd->lock);
    if (r)
        goc__parker_wake(r);
    if (w)
        goc__parker_wake(w);
}

void goc__pollfd_close(goc__pollfd *pd) {
    goc__lock_acquire(&pd->lock);
    pd->closing = true;
    goc__parker *r = take_waiter(&pd->rwait), *w = take_waiter(&pd->wwait);
    int fd = pd->fd;
    pd->seq++;
    thread_wake(pd, true, true);
    goc__lock_release(&pd->lock);
    if (r)
        goc__parker_wake(r);
    if (w)
        goc__parker_wake(w);
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    /* Waiters that were woken may still be returning from wait, reading
       pd->closing: they hold no reference after that. A record is reused
       only for another fd, whose waiters cannot be confused with these. */
    goc__lock_acquire(&free_lock);
    pd->link = free_list;
    free_list = pd;
    goc__lock_release(&free_lock);
}

/* pd->lock held: wakes the plain threads waiting in poll(2) for rd / wr
   (their own poll sees the fd itself; this is for close and for
   goc__pollfd_wake, which poll cannot see). The slot is cleared: one wake. */
static void thread_wake_slot(int *slot) {
    static const uint64_t one = 1;
    if (*slot) {
        if (write(*slot - 1, &one, sizeof one) < 0) {
            /* the counter cannot overflow: each wait drains it first */
        }
        *slot = 0;
    }
}
static void thread_wake(goc__pollfd *pd, bool rd, bool wr) {
    if (rd)
        thread_wake_slot(&pd->rthread);
    if (wr)
        thread_wake_slot(&pd->wthread);
}

/* pd->lock held, released here: wakes the reader and/or the writer, or marks
   the direction ready when nobody waits on it. */
static void ready_and_release(goc__pollfd *pd, bool rd, bool wr) {
    goc__parker *r = NULL, *w = NULL;
    if (rd) {
        r = take_waiter(&pd->rwait);
        if (!r)
            pd->rready = true;
    }
    if (wr) {
        w = take_waiter(&pd->wwait);
        if (!w)
            pd->wready = true;
    }
    goc__lock_release(&pd->lock);
    if (r)
        goc__parker_wake(r);
    if (w)
        goc__parker_wake(w);
}

/* Wakes the waiters of mode so they re-check (a deadline moved, a context
   ended). Where nobody waits yet, the ready flag makes the next wait return
   at once: a waiter that read the old deadline just before this call cannot
   then sleep past the new one. A spurious ready only costs a retried syscall. */
void goc__pollfd_wake(goc__pollfd *pd, int mode) {
    goc__lock_acquire(&pd->lock);
    thread_wake(pd, mode & GOC__POLL_READ, mode & GOC__POLL_WRITE);
    ready_and_release(pd, mode & GOC__POLL_READ, mode & GOC__POLL_WRITE);
}

/* A plain thread's eventfd, made at its first wait, closed when it exits. */
static __thread int thread_efd = -1;
static pthread_key_t thread_efd_key;
static pthread_once_t thread_efd_once = PTHREAD_ONCE_INIT;

static void thread_efd_close(void *v) {
    close((int)(intptr_t)v - 1);
    thread_efd = -1; /* a later destructor that waits makes a new one */
}
/* A forked child shares the parent's eventfds: it must not drain (steal)
   their wakes. It makes its own at its first wait. */
static void thread_efd_atfork_child(void) {
    if (thread_efd >= 0) {
        close(thread_efd);
        thread_efd = -1;
        pthread_setspecific(thread_efd_key, NULL);
    }
}
static void thread_efd_key_init(void) {
    pthread_key_create(&thread_efd_key, thread_efd_close);
    pthread_atfork(NULL, NULL, thread_efd_atfork_child);
}
static int thread_efd_get(void) {
    if (thread_efd < 0) {
        pthread_once(&thread_efd_once, thread_efd_key_init);
        thread_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (thread_efd < 0)
            return -1;
        pthread_setspecific(thread_efd_key, (void *)(intptr_t)(thread_efd + 1));
    } else {
        uint64_t v; /* a wake that came after the last wait was over */
        if (read(thread_efd, &v, sizeof v) < 0) {
        }
    }
    return thread_efd;
}

/* pd->lock held, released here. A plain thread blocks in poll(2) itself (no
   M need be polling: there may be no goc_run at all), on the fd and on its
   eventfd, which close and goc__pollfd_wake write to. */
static int wait_thread(goc__pollfd *pd, bool rd, int64_t deadline) {
    int efd = thread_efd_get();
    int *slot = rd ? &pd->rthread : &pd->wthread;
    if (efd >= 0 && *slot) {
        goc__lock_release(&pd->lock);
        return EBUSY; /* as for goroutines: one reader and one writer at a time */
    }
    if (efd >= 0)
        *slot = efd + 1;
    uint32_t seq = pd->seq;
    int fd = pd->fd;
    goc__lock_release(&pd->lock);
    struct pollfd p[2] = {{.fd = fd, .events = rd ? POLLIN : POLLOUT},
                          {.fd = efd, .events = POLLIN}};
    /* A wait on a descriptor, as a goroutine's is: the peer may send at any
       time, so the program is not deadlocked (counted first: a blocked
       thread asks for a deadlock check). */
    atomic_fetch_add(&goc__sched.nnetwait, 1);
    goc__foreign_block_begin();
    int rc;
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t d = deadline - goc_now();
            if (d <= 0) {
                rc = ETIMEDOUT;
                break;
            }
            ms = (int)((d + 999999) / 1000000);
        }
        int n = poll(p, efd >= 0 ? 2 : 1, ms);
        if (n > 0) {
            rc = (p[0].revents & POLLNVAL) ? EBADF : 0;
            break;
        }
        if (n < 0 && errno != EINTR) {
            rc = errno;
            break;
        }
    }
    goc__foreign_block_end();
    atomic_fetch_sub(&goc__sched.nnetwait, 1);
    goc__lock_acquire(&pd->lock);
    if (efd >= 0 && *slot == efd + 1)
        *slot = 0; /* nobody woke us: leave */
    bool closed = pd->seq != seq || pd->closing; /* the record may serve another fd now */
    goc__lock_release(&pd->lock);
    return closed ? EBADF : rc;
}

int goc__pollfd_wait(goc__pollfd *pd, int mode, int64_t deadline) {
    bool rd = mode == GOC__POLL_READ;
    goc__lock_acquire(&pd->lock);
    if (pd->closing) {
        goc__lock_release(&pd->lock);
        return EBADF;
    }
    bool *ready = rd ? &pd->rready : &pd->wready;
    if (*ready) {
        *ready = false;
        goc__lock_release(&pd->lock);
        return 0;
    }
    if (deadline >= 0 && deadline <= goc_now()) {
        goc__lock_release(&pd->lock);
        return ETIMEDOUT;
    }
    if (!goc__curg())
        return wait_thread(pd, rd, deadline);
    goc__parker **slot = rd ? &pd->rwait : &pd->wwait;
    if (*slot) {
        goc__lock_release(&pd->lock);
        return EBUSY; /* one reader and one writer at a time, as Go's pollDesc */
    }
    uint32_t seq = pd->seq;
    goc__parker pk;
    goc__parker_init(&pk);
    *slot = &pk;
    _Atomic int64_t *nwait = &goc__sched.nnetwait_g[pk.g->epoch & 1];
    atomic_fetch_add(nwait, 1);
    bool woken = goc__parker_park(&pk, goc__unlock_cb, &pd->lock, rd ? "IO wait (read)" : "IO wait (write)",
                                  deadline);
    atomic_fetch_sub(nwait, 1);
    goc__lock_acquire(&pd->lock);
    if (*slot == &pk)
        *slot = NULL; /* timed out: nobody took us off */
    /* closed meanwhile (the record may already serve another fd) */
    bool closed = pd->seq != seq || pd->closing;
    goc__lock_release(&pd->lock);
    if (closed)
        return EBADF;
    return woken ? 0 : ETIMEDOUT;
}

/* Delivers one epoll event. */
static void dispatch(uint64_t data, uint32_t events) {
    goc__pollfd *pd = (goc__pollfd *)(uintptr_t)(data & ((1ULL << (64 - SEQ_BITS)) - 1));
    uint32_t seq = (uint32_t)(data >> (64 - SEQ_BITS));
    tsan_acquire(pd);
    goc__lock_acquire(&pd->lock);
    if ((pd->seq & ((1u << SEQ_BITS) - 1)) != seq || pd->closing) {
        goc__lock_release(&pd->lock);
        return; /* closed since: a stale event */
    }
    ready_and_release(pd, events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
                      events & (EPOLLOUT | EPOLLHUP | EPOLLERR));
}

/* epoll_pwait2 takes nanoseconds; epoll_wait milliseconds, rounded up so a
   timer is never polled for too early (which would spin). */
static _Atomic bool no_pwait2;

static int wait_ms(struct epoll_event *evs, const struct timespec *tsp) {
    int ms = -1;
    if (tsp) {
        int64_t ns = (int64_t)tsp->tv_sec * 1000000000 + tsp->tv_nsec;
        ms = ns > (int64_t)INT32_MAX * 1000000 ? INT32_MAX : (int)((ns + 999999) / 1000000);
    }
    return epoll_wait(epfd, evs, EVENTS_PER_POLL, ms);
}

int goc__netpoll(int64_t until) {
    if (!atomic_load_explicit(&netpoll_ready, memory_order_acquire))
        return 0;
    struct epoll_event evs[EVENTS_PER_POLL];
    struct timespec ts, *tsp = NULL;
    if (until != INT64_MAX) {
        int64_t d = until - goc_now();
        if (d < 0)
            d = 0;
        ts.tv_sec = d / 1000000000;
        ts.tv_nsec = d % 1000000000;
        tsp = &ts;
    }
    int n;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        n = epoll_pwait2(epfd, evs, EVENTS_PER_POLL, tsp, NULL);
        if (n < 0 && errno == ENOSYS) {
            /* kernels before 5.11 and qemu-user 7 lack it: fall back */
            atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
            n = wait_ms(evs, tsp);
        }
    } else {
        n = wait_ms(evs, tsp);
    }
    if (n < 0)
        return 0;
    /* A break (goc__netpoll_break) orders what its caller wrote before it,
       say startm's m->p for this M, before we return: through the kernel. */
    tsan_acquire(&break_pending);
    int woken = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == 0) {
            uint64_t v;
            if (read(breakfd, &v, sizeof v) < 0) {
            }
            atomic_store(&break_pending, 0);
            continue;
        }
        dispatch(evs[i].data.u64, evs[i].events);
        woken++;
    }
    return woken;
}

void goc__netpoll_break(void) {
    tsan_release(&break_pending); /* even when a break is already on its way */
    if (!atomic_load_explicit(&netpoll_ready, memory_order_acquire) ||
        atomic_exchange(&break_pending, 1))
        return; /* a break is already on its way */
    uint64_t one = 1;
    if (write(breakfd, &one, sizeof one) < 0) {
    }
}
