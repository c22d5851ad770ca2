// What reading the GC heap needs from the port (gc_port.h), on the host
// firmware: the executable's loaded segments, and the host shim's tasks (each a
// host thread, boards/HOST/esp_idf/freertos.c).
// dl_iterate_phdr is a GNU extension.
#define _GNU_SOURCE
#include <link.h>
#include <string.h>

#include "host_shim.h"
#include "gc_port.h"

// The executable's segments: the built-in types are in its read-only data.
#define HOST_SEGMENTS (8)

static struct {
    uintptr_t start, end;
} segments[HOST_SEGMENTS];
static size_t segment_count;

static int add_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    // The first object dl_iterate_phdr reports is the executable itself.
    for (size_t i = 0; i < info->dlpi_phnum && segment_count < HOST_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R)) {
            segments[segment_count].start = info->dlpi_addr + ph->p_vaddr;
            segments[segment_count].end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            segment_count++;
        }
    }
    return 1;
}

__attribute__((constructor)) static void find_segments(void) {
    dl_iterate_phdr(add_segments, NULL);
}

bool ht_gc_port_static(const void *p, size_t len) {
    uintptr_t start = (uintptr_t)p;
    uintptr_t end = start + len;
    if (len == 0 || end < start) {
        return false;
    }
    for (size_t i = 0; i < segment_count; i++) {
        if (start >= segments[i].start && end <= segments[i].end) {
            return true;
        }
    }
    return false;
}

size_t ht_gc_port_stacks(ht_gc_stack_t *stacks, size_t max) {
    host_task_stack_t found[16];
    size_t count = host_task_stacks(found, max < 16 ? max : 16);
    for (size_t i = 0; i < count && i < max && i < 16; i++) {
        stacks[i].lo = found[i].lo;
        stacks[i].hi = found[i].hi;
        stacks[i].task = found[i].handle;
        memcpy(stacks[i].name, found[i].name, sizeof(stacks[i].name));
    }
    return count;
}

void ht_gc_port_current(ht_gc_stack_t *self) {
    memset(self, 0, sizeof(*self));
    self->task = host_task_self(self->name);
}
