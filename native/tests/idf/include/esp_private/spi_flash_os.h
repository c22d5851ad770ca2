// spi_flash's esp_private/spi_flash_os.h: test_malloc_caps.c includes it for a
// test that runs with the flash cache disabled, which this configuration
// compiles out (CONFIG_ESP_SYSTEM_MEMPROT_FEATURE, CONFIG_HEAP_TASK_TRACKING).
#pragma once
