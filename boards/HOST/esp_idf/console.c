// The chip's console: where ESP-IDF's log and ROM printf write. On a board
// that is a UART, apart from a native-USB REPL; here it is stderr, or the file
// named by HEAPTRACK_IDF_CONSOLE (the virtual board keeps it beside its log,
// so ESP-IDF's boot messages do not mix with the REPL). Timestamps are
// milliseconds since start-up, as esp_log_timestamp() gives them.

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "esp_log.h"
#include "esp_rom_sys.h"

esp_log_level_t esp_log_default_level = CONFIG_LOG_DEFAULT_LEVEL;

static FILE *s_console;
static pthread_once_t s_console_once = PTHREAD_ONCE_INIT;
static struct timespec s_boot;

static void console_open(void) {
    clock_gettime(CLOCK_MONOTONIC, &s_boot);
    const char *path = getenv("HEAPTRACK_IDF_CONSOLE");
    s_console = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;
    if (s_console == NULL) {
        s_console = stderr;
    } else {
        setvbuf(s_console, NULL, _IOLBF, 0);
    }
}

static FILE *console(void) {
    pthread_once(&s_console_once, console_open);
    return s_console;
}

uint32_t esp_log_timestamp(void) {
    FILE *out = console();
    (void)out;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((now.tv_sec - s_boot.tv_sec) * 1000 + (now.tv_nsec - s_boot.tv_nsec) / 1000000);
}

static int console_vprintf(const char *format, va_list args) {
    return vfprintf(console(), format, args);
}

// As on a board, every log line goes through one vprintf-like function that
// esp_log_set_vprintf() replaces (esp_log_write.h): code that watches the log,
// as heaptrack's ESP-IDF tracker does, sees the same calls here.
static vprintf_like_t s_log_vprintf = console_vprintf;

vprintf_like_t esp_log_set_vprintf(vprintf_like_t func) {
    return __atomic_exchange_n(&s_log_vprintf, func, __ATOMIC_ACQ_REL);
}

void esp_log_va(esp_log_config_t config, const char *tag, const char *format, va_list args) {
    (void)tag;
    if (config.opts.log_level > esp_log_default_level) {
        return;
    }
    __atomic_load_n(&s_log_vprintf, __ATOMIC_ACQUIRE)(format, args);
}

void esp_log(esp_log_config_t config, const char *tag, const char *format, ...) {
    va_list args;
    va_start(args, format);
    esp_log_va(config, tag, format, args);
    va_end(args);
}

int esp_rom_printf(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vfprintf(console(), fmt, args);
    va_end(args);
    return n;
}
