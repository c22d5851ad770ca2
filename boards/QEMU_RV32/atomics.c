// The atomic operations GCC calls out of line for the ESP32-C3's ISA (RV32IMC
// has no A extension): what ESP-IDF's C library support provides on that chip
// (components/newlib/src/stdatomic.c), each operation with the hart's
// interrupts masked, which on this one-hart board makes it atomic. (The
// types are those of GCC's built-in declarations.)

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MSTATUS_MIE 0x8u

static inline uint32_t interrupts_mask(void) {
    uint32_t previous;
    __asm__ volatile ("csrrci %0, mstatus, %1" : "=r"(previous) : "i"(MSTATUS_MIE) : "memory");
    return previous;
}

static inline void interrupts_restore(uint32_t previous) {
    __asm__ volatile ("csrs mstatus, %0" :: "r"(previous & MSTATUS_MIE) : "memory");
}

#define ATOMIC_EXCHANGE(n, type) \
    type __atomic_exchange_##n(volatile void *mem, type value, int model); \
    type __atomic_exchange_##n(volatile void *mem, type value, int model) { \
        (void)model; \
        uint32_t state = interrupts_mask(); \
        type old = *(volatile type *)mem; \
        *(volatile type *)mem = value; \
        interrupts_restore(state); \
        return old; \
    }

#define ATOMIC_COMPARE_EXCHANGE(n, type) \
    bool __atomic_compare_exchange_##n(volatile void *mem, void *expected, type desired, bool weak, \
        int success, int failure); \
    bool __atomic_compare_exchange_##n(volatile void *mem, void *expected, type desired, bool weak, \
        int success, int failure) { \
        (void)weak; \
        (void)success; \
        (void)failure; \
        uint32_t state = interrupts_mask(); \
        type current = *(volatile type *)mem; \
        bool same = current == *(type *)expected; \
        if (same) { \
            *(volatile type *)mem = desired; \
        } else { \
            *(type *)expected = current; \
        } \
        interrupts_restore(state); \
        return same; \
    }

#define ATOMIC_FETCH(n, type, name, op) \
    type __atomic_fetch_##name##_##n(volatile void *mem, type value, int model); \
    type __atomic_fetch_##name##_##n(volatile void *mem, type value, int model) { \
        (void)model; \
        uint32_t state = interrupts_mask(); \
        type old = *(volatile type *)mem; \
        *(volatile type *)mem = old op value; \
        interrupts_restore(state); \
        return old; \
    }

#define ATOMIC_ALL(n, type) \
    ATOMIC_EXCHANGE(n, type) \
    ATOMIC_COMPARE_EXCHANGE(n, type) \
    ATOMIC_FETCH(n, type, add, +) \
    ATOMIC_FETCH(n, type, sub, -) \
    ATOMIC_FETCH(n, type, and, &) \
    ATOMIC_FETCH(n, type, or, |) \
    ATOMIC_FETCH(n, type, xor, ^)

ATOMIC_ALL(1, unsigned char)
ATOMIC_ALL(2, unsigned short)
ATOMIC_ALL(4, unsigned int)
