// mbedTLS's calloc and free on the virtual board, standing in for ESP-IDF's
// mbedtls port (port/esp_mem.c): ESP-IDF's heap as the firmware's sdkconfig
// chooses (../mbedtls/mbedtls_sdkconfig.h, HEAPTRACK_MBEDTLS_CAPS), in the
// calling task, so that ESP-IDF charges a TLS session's blocks to the task
// that opened it.
#include "esp_heap_caps.h"
#include "host_shim.h"
#include "../mbedtls/mbedtls_sdkconfig.h"

void *heaptrack_mbedtls_calloc(size_t count, size_t size) {
    #if HEAPTRACK_MBEDTLS_CAPS == 0
    return host_chip_calloc(count, size);
    #else
    return heap_caps_calloc(count, size, HEAPTRACK_MBEDTLS_CAPS);
    #endif
}

void heaptrack_mbedtls_free(void *ptr) {
    heap_caps_free(ptr);
}
