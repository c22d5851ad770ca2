// The ESP-IDF API over upstream FreeRTOS-Kernel on the QEMU board: what
// ESP-IDF's FreeRTOS adds to the kernel and ESP-IDF's heap, heaptrack and the
// tests call (declared in include/freertos/), and the hooks upstream's RISC-V
// port asks of an application. Each function says which ESP-IDF facility it
// stands for. Deletion is upstream's: a task that deletes itself is freed by
// the idle task (prvCheckTasksWaitingTermination), another task's TCB and
// stack are freed by the deleting task, as in ESP-IDF's FreeRTOS.

#include <stdio.h>
#include <stdlib.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"

#include "qemu_board.h"

// The caps ESP-IDF's FreeRTOS allocates with (components/freertos/heap_idf.c:
// pvPortMalloc is heap_caps_malloc for internal, byte-addressable memory).
#define KERNEL_CAPS (MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT)

/******************************************************************************/
// portMUX: critical sections that mask interrupts.

// The machine interrupt enable bit of mstatus.
#define MSTATUS_MIE 0x8u

static inline uint32_t mstatus_read(void) {
    uint32_t value;
    __asm__ volatile ("csrr %0, mstatus" : "=r"(value));
    return value;
}

void vPortMuxInitialize(portMUX_TYPE *mux) {
    mux->owner = portMUX_FREE_VAL;
    mux->count = 0;
}

// ESP-IDF's vPortEnterCritical(mux) on a single core: interrupts masked on the
// core (upstream's critical section, nesting counted), then the spinlock
// taken by this core. In an interrupt handler the port has masked interrupts
// already and a task's nesting count is not the handler's to change: only the
// spinlock is taken (ESP-IDF's portENTER_CRITICAL_ISR).
void vPortEnterCriticalMux(portMUX_TYPE *mux) {
    if (!xPortInIsrContext()) {
        portDISABLE_INTERRUPTS();
        xCriticalNesting++;
    }
    if (mux->owner == 0 && mux->count == 0) {
        // Zeroed memory is not a free spinlock on the chip either (it spins for ever there).
        // Owner 0 with a count is core 0 holding it: ESP-IDF's spinlocks are
        // recursive, and the hooks tracker takes its own again inside the heap
        // calls it makes in its critical section.
        qemu_board_fail("portENTER_CRITICAL on a portMUX never initialised (portMUX_INITIALIZE)");
    }
    mux->owner = (uint32_t)xPortGetCoreID();
    mux->count += 1;
}

void vPortExitCriticalMux(portMUX_TYPE *mux) {
    if (mux->count == 0 || mux->owner != (uint32_t)xPortGetCoreID()) {
        // ESP-IDF asserts the same (spinlock_release: the caller must hold it).
        qemu_board_fail("portEXIT_CRITICAL on a portMUX this core does not hold");
    }
    mux->count -= 1;
    if (mux->count == 0) {
        mux->owner = portMUX_FREE_VAL;
    }
    if (!xPortInIsrContext()) {
        xCriticalNesting--;
        if (xCriticalNesting == 0) {
            portENABLE_INTERRUPTS();
        }
    }
}

// Upstream's port runs every trap handler on its own stack (xISRStackTop down,
// configISR_STACK_SIZE_WORDS words): code is in an interrupt handler exactly
// when it runs there. (ESP-IDF's port keeps a nesting count instead.)
BaseType_t xPortInIsrContext(void) {
    extern const StackType_t xISRStackTop;
    uintptr_t sp;
    __asm__ volatile ("mv %0, sp" : "=r"(sp));
    uintptr_t top = (uintptr_t)xISRStackTop;
    return sp <= top && sp > top - configISR_STACK_SIZE_WORDS * sizeof(StackType_t);
}

// ESP-IDF's RISC-V port: a task may block unless interrupts are masked (a
// critical section, an interrupt handler, before the scheduler runs).
bool xPortCanYield(void) {
    return (mstatus_read() & MSTATUS_MIE) != 0;
}

/******************************************************************************/
// Tasks and their memory.

void *pvPortMalloc(size_t size) {
    return heap_caps_malloc(size, KERNEL_CAPS);
}

void vPortFree(void *p) {
    heap_caps_free(p);
}

#undef xTaskCreate   // upstream's, which takes words

BaseType_t xTaskCreatePinnedToCore(TaskFunction_t code, const char *name, uint32_t stack_depth,
    void *parameters, UBaseType_t priority, TaskHandle_t *created, BaseType_t core_id) {
    if (core_id != 0 && core_id != tskNO_AFFINITY) {
        return pdFAIL;   // ESP-IDF asserts on a core the chip has not
    }
    // ESP-IDF's stack depth is in bytes; upstream's in words of StackType_t.
    configSTACK_DEPTH_TYPE words = (configSTACK_DEPTH_TYPE)((stack_depth + sizeof(StackType_t) - 1) / sizeof(StackType_t));
    return xTaskCreate(code, name, words, parameters, priority, created);
}

// ESP-IDF's pxTaskGetStackStart (idf_additions.h): the lowest address of the
// task's stack, which upstream reports as TaskStatus_t's pxStackBase.
uint8_t *pxTaskGetStackStart(TaskHandle_t task) {
    TaskStatus_t status;
    vTaskGetInfo(task, &status, pdFALSE, eInvalid);
    return (uint8_t *)status.pxStackBase;
}

// The idle task's stack and TCB (the kernel creates it statically, as
// configSUPPORT_STATIC_ALLOCATION asks): from ESP-IDF's heap, stack first, as
// ESP-IDF's port (components/freertos/port_common.c) takes them.
void vApplicationGetIdleTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *depth) {
    *stack = pvPortMalloc(configMINIMAL_STACK_SIZE * sizeof(StackType_t));
    *tcb = pvPortMalloc(sizeof(StaticTask_t));
    if (*stack == NULL || *tcb == NULL) {
        qemu_board_fail("no heap for the idle task");
    }
    *depth = configMINIMAL_STACK_SIZE;
}

/******************************************************************************/
// Interrupts and faults.

static void (*volatile s_tick_hook)(void);
static void (*volatile s_software_interrupt)(void);

void qemu_board_set_tick_hook(void (*hook)(void)) {
    s_tick_hook = hook;
}

// The CLINT's machine software interrupt pending bit of hart 0.
#define CLINT_MSIP ((volatile uint32_t *)0x02000000u)
#define MIE_MSIE 0x8u
#define MCAUSE_MACHINE_SOFTWARE 0x80000003u

void qemu_board_set_software_interrupt(void (*handler)(void)) {
    s_software_interrupt = handler;
    __asm__ volatile ("csrs mie, %0" :: "r"(MIE_MSIE));
}

void qemu_board_raise_software_interrupt(void) {
    *CLINT_MSIP = 1;
    __asm__ volatile ("fence" ::: "memory");
}

// Runs in the tick interrupt, on the ISR stack (xTaskIncrementTick).
void vApplicationTickHook(void) {
    void (*hook)(void) = s_tick_hook;
    if (hook != NULL) {
        hook();
    }
}

// QEMU virt's platform-level interrupt controller (hw/riscv/virt.c): a
// SiFive PLIC, hart 0's machine-mode context 0.
#define PLIC_BASE 0x0C000000u
#define PLIC_PRIORITY(irq) ((volatile uint32_t *)(PLIC_BASE + 4 * (irq)))
#define PLIC_ENABLE(irq) ((volatile uint32_t *)(PLIC_BASE + 0x2000 + 4 * ((irq) / 32)))
#define PLIC_THRESHOLD ((volatile uint32_t *)(PLIC_BASE + 0x200000))
#define PLIC_CLAIM ((volatile uint32_t *)(PLIC_BASE + 0x200004))
#define PLIC_SOURCES 96
#define MIE_MEIE 0x800u
#define MCAUSE_MACHINE_EXTERNAL 0x8000000Bu

static void (*volatile s_external[PLIC_SOURCES])(void);

void qemu_board_set_external_interrupt(unsigned irq, void (*handler)(void)) {
    if (irq == 0 || irq >= PLIC_SOURCES) {
        qemu_board_fail("no such PLIC interrupt source");
    }
    s_external[irq] = handler;
    *PLIC_PRIORITY(irq) = 1;
    *PLIC_ENABLE(irq) |= 1u << (irq % 32);
    *PLIC_THRESHOLD = 0;
    __asm__ volatile ("csrs mie, %0" :: "r"(MIE_MEIE));
}

// Every source that is pending, claimed, handled and completed in turn.
static void external_interrupt(void) {
    uint32_t irq;
    while ((irq = *PLIC_CLAIM) != 0) {
        void (*handler)(void) = irq < PLIC_SOURCES ? s_external[irq] : NULL;
        if (handler == NULL) {
            qemu_board_fail("an external interrupt nobody handles");
        }
        handler();
        *PLIC_CLAIM = irq;
    }
}

// Upstream's port calls this for every interrupt but its timer's.
void freertos_risc_v_application_interrupt_handler(uint32_t mcause) {
    if (mcause == MCAUSE_MACHINE_EXTERNAL) {
        external_interrupt();
        return;
    }
    if (mcause == MCAUSE_MACHINE_SOFTWARE) {
        *CLINT_MSIP = 0;
        void (*handler)(void) = s_software_interrupt;
        if (handler != NULL) {
            handler();
        }
        return;
    }
    char what[64];
    snprintf(what, sizeof(what), "unexpected interrupt, mcause 0x%08lx", (unsigned long)mcause);
    qemu_board_fail(what);
}

void freertos_risc_v_application_exception_handler(uint32_t mcause) {
    uint32_t mepc, mtval;
    __asm__ volatile ("csrr %0, mepc" : "=r"(mepc));
    __asm__ volatile ("csrr %0, mtval" : "=r"(mtval));
    char what[96];
    snprintf(what, sizeof(what), "CPU exception: mcause %lu at 0x%08lx, mtval 0x%08lx", (unsigned long)mcause,
        (unsigned long)mepc, (unsigned long)mtval);
    qemu_board_fail(what);
}

void vApplicationStackOverflowHook(TaskHandle_t task, char *name) {
    (void)task;
    char what[64];
    snprintf(what, sizeof(what), "stack overflow in task %s", name);
    qemu_board_fail(what);
}

void qemu_freertos_assert(const char *file, int line) {
    char what[160];
    snprintf(what, sizeof(what), "FreeRTOS assertion failed at %s:%d", file, line);
    qemu_board_fail(what);
}
