// machine.unique_id() on the virtual board, as the esp32 port answers it: the
// chip's factory MAC address from its eFuses (esp_efuse_mac_get_default), 6
// bytes. The virtual board names one per board in $HEAPTRACK_UNIQUE_ID (12
// hex digits; heaptrack_host/vboard: from its flash directory, so it stays the
// same from one start to the next and two boards differ); without one, a
// fixed locally administered address (bit 1 of the first byte), which no chip
// has from the factory.
#include <stdlib.h>
#include <string.h>

#include "py/runtime.h"

#define UNIQUE_ID_ENV "HEAPTRACK_UNIQUE_ID"

static const uint8_t default_unique_id[6] = { 0x02, 0x68, 0x74, 0x00, 0x00, 0x01 };

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// The id in $HEAPTRACK_UNIQUE_ID into id; false when it is not 12 hex digits.
static bool unique_id_from_env(uint8_t id[6]) {
    const char *text = getenv(UNIQUE_ID_ENV);
    if (text == NULL) {
        return false;
    }
    for (size_t i = 0; i < 6; i++) {
        int high = hex_digit(text[2 * i]);
        int low = high < 0 ? -1 : hex_digit(text[2 * i + 1]);
        if (low < 0) {
            return false;
        }
        id[i] = (uint8_t)(high << 4 | low);
    }
    return text[12] == '\0';
}

static mp_obj_t host_machine_unique_id(void) {
    uint8_t id[6];
    if (!unique_id_from_env(id)) {
        memcpy(id, default_unique_id, sizeof(id));
    }
    return mp_obj_new_bytes(id, sizeof(id));
}
MP_DEFINE_CONST_FUN_OBJ_0(host_machine_unique_id_obj, host_machine_unique_id);
