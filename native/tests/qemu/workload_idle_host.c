// The idle workload (workload_idle.c) on the host's virtual ESP32-C3, as the
// QEMU board's test_rtos runs it: its "idle-stats:" lines are what the QEMU
// run must print (make test-qemu compares them).
#include <stdio.h>

#include "tracker.h"
#include "workload_idle.h"

int main(void) {
    ht_vm_restart();
    workload_idle_result_t result;
    if (!workload_idle_run(&result, 3000)) {
        fprintf(stderr, "test_workload_idle: the workload did not finish (%u of %u tasks DELETED)\n",
            result.deleted, result.tasks);
        return 1;
    }
    workload_idle_print(&result);
    return 0;
}
