"""What real silicon asks of heaptrack: calling contexts where ESP-IDF's task
tracking cannot run, soft resets with tasks mid-allocation. Each test runs on the
virtual board (ESP-IDF's own heap, the same rules) and on a real board."""
import ast

from board_code import PRELUDE, run


def test_interrupts_disabled_is_a_clear_runtime_error_and_changes_nothing(board):
    # ESP-IDF's tracking takes a FreeRTOS mutex on every malloc, free and report:
    # with interrupts masked FreeRTOS would assert. heaptrack refuses first.
    result = run(board, """
import machine
a = heaptrack.malloc(32)
me = heaptrack.current_task()
before = heaptrack.task_stats(me, blocks=True)
calls = ((heaptrack.malloc, (16,)), (heaptrack.free, (a,)), (heaptrack.free_all, ()),
         (heaptrack.task_stats, ()), (heaptrack.print_overview, ()), (heaptrack.print_details, ()),
         (heaptrack.heap_info, ()), (heaptrack.dump, ()), (heaptrack.snapshot, ()))
out = []
msg = ''
state = machine.disable_irq()
try:
    for f, args in calls:
        try:
            f(*args)
            out.append('ran')
        except RuntimeError as e:
            out.append('RuntimeError')
            msg = str(e)
finally:
    machine.enable_irq(state)
after = heaptrack.task_stats(me, blocks=True)
heaptrack.free(a)
print([out, 'interrupts disabled' in msg, before == after])
""")
    out, says_why, unchanged = result
    assert out == ["RuntimeError"] * 9
    assert says_why and unchanged
