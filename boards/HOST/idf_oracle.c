// _idf_oracle: ESP-IDF's own heap task tracking, next to heaptrack's module, in
// the differential firmware only (make HEAPTRACK_TRACKER=diff, which defines
// HEAPTRACK_IDF_ORACLE). There heaptrack reports through its hooks tracker
// while ESP-IDF's task tracking records the same allocations, and this module
// returns what ESP-IDF's own code says, as strings:
//
//   _idf_oracle.overview(task=None)  heap_caps_print_all_task_stat_overview, or
//                                    heap_caps_print_single_task_stat_overview(task)
//   _idf_oracle.details(task=None)   heap_caps_print_all_task_stat, or
//                                    heap_caps_print_single_task_stat(task)
//   _idf_oracle.stats()              heap_caps_get_all_task_stat, one line per
//                                    record (boards/HOST/esp_idf/oracle.c)
//
// host_tests/test_tracker_diff.py compares them with heaptrack's reports.
#if HEAPTRACK_IDF_ORACLE

#include <stdlib.h>

#include "py/runtime.h"

#include "host_shim.h"

static mp_obj_t oracle_text(int what, uintptr_t task) {
    size_t length = 0;
    char *text = host_oracle_text(what, task, &length);
    if (text == NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("ESP-IDF's printout could not be captured"));
    }
    mp_obj_t s = mp_obj_new_str(text, length);
    free(text);
    return s;
}

static mp_obj_t oracle_overview(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0 || args[0] == mp_const_none) {
        return oracle_text(HOST_ORACLE_OVERVIEW, 0);
    }
    return oracle_text(HOST_ORACLE_OVERVIEW_ONE, (uintptr_t)mp_obj_get_int_truncated(args[0]));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(oracle_overview_obj, 0, 1, oracle_overview);

static mp_obj_t oracle_details(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0 || args[0] == mp_const_none) {
        return oracle_text(HOST_ORACLE_DETAILS, 0);
    }
    return oracle_text(HOST_ORACLE_DETAILS_ONE, (uintptr_t)mp_obj_get_int_truncated(args[0]));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(oracle_details_obj, 0, 1, oracle_details);

static mp_obj_t oracle_stats(void) {
    return oracle_text(HOST_ORACLE_STATS, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_0(oracle_stats_obj, oracle_stats);

static const mp_rom_map_elem_t oracle_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__idf_oracle) },
    { MP_ROM_QSTR(MP_QSTR_overview), MP_ROM_PTR(&oracle_overview_obj) },
    { MP_ROM_QSTR(MP_QSTR_details), MP_ROM_PTR(&oracle_details_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&oracle_stats_obj) },
};
static MP_DEFINE_CONST_DICT(oracle_globals, oracle_globals_table);

const mp_obj_module_t idf_oracle_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&oracle_globals,
};

MP_REGISTER_MODULE(MP_QSTR__idf_oracle, idf_oracle_module);

#endif // HEAPTRACK_IDF_ORACLE
