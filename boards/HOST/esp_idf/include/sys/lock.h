// newlib's <sys/lock.h>, which glibc lacks: heap_caps_init.c includes it but
// uses nothing from it (its locks are portMUX spinlocks).
#pragma once
