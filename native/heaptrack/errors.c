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
