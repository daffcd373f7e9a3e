/* goc context: see docs/api.md. */
#ifndef GOC_CONTEXT_H
#define GOC_CONTEXT_H
#include <goc/runtime.h>
#endif
