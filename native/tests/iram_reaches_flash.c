// What an IRAM function must not do, for `make check-idf` to see
// mk/check_placement.py fail (mk/check-idf.mk, placement-selftest): with the
// flash cache disabled, each of these reaches flash. Compiled for ESP32_C2,
// whose configuration (MicroPython's sdkconfig.free_ram) puts FreeRTOS's
// task functions in flash.
#include <stddef.h>
#include <string.h>

#include "esp_attr.h"
#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

size_t iram_reaches_flash(const char *s);
size_t flash_helper(const char *s);

// In flash: a plain function.
size_t __attribute__((noinline)) flash_helper(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

size_t IRAM_ATTR iram_reaches_flash(const char *s) {
    multi_heap_info_t info;
    heap_caps_get_info(&info, MALLOC_CAP_8BIT);          // ESP-IDF's, not one heaptrack may call
    const char *name = pcTaskGetName(NULL);               // ESP-IDF's, in flash on this board
    static const char flash_text[] = "in flash";          // .rodata, in flash
    return flash_helper(s) + info.total_free_bytes + (size_t)flash_text[s[0] & 7] + strlen(name);
}
