#include "py/objint.h"

#include "errors.h"

MP_NORETURN void tracker_raise(ht_err_t err) {
    switch (err) {
        case HT_ERR_NO_MEM:
            mp_raise_msg_varg(&mp_type_MemoryError,
                MP_ERROR_TEXT("no memory for a snapshot of the statistics: %s"), ht_error_detail());
        case HT_ERR_NOT_FOUND:
            mp_raise_ValueError(MP_ERROR_TEXT("unknown task (tasks are tracked from their first allocation)"));
        default:
            mp_raise_msg_varg(&mp_type_RuntimeError, MP_ERROR_TEXT("%s"), ht_error_detail());
    }
}

bool arg_word(mp_obj_t arg, mp_uint_t *out) {
    if (mp_obj_int_sign(arg) < 0) {
        return false;
    }
    if (mp_obj_is_small_int(arg)) {
        *out = MP_OBJ_SMALL_INT_VALUE(arg);
        return true;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        *out = mp_obj_int_get_uint_checked(arg);
        nlr_pop();
        return true;
    }
    return false;
}

mp_uint_t arg_word_or_raise(mp_obj_t arg, qstr what) {
    if (!mp_obj_is_int(arg)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%q must be an int"), what);
    }
    mp_uint_t value;
    if (!arg_word(arg, &value)) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must be >= 0 and fit a machine word"), what);
    }
    return value;
}

void check_printable(const char *name, size_t len, const char *what) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) {
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("%s has a control character (0x%02x): it would break reports"), what, c);
        }
    }
}
