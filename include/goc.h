/* goc: Go's concurrency model for C.
 *
 * One umbrella header. Each area has its own header under goc/; this one
 * includes them all. See docs/api.md for the reference and docs/design.md
 * for why things are the way they are.
 *
 * The rule every user must know: thread-local storage belongs to the thread,
 * not the goroutine. A goroutine may resume on another thread after any call
 * that can block (channel operations, locks, sleep, yield). Never keep the
 * address of a __thread variable, or a value derived from one, across such a
 * call; read errno before anything that can block (goc itself saves and
 * restores errno across every park, so errno is never clobbered by goc).
 */
#ifndef GOC_H
#define GOC_H

#include <goc/runtime.h>
#include <goc/chan.h>
#include <goc/sync.h>
#include <goc/time.h>
#include <goc/context.h>
#include <goc/net.h>

#endif
