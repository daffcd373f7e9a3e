/* Epoch-based reclamation for the sync layer's lock-free readers (goc_map).
 *
 * A reader brackets its lock-free accesses with goc__ebr_enter/exit; memory
 * that a writer unlinks is freed only once every reader that might still
 * hold a pointer to it has left. The rules:
 * - Inside a section nothing may block, park, yield or call user code: the
 *   section is bound to the thread (one record per thread), and a goroutine
 *   that moved to another thread would leave it open.
 * - A writer that unlinks an object reads goc__ebr_epoch() after the unlink;
 *   the object may be freed once goc__ebr_safe(that epoch) is true.
 */
#ifndef GOC_SYNC_EBR_H
#define GOC_SYNC_EBR_H

#include "runtime/internal.h"

typedef struct goc__ebr_rec goc__ebr_rec;

GOC_HIDDEN goc__ebr_rec *goc__ebr_enter(void);
GOC_HIDDEN void goc__ebr_exit(goc__ebr_rec *r);
/* The current epoch; read it after unlinking what you retire. */
GOC_HIDDEN uint64_t goc__ebr_epoch(void);
/* Tries to move the epoch on (a few records scanned); then tells whether
   memory retired at epoch e can no longer be seen by any reader. */
GOC_HIDDEN bool goc__ebr_safe(uint64_t e);

#endif
