// The mbedTLS options that decide what a TLS session allocates, and where, as
// heaptrack's ESP32 firmware has them: ESP-IDF's mbedtls component sets each
// from its CONFIG_MBEDTLS_ option in port/include/mbedtls/esp_config.h, and
// this file takes the same options from the same sdkconfig.h (the virtual
// board's, whose values make check-idf compares with kconfgen's, as it
// compares the macros this file gives with each: mk/check_host_config.py).
//
// Which options: the record buffers' content lengths, what is kept after a
// handshake (the peer's certificate, a session ticket), what a handshake
// computes with (the ECP comb table), and the allocator. Not modelled, and
// stopped here: ESP-IDF's dynamic buffers and its custom allocators.
#ifndef HEAPTRACK_MBEDTLS_SDKCONFIG_H
#define HEAPTRACK_MBEDTLS_SDKCONFIG_H

#include "sdkconfig.h"

// The two record buffers mbedtls_ssl_setup() allocates.
#if CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN
#define MBEDTLS_SSL_IN_CONTENT_LEN CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN
#else
#define MBEDTLS_SSL_MAX_CONTENT_LEN CONFIG_MBEDTLS_SSL_MAX_CONTENT_LEN
#endif
#if CONFIG_MBEDTLS_DYNAMIC_BUFFER
#error "CONFIG_MBEDTLS_DYNAMIC_BUFFER: ESP-IDF's own record buffer management is not on the virtual board"
#endif
#if CONFIG_MBEDTLS_SSL_DTLS_CONNECTION_ID
#define MBEDTLS_SSL_DTLS_CONNECTION_ID
#endif

// Kept for the session's life.
#if CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#endif
#if CONFIG_MBEDTLS_CLIENT_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_SESSION_TICKETS
#endif
#if CONFIG_MBEDTLS_SERVER_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
#endif
#if CONFIG_MBEDTLS_SSL_RENEGOTIATION
#define MBEDTLS_SSL_RENEGOTIATION
#endif
#if CONFIG_MBEDTLS_TLS_ENABLED
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#endif
// esp_config.h sets it whatever the sdkconfig says.
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH

// The handshake's elliptic-curve arithmetic: a comb table per curve or none.
#if CONFIG_MBEDTLS_ECP_FIXED_POINT_OPTIM
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 1
#else
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#endif

// The allocator (ESP-IDF's port/esp_mem.c): the C library's calloc, which is
// ESP-IDF's heap_caps_malloc_default() (DEFAULT), or ESP-IDF's heap with
// caps. HEAPTRACK_MBEDTLS_CAPS 0: the C library's.
#if CONFIG_MBEDTLS_DEFAULT_MEM_ALLOC
#define HEAPTRACK_MBEDTLS_CAPS 0
#elif CONFIG_MBEDTLS_INTERNAL_MEM_ALLOC
#define HEAPTRACK_MBEDTLS_CAPS (MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT)
#elif CONFIG_MBEDTLS_EXTERNAL_MEM_ALLOC
#define HEAPTRACK_MBEDTLS_CAPS (MALLOC_CAP_SPIRAM | MALLOC_CAP_8BIT)
#else
#error "this mbedTLS allocator (IRAM_8BIT or custom) is not on the virtual board"
#endif
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_STD_CALLOC heaptrack_mbedtls_calloc
#define MBEDTLS_PLATFORM_STD_FREE heaptrack_mbedtls_free

#include <stddef.h>
void *heaptrack_mbedtls_calloc(size_t count, size_t size);
void heaptrack_mbedtls_free(void *ptr);

#endif // HEAPTRACK_MBEDTLS_SDKCONFIG_H
