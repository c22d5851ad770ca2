#include "py/mperrno.h"
#include "py/objint.h"
#include "py/objstr.h"

#include "errors.h"

// The one place a tracker's code becomes an exception: the type says what the
// caller can do about it, the tracker's sentence says why.
MP_NORETURN void tracker_raise(ht_err_t err) {
    const mp_obj_type_t *type = &mp_type_RuntimeError;
    switch (err) {
        case HT_ERR_NO_MEM:
        case HT_ERR_FULL:
            type = &mp_type_MemoryError;
            break;
        case HT_ERR_BUSY: {
            // Not MemoryError: nothing ran out, the same call will work. An
            // OSError with errno EAGAIN, which MicroPython's own code raises
            // for "try again", with the tracker's sentence saying so too.
            mp_obj_t args[] = {
                MP_OBJ_NEW_SMALL_INT(MP_EAGAIN),
                mp_obj_new_str_from_cstr(ht_err_text(err)),
            };
            nlr_raise(mp_obj_new_exception_args(&mp_type_OSError, MP_ARRAY_SIZE(args), args));
        }
        case HT_ERR_NO_TASK:
        case HT_ERR_NO_BLOCK:
            type = &mp_type_ValueError;
            break;
        case HT_OK:   // (a caller's bug: still an exception, never a return)
        case HT_ERR_CONTEXT:
        case HT_ERR_UNSUPPORTED:
        case HT_ERR_INCONSISTENT:
            break;
    }
    mp_raise_msg_varg(type, MP_ERROR_TEXT("%s"), ht_err_text(err));
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
