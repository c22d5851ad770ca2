// What the two trackers share beyond ESP-IDF's heap (tracker_private.h).

#include "tracker_private.h"

// One object every tracker's snapshots, and the bindings' copies of them,
// point at: an empty list of blocks that is not "no blocks copied" (NULL).
ht_block_t ht_no_blocks[1];

const char *ht_err_text_of(const ht_err_texts_t *texts, ht_err_t err) {
    switch (err) {
        case HT_OK:
            return "no error";
        case HT_ERR_NO_MEM:
            return texts->no_mem;
        case HT_ERR_FULL:
            return texts->full;
        case HT_ERR_BUSY:
            return texts->busy;
        case HT_ERR_NO_TASK:
            return "unknown task (tasks are tracked from their first allocation)";
        case HT_ERR_NO_BLOCK:
            return "address was not returned by heaptrack.malloc or is already freed";
        case HT_ERR_CONTEXT:
            return texts->context;
        case HT_ERR_UNSUPPORTED:
            return texts->unsupported;
        case HT_ERR_INCONSISTENT:
            return texts->inconsistent;
    }
    return "unknown error";
}

int ht_slot_take(const ht_slots_t *slots) {
    int slot = -1;
    taskENTER_CRITICAL(slots->lock);
    for (size_t i = 0; i < slots->count; ++i) {
        if (!slots->held[i]) {
            slots->held[i] = true;
            slot = (int)i;
            break;
        }
    }
    taskEXIT_CRITICAL(slots->lock);
    return slot;
}

void ht_slot_give(const ht_slots_t *slots, int slot) {
    taskENTER_CRITICAL(slots->lock);
    slots->held[slot] = false;
    taskEXIT_CRITICAL(slots->lock);
}

size_t ht_free_claimed(const ht_claim_table_t *table) {
    taskENTER_CRITICAL(table->lock);
    for (size_t i = 0; i < table->slots; ++i) {
        table->claim(i);
    }
    taskEXIT_CRITICAL(table->lock);

    size_t freed = 0;
    size_t cursor = 0;
    bool found_in_sweep = false;
    for (;;) {
        void *batch[HT_FREE_BATCH];
        size_t n = 0, taken = 0;
        taskENTER_CRITICAL(table->lock);
        while (cursor < table->slots && taken < table->batch) {
            if (table->claimed(cursor)) {
                void *p = table->take(cursor);   // may pull another entry into cursor: look again
                if (p != NULL) {
                    batch[n++] = p;
                }
                taken += 1;
            } else {
                cursor += 1;
            }
        }
        taskEXIT_CRITICAL(table->lock);
        for (size_t k = 0; k < n; ++k) {
            heap_caps_free(batch[k]);
        }
        freed += taken;
        found_in_sweep = found_in_sweep || taken != 0;
        if (cursor == table->slots) {
            if (!found_in_sweep) {
                break;
            }
            cursor = 0;
            found_in_sweep = false;
        }
    }
    return freed;
}
