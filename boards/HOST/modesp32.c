// The esp32 module's heap and task functions on the virtual board: the same
// names, signatures and tuples as MicroPython's esp32 port
// (ports/esp32/modesp32.c), so a script written for a board runs unchanged.
// Only on the virtual board: a board's firmware has the port's own module.
//
//   esp32.idf_heap_info(caps) -> [(total, free, largest_free, minimum_free), ...]
//       one tuple per ESP-IDF heap that has every bit of caps, in ESP-IDF's
//       order, as the port reads them: heap_caps_match() and
//       multi_heap_get_info(), unadjusted (heaptrack.heap_info() shows what
//       heap_caps_malloc can hand out: 4 bytes fewer with task tracking, each
//       block's owner word, as heap_caps_get_info() counts).
//   esp32.HEAP_DATA, esp32.HEAP_EXEC: MALLOC_CAP_8BIT, MALLOC_CAP_EXEC.
//   esp32.idf_task_info() -> (None, [(handle, name, state, priority, None, None, None), ...])
//       FreeRTOS's uxTaskGetSystemState as the port returns it with
//       CONFIG_FREERTOS_USE_TRACE_FACILITY (boards/sdkconfig.heaptrack) and
//       no run-time statistics or core ids: every live task of the host's
//       FreeRTOS (boards/HOST/esp_idf/freertos.c), oldest first. The stack
//       high-water mark is None: a host thread runs on a host stack, not on
//       the stack block its task holds in ESP-IDF's heap.

#include "py/runtime.h"

#include "host_shim.h"
#include "tracker.h"

// Enough for every ESP32 chip's heaps, and for the tasks of any test.
#define ESP32_MAX_HEAPS (16)
#define ESP32_MAX_TASKS (256)

static mp_obj_t esp32_idf_heap_info(mp_obj_t caps_in) {
    uint32_t caps = (uint32_t)mp_obj_get_int(caps_in);
    host_heap_t heaps[ESP32_MAX_HEAPS];
    size_t heap_count = MIN(host_heaps_with_caps(caps, heaps, ESP32_MAX_HEAPS), ESP32_MAX_HEAPS);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < heap_count; i++) {
        const host_heap_t *h = &heaps[i];
        mp_obj_t items[] = {
            MP_OBJ_NEW_SMALL_INT(h->total),
            MP_OBJ_NEW_SMALL_INT(h->free),
            MP_OBJ_NEW_SMALL_INT(h->largest_free),
            MP_OBJ_NEW_SMALL_INT(h->minimum_free),
        };
        mp_obj_list_append(list, mp_obj_new_tuple(MP_ARRAY_SIZE(items), items));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(esp32_idf_heap_info_obj, esp32_idf_heap_info);

static mp_obj_t esp32_idf_task_info(void) {
    host_task_info_t *tasks = m_new(host_task_info_t, ESP32_MAX_TASKS);
    size_t count = host_task_info(tasks, ESP32_MAX_TASKS);
    if (count > ESP32_MAX_TASKS) {
        m_del(host_task_info_t, tasks, ESP32_MAX_TASKS);
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("more tasks than idf_task_info can list"));
    }
    mp_obj_list_t *list = MP_OBJ_TO_PTR(mp_obj_new_list(count, NULL));
    for (size_t i = 0; i < count; i++) {
        mp_obj_t items[] = {
            mp_obj_new_int_from_uint(tasks[i].handle),
            mp_obj_new_str_from_cstr(tasks[i].name),
            MP_OBJ_NEW_SMALL_INT(tasks[i].state),
            MP_OBJ_NEW_SMALL_INT(tasks[i].priority),
            mp_const_none,   // run time: no CONFIG_FREERTOS_GENERATE_RUN_TIME_STATS
            mp_const_none,   // stack high-water mark: see above
            mp_const_none,   // core: no CONFIG_FREERTOS_VTASKLIST_INCLUDE_COREID
        };
        list->items[i] = mp_obj_new_tuple(MP_ARRAY_SIZE(items), items);
    }
    m_del(host_task_info_t, tasks, ESP32_MAX_TASKS);
    mp_obj_t result[] = { mp_const_none, MP_OBJ_FROM_PTR(list) };
    return mp_obj_new_tuple(2, result);
}
static MP_DEFINE_CONST_FUN_OBJ_0(esp32_idf_task_info_obj, esp32_idf_task_info);

static const mp_rom_map_elem_t esp32_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_esp32) },
    { MP_ROM_QSTR(MP_QSTR_idf_heap_info), MP_ROM_PTR(&esp32_idf_heap_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_idf_task_info), MP_ROM_PTR(&esp32_idf_task_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_HEAP_DATA), MP_ROM_INT(HT_CAP_8BIT) },
    { MP_ROM_QSTR(MP_QSTR_HEAP_EXEC), MP_ROM_INT(HT_CAP_EXEC) },
};
static MP_DEFINE_CONST_DICT(esp32_module_globals, esp32_module_globals_table);

const mp_obj_module_t esp32_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&esp32_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_esp32, esp32_module);
