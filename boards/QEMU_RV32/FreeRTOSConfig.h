// FreeRTOS-Kernel's configuration on the QEMU board: upstream's RISC-V port on
// QEMU's `virt` machine (one hart, its CLINT's machine timer for the tick), set
// as ESP-IDF's FreeRTOS is on the ESP32-C3 where the two have the same option:
// preemption with time slicing, the tick rate, task name length, 25
// priorities, mutexes with priority inheritance, task notifications, the trace
// facility (uxTaskGetSystemState). What ESP-IDF adds (portMUX, stacks in bytes,
// pinned tasks, xPortInIsrContext) is the layer in include/freertos/ and
// idf_freertos.c.
#pragma once

#include "sdkconfig.h"

#define configUSE_PREEMPTION 1
#define configUSE_TIME_SLICING 1
#define configUSE_PORT_OPTIMISED_TASK_SELECTION 1
#define configNUMBER_OF_CORES 1
// QEMU's virt: the CLINT's mtime runs at 10 MHz (RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ);
// the port derives the tick's compare step from this.
#define configCPU_CLOCK_HZ 10000000
#define configMTIME_BASE_ADDRESS 0x0200BFF8
#define configMTIMECMP_BASE_ADDRESS 0x02004000
#define configTICK_RATE_HZ CONFIG_FREERTOS_HZ
#define configTICK_TYPE_WIDTH_IN_BITS TICK_TYPE_WIDTH_32_BITS
#define configMAX_PRIORITIES 25
#define configMAX_TASK_NAME_LEN CONFIG_FREERTOS_MAX_TASK_NAME_LEN
// In words of the port's StackType_t (4 bytes): ESP-IDF's idle task's 1536
// bytes (CONFIG_FREERTOS_IDLE_TASK_STACKSIZE).
#define configMINIMAL_STACK_SIZE (1536 / 4)
// The stack interrupt handlers run on (the port switches to it on every trap);
// xPortInIsrContext() tells an interrupt handler by it.
#define configISR_STACK_SIZE_WORDS 1024

#define configSUPPORT_DYNAMIC_ALLOCATION 1
#define configSUPPORT_STATIC_ALLOCATION 1
// Every dynamic allocation of the kernel goes to ESP-IDF's heap
// (pvPortMalloc in idf_freertos.c), as ESP-IDF's heap_idf.c does.
#define configAPPLICATION_ALLOCATED_HEAP 0
#define configTOTAL_HEAP_SIZE 0

#define configUSE_MUTEXES 1
#define configUSE_RECURSIVE_MUTEXES 1
#define configUSE_COUNTING_SEMAPHORES 1
#define configUSE_TASK_NOTIFICATIONS 1
#define configUSE_TRACE_FACILITY 1
#define configUSE_TIMERS 0
#define configUSE_IDLE_HOOK 0
// The tick interrupt calls the board's hook (idf_freertos.c): the tests run
// code in a real interrupt handler through it.
#define configUSE_TICK_HOOK 1
#define configUSE_MALLOC_FAILED_HOOK 0
#define configCHECK_FOR_STACK_OVERFLOW 2
#define configQUEUE_REGISTRY_SIZE 0
#define configUSE_NEWLIB_REENTRANT 0
// Slot 0 is ESP-IDF's pthread layer's, 1 MicroPython's esp32 port's (its
// thread state), 2 heaptrack's safe teardown's (native/heaptrack/idf_teardown.c).
// No deletion callbacks: upstream's kernel has none.
#define configNUM_THREAD_LOCAL_STORAGE_POINTERS 3

#define INCLUDE_vTaskDelete 1
#define INCLUDE_vTaskSuspend 1
#define INCLUDE_vTaskDelay 1
#define INCLUDE_vTaskPrioritySet 1
#define INCLUDE_uxTaskPriorityGet 1
#define INCLUDE_xTaskGetCurrentTaskHandle 1
#define INCLUDE_xTaskGetIdleTaskHandle 1
#define INCLUDE_xTaskGetSchedulerState 1
#define INCLUDE_xSemaphoreGetMutexHolder 1
#define INCLUDE_eTaskGetState 1
#define INCLUDE_uxTaskGetStackHighWaterMark 1

// A failed kernel assertion stops the run, naming where (idf_freertos.c).
void qemu_freertos_assert(const char *file, int line);
#define configASSERT(x) do { if (!(x)) { qemu_freertos_assert(__FILE__, __LINE__); } } while (0)
