#ifndef CALSYNC_CHIREDIS_SHIM_H
#define CALSYNC_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
