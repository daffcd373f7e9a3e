/* goc time: see docs/api.md. */
#ifndef GOC_TIME_H
#define GOC_TIME_H
#include <goc/runtime.h>
#endif
