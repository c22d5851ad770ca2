// tlsf_find_containing_block(), which ESP-IDF v5.5's multi_heap.c calls and
// tlsf gained after the commit ESP-IDF v5.4 pins. Force-included into
// multi_heap.c only when the tlsf checkout lacks it (esp_idf.mk says which).
#pragma once

void *tlsf_find_containing_block(void *pool, void *ptr);
