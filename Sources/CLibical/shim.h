#ifndef CALSYNC_CLIBICAL_SHIM_H
#define CALSYNC_CLIBICAL_SHIM_H
#include <libical/ical.h>

/// libical's error state of this thread (`icalerrno` is a macro Swift cannot import).
static inline icalerrorenum calsync_ical_errno(void) { return icalerrno; }
#endif
