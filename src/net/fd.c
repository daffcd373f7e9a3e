/* Any descriptor on the netpoller: goc_fd_wait, goc_read, goc_write,
 * goc_fd_close.
 *
 * A table keyed by descriptor number holds one entry per descriptor ever
 * used here: its pollfd and what it is. The table is two-level (chunks of
 * FDTAB_CHUNK entries allocated on first use), and entries are never freed,
 * so a lookup is two loads with no lock.
 *
 * Invariants:
 * - An entry's mode goes UNKNOWN -> POLL or NOPOLL under the entry's lock,
 *   and back to UNKNOWN only in goc_fd_close; pd is stored before mode
 *   (release), so whoever sees POLL (acquire) sees pd.
 * - A descriptor closed with close(2) rather than goc_fd_close leaves a
 *   stale entry. Before parking, the slow path compares the file's device
 *   and inode with those seen at registration and registers again if they
 *   differ (the stale pollfd is evicted and leaked: it cannot be
 *   unregistered by number, which may name someone else's registration).
 *   A reused number whose new file is a blocking descriptor is not caught:
 *   its read blocks the thread. Hence goc_fd_close.
 * - goc_read takes the entry's rmu for its whole call, goc_write wmu, as
 *   Go's fdMutex: a second caller in the same direction queues. One that
 *   queued across a goc_fd_close gets EBADF. goc_fd_wait, whose deadline a
 *   queue could not honour, takes no turn (EBUSY beside another waiter).
 */
#include "net/net_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FDTAB_CHUNK 4096  /* entries per chunk: one chunk covers the usual ulimit -n of 1024..4096 */
#define FDTAB_CHUNKS 1024 /* so up to 4M descriptors, beyond any default nofile limit */

enum { MODE_UNKNOWN, MODE_POLL, MODE_NOPOLL };

typedef struct fdent {
    goc__lock lock;
    _Atomic int mode;
    _Atomic(goc__pollfd *) pd;
    dev_t dev;                      /* identity at registration, under lock */
    ino_t ino;
    goc_mutex rmu, wmu;             /* one reader and one writer at a time (Go's fdMutex) */
    _Atomic uint32_t closes;        /* goc_fd_close calls: a queued caller's fd is gone */
} fdent;

static _Atomic(fdent *) fdtab[FDTAB_CHUNKS];

/* The entry of fd, allocating its chunk if create; NULL if fd is out of
   range (or create is false and the chunk does not exist). */
static fdent *fdtab_entry(int fd, bool create) {
    if (fd < 0 || fd >= FDTAB_CHUNK * FDTAB_CHUNKS)
        return NULL;
    _Atomic(fdent *) *slot = &fdtab[fd / FDTAB_CHUNK];
    fdent *chunk = atomic_load_explicit(slot, memory_order_acquire);
    if (!chunk) {
        if (!create)
            return NULL;
        fdent *fresh = calloc(FDTAB_CHUNK, sizeof *fresh);
        if (!fresh)
            return NULL;
        /* acq_rel: publishes the zeroed chunk; on failure reads the winner's */
        if (atomic_compare_exchange_strong_explicit(slot, &chunk, fresh, memory_order_acq_rel,
                                                    memory_order_acquire))
            chunk = fresh;
        else
            free(fresh);
    }
    return &chunk[fd % FDTAB_CHUNK];
}

/* Registers fd (e->lock held): regular files and directories are NOPOLL,
   anything else becomes O_NONBLOCK and gets a pollfd. 0 or errno. */
static int fdent_register(fdent *e, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return goc__errno_get();
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        atomic_store_explicit(&e->mode, MODE_NOPOLL, memory_order_release);
        return 0;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0))
        return goc__errno_get();
    int err;
    goc__pollfd *pd = goc__pollfd_open(fd, &err);
    if (!pd) {
        if (err != EPERM)
            return err;
        atomic_store_explicit(&e->mode, MODE_NOPOLL, memory_order_release);
        return 0;
    }
    atomic_store_explicit(&e->pd, pd, memory_order_relaxed);
    /* release: pairs with the acquire in fd_lookup, publishing pd */
    atomic_store_explicit(&e->mode, MODE_POLL, memory_order_release);
    return 0;
}

/* The entry of fd, registered. NULL and *err on failure. */
static fdent *fd_lookup(int fd, int *err) {
    fdent *e = fdtab_entry(fd, true);
    if (!e) {
        /* Not open (as Go: EBADF), or beyond the table (2^24 and up, only
           open where the system's limit was raised), or out of memory. */
        if (fd < 0 || fcntl(fd, F_GETFD) < 0)
            *err = EBADF;
        else
            *err = fd >= FDTAB_CHUNK * FDTAB_CHUNKS ? EMFILE : ENOMEM;
        return NULL;
    }
    if (GOC_LIKELY(atomic_load_explicit(&e->mode, memory_order_acquire) != MODE_UNKNOWN))
        return e;
    goc__lock_acquire(&e->lock);
    *err = 0;
    if (atomic_load_explicit(&e->mode, memory_order_relaxed) == MODE_UNKNOWN)
        *err = fdent_register(e, fd);
    goc__lock_release(&e->lock);
    return *err ? NULL : e;
}

/* Before parking: the pollfd of fd, registered again if the number now
   names another file (see the invariants). NULL and *err on failure. */
static goc__pollfd *fd_pollfd_checked(fdent *e, int fd, int *err) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *err = goc__errno_get();
        return NULL;
    }
    goc__lock_acquire(&e->lock);
    *err = 0;
    if (atomic_load_explicit(&e->mode, memory_order_relaxed) != MODE_POLL || st.st_dev != e->dev ||
        st.st_ino != e->ino) {
        goc__pollfd *old = atomic_exchange(&e->pd, NULL);
        if (old)
            goc__pollfd_evict(old);
        atomic_store(&e->mode, MODE_UNKNOWN);
        *err = fdent_register(e, fd);
    }
    goc__pollfd *pd = atomic_load(&e->pd);
    bool poll_mode = atomic_load(&e->mode) == MODE_POLL;
    goc__lock_release(&e->lock);
    if (*err)
        return NULL;
    if (!poll_mode) {
        *err = EPERM; /* became a regular file: the caller retries without waiting */
        return NULL;
    }
    return pd;
}

/* Takes the turn of one direction, as Go's fdMutex: a second reader (or
   writer) of a descriptor queues behind the first instead of failing.
   False (EBADF) if goc_fd_close closed it while we queued: the number may
   name another file by now. */
static bool fd_turn(fdent *e, goc_mutex *mu) {
    uint32_t closes = atomic_load(&e->closes);
    goc_mutex_lock(mu);
    if (atomic_load(&e->closes) == closes)
        return true;
    goc_mutex_unlock(mu);
    return false;
}

int goc_fd_wait(int fd, int events, int64_t deadline) {
    int mode = events == POLLIN ? GOC__POLL_READ : events == POLLOUT ? GOC__POLL_WRITE : 0;
    if (!mode)
        return EINVAL;
    int err;
    fdent *e = fd_lookup(fd, &err);
    if (!e)
        return err;
    if (atomic_load_explicit(&e->mode, memory_order_acquire) == MODE_NOPOLL)
        return 0;
    /* The poller reports edges; the caller may not have drained the fd
       since the last one, so ask the kernel about now first. */
    struct pollfd p = {.fd = fd, .events = (short)events};
    if (poll(&p, 1, 0) > 0)
        return (p.revents & POLLNVAL) ? EBADF : 0;
    /* No turn here: a turn has no deadline to give up at. A second waiter
       in this direction (another goc_fd_wait, or a parked goc_read or
       goc_write) gets EBUSY, as from Go's pollDesc. */
    goc__pollfd *pd = fd_pollfd_checked(e, fd, &err);
    if (!pd)
        return err == EPERM ? 0 : err;
    return goc__pollfd_wait(pd, mode, goc__poll_deadline(deadline));
}

/* One read or write, inside a blocking section: for files the poller
   cannot watch. */
static ssize_t io_blocking(int fd, void *buf, size_t n, bool rd) {
    goc_blocking_begin();
    ssize_t r;
    do
        r = rd ? read(fd, buf, n) : write(fd, buf, n);
    while (r < 0 && goc__errno_get() == EINTR);
    int e = goc__errno_get();
    goc_blocking_end();
    return r < 0 ? -e : r;
}

/* Parks until fd may be ready for mode. 0: retry; else errno. */
static int fd_park(fdent *e, int fd, int mode) {
    int err;
    goc__pollfd *pd = fd_pollfd_checked(e, fd, &err);
    if (!pd)
        return err == EPERM ? 0 : err;
    return goc__pollfd_wait(pd, mode, -1);
}

ssize_t goc_read(int fd, void *buf, size_t n) {
    int err;
    fdent *e = fd_lookup(fd, &err);
    if (!e)
        return -err;
    if (atomic_load_explicit(&e->mode, memory_order_acquire) == MODE_NOPOLL)
        return io_blocking(fd, buf, n, true);
    if (!fd_turn(e, &e->rmu))
        return -EBADF;
    ssize_t r;
    for (;;) {
        r = read(fd, buf, n);
        if (r >= 0)
            break;
        err = goc__errno_get();
        if (err != EINTR && (err != EAGAIN || (err = fd_park(e, fd, GOC__POLL_READ)) != 0)) {
            r = -err;
            break;
        }
    }
    goc_mutex_unlock(&e->rmu);
    return r;
}

ssize_t goc_write(int fd, const void *buf, size_t n) {
    int err;
    fdent *e = fd_lookup(fd, &err);
    if (!e)
        return -err;
    const char *p = buf;
    size_t done = 0;
    bool nopoll = atomic_load_explicit(&e->mode, memory_order_acquire) == MODE_NOPOLL;
    /* one writer at a time: the bytes of one call never interleave */
    if (!nopoll && !fd_turn(e, &e->wmu))
        return -EBADF;
    ssize_t ret = 0;
    while (done < n || n == 0) {
        ssize_t r = nopoll ? io_blocking(fd, (void *)(p + done), n - done, false)
                           : write(fd, p + done, n - done);
        if (r >= 0) {
            done += (size_t)r;
            if (n == 0)
                break;
            continue;
        }
        err = nopoll ? (int)-r : goc__errno_get();
        if (err == EINTR)
            continue;
        if (err == EAGAIN && !nopoll) {
            err = fd_park(e, fd, GOC__POLL_WRITE);
            if (!err)
                continue;
        }
        ret = -err;
        break;
    }
    if (!nopoll)
        goc_mutex_unlock(&e->wmu);
    return done > 0 ? (ssize_t)done : ret;
}

int goc_fd_close(int fd) {
    fdent *e = fdtab_entry(fd, false);
    if (e) {
        goc__lock_acquire(&e->lock);
        goc__pollfd *pd = atomic_exchange(&e->pd, NULL);
        atomic_store(&e->mode, MODE_UNKNOWN);
        atomic_fetch_add(&e->closes, 1); /* callers queued for a turn give up */
        goc__lock_release(&e->lock);
        if (pd)
            goc__pollfd_close(pd);
    }
    return close(fd) == 0 ? 0 : goc__errno_get();
}
