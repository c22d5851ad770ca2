// py/mpthread.h includes <mpthreadport.h>, which ports/qemu has not: the
// esp32 port's, whose mpthreadport.c the board compiles.
#include "ports/esp32/mpthreadport.h"
