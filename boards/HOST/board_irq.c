// machine.disable_irq() / machine.enable_irq() on the virtual board, as the
// esp32 port has them: MicroPython's atomic section is a FreeRTOS critical
// section (portENTER_CRITICAL on one spinlock), in which a task must not
// block, so code run between the two meets the same rules as on the chip
// (heaptrack refuses to touch ESP-IDF's heap there). The unix port has no
// interrupts to mask; upstream's own disable_irq is off in this variant.
#include "py/runtime.h"

#include "host_shim.h"

static mp_obj_t host_machine_disable_irq(void) {
    host_atomic_section_enter();
    return mp_obj_new_int(0);
}
MP_DEFINE_CONST_FUN_OBJ_0(host_machine_disable_irq_obj, host_machine_disable_irq);

static mp_obj_t host_machine_enable_irq(mp_obj_t state) {
    (void)mp_obj_get_int(state);
    host_atomic_section_exit();
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_1(host_machine_enable_irq_obj, host_machine_enable_irq);
