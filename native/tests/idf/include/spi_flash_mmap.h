// spi_flash's spi_flash_mmap.h, which ESP-IDF's heap tests include
// (test_malloc_caps.c, test_aligned_alloc_caps.c) without using it in this
// configuration. The host has no SPI flash; the spi_flash component is not
// part of the host's ESP-IDF checkout.
#pragma once
