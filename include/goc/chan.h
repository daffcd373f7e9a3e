/* goc chan: see docs/api.md. */
#ifndef GOC_CHAN_H
#define GOC_CHAN_H
#include <goc/runtime.h>
#endif
