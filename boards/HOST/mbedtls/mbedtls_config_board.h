// The virtual board's mbedTLS configuration (MBEDTLS_CONFIG_FILE): what
// MicroPython's unix port builds its ssl module with (the modules and
// protocols, extmod/mbedtls/mbedtls_config_common.h and the port's CTR mode and
// timing), then, from the firmware's sdkconfig, what a TLS session allocates
// on the chip and where (mbedtls_sdkconfig.h): its buffers come from ESP-IDF's
// heap, in the task that opens the connection, as on the chip.
#ifndef HEAPTRACK_MBEDTLS_CONFIG_BOARD_H
#define HEAPTRACK_MBEDTLS_CONFIG_BOARD_H

#define MBEDTLS_CIPHER_MODE_CTR // MICROPY_PY_CRYPTOLIB_CTR
#define MBEDTLS_TIMING_C

#include "extmod/mbedtls/mbedtls_config_common.h"

// The chip's content lengths replace MicroPython's.
#undef MBEDTLS_SSL_MAX_CONTENT_LEN
#undef MBEDTLS_SSL_IN_CONTENT_LEN
#undef MBEDTLS_SSL_OUT_CONTENT_LEN
#include "mbedtls_sdkconfig.h"

#endif // HEAPTRACK_MBEDTLS_CONFIG_BOARD_H
