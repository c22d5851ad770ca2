"""Each chip's heaps as ESP-IDF lays them out on it, checked against numbers
from a real boot log of that chip, and the chip's own story.

ESP-IDF prints the heaps it makes at start-up (heap_caps_init()):
`heap_init: At 3FFAE6E0 len 00001920 (6 KiB): DRAM`. Of each line's numbers,
some ESP-IDF derives from the chip alone (the region tables and reserved
ranges of components/heap/port/<chip>/memory_layout.c, the chip's soc.h, the
ROM's layout table): those must match on every board of that chip. Others
depend on the application: the first DRAM heap starts at `_heap_start`, the end
of the app's static data, and the IRAM heap (ESP32) at `_iram_end`, the end of
its IRAM code. The virtual board takes those two from the cited log (the
linker symbols in boards/HOST/chips/<chip>/layout.c), so on it every line of
the log must come out byte for byte; a real board running another app (this
firmware) has other values there, and only the chip's numbers are compared.

Which chip a board is: the end of sys.implementation._machine, "... with
ESP32" (MICROPY_HW_MCU_NAME, as ports/esp32's generic boards and the virtual
board name it). A test for another chip is skipped: `make test` runs this file
on each chip's firmware (build/host-<chip>).
"""
import re
from pathlib import Path
from collections import namedtuple

import pytest

from board_code import SPARSE_GC_HEAP, run

# One heap_init line: where the heap starts, its length, its memory type's
# name, and whether the start and the end are the chip's (True) or the app's.
Line = namedtuple("Line", "start length name chip_start chip_end")

# A classic ESP32's boot log, an ESPHome firmware (ESP-IDF) on an M5Stack Atom
# Echo (ESP32-PICO-D4), posted in https://github.com/esphome/firmware/pull/242
# (BramNH, 2024-09-23):
#   I (737) heap_init: At 3FFAE6E0 len 00001920 (6 KiB): DRAM
#   I (743) heap_init: At 3FFB86F8 len 00027908 (158 KiB): DRAM
#   I (749) heap_init: At 3FFE0440 len 00003AE0 (14 KiB): D/IRAM
#   I (756) heap_init: At 3FFE4350 len 0001BCB0 (111 KiB): D/IRAM
#   I (762) heap_init: At 40095BB0 len 0000A450 (41 KiB): IRAM
# The chip's numbers, from ESP-IDF v5.5.4's components/heap/port/esp32/memory_layout.c
# (the same reservations as in ESP-IDF v4.4 and v5.x, whichever built that log):
#   3FFAE6E0   the end of the ROM's data, rom_data 0x3ffae000-0x3ffae6e0
#   3FFB0000   the end of the region 0x3FFAE000 + 0x2000 ("pool 16")
#   3FFE0000   the end of the DRAM regions, where SRAM1's D/IRAM ones start
#   3FFE0440   the end of the PRO CPU's ROM data, rom_pro_data 0x3ffe0000-0x3ffe0440
#   3FFE3F20   the start of the APP CPU's ROM data, rom_app_data 0x3ffe3f20-0x3ffe4350
#   3FFE4350   its end
#   40000000   the end of SRAM1's data alias (soc.h: SOC_DIRAM_DRAM_HIGH)
#   400A0000   the end of SRAM0's IRAM regions ("pool 2-5, mmu page 15")
# The app's: 3FFB86F8 (_heap_start) and 40095BB0 (_iram_end).
ESP32_LINES = [
    Line(0x3FFAE6E0, 0x00001920, "DRAM", True, True),
    Line(0x3FFB86F8, 0x00027908, "DRAM", False, True),
    Line(0x3FFE0440, 0x00003AE0, "D/IRAM", True, True),
    Line(0x3FFE4350, 0x0001BCB0, "D/IRAM", True, True),
    Line(0x40095BB0, 0x0000A450, "IRAM", False, True),
]

# ESP32-S3: the sizes of ESP-IDF's heap_task_tracking example's output on an
# ESP32-S3, our format contract (reference/esp-idf-heap-task-tracking-basic-README.md:
# "HEAP: RAM, CAPS: 0x0010580e, SIZE: 344400" and "SIZE: 22308"), that is
# heap_init's "At 3FC955C0 len 00054150 (336 KiB): RAM" for that app, and an
# ESP32-S3 boot log posted in https://github.com/espressif/esp-protocols/issues/181
# (franz-ms-muc, 2022; an older ESP-IDF, which still named the start-up stack's
# heap STACK/DRAM and started it lower):
#   I (566) heap_init: At 3FCE0000 len 0000EE34 (59 KiB): STACK/DRAM
#   I (578) heap_init: At 3FCF0000 len 00008000 (32 KiB): DRAM
# The chip's numbers (ESP-IDF v5.5.4's components/heap/port/esp32s3/memory_layout.c,
# soc/esp32s3/include/soc/soc.h, the ROM's layout table):
#   3FCE9710   APP_USABLE_DRAM_END = SOC_ROM_STACK_START 0x3FCEB710 - SOC_ROM_STACK_SIZE
#              0x2000: where the start-up stack's region starts
#   3FCEEE34   the ROM's reserved DRAM (ets_rom_layout_p->dram0_rtos_reserved_start):
#              the end of the log's STACK/DRAM line, 0x3FCE0000 + 0xEE34
#   3FCF0000   SOC_DIRAM_DRAM_HIGH, where the DRAM-only region (0x8000) starts
# The app's: 3FC955C0 (_heap_start). ESP-IDF v5.5's RTC fast memory heap
# (RTCRAM), which neither source shows, is checked by native/tests.
ESP32S3_LINES = [
    Line(0x3FC955C0, 0x00054150, "RAM", False, True),
    Line(0x3FCE9710, 0x00005724, "RAM", True, True),
    Line(0x3FCF0000, 0x00008000, "DRAM", True, True),
]

# ESP32-C3: a boot log of CircuitPython (ESP-IDF 5.3.x) on a QT Py ESP32-C3,
# posted in https://github.com/adafruit/circuitpython/issues/10016 (dhalbert):
#   I (551) heap_init: At 3FCDC710 len 00002950 (10 KiB): Retention RAM
#   I (558) heap_init: At 50001204 len 00000DE4 (3 KiB): RTCRAM
# The chip's numbers (ESP-IDF v5.5.4's components/heap/port/esp32c3/memory_layout.c,
# soc/esp32c3/include/soc/soc.h, the ROM's layout table):
#   3FCC0000   where the Retention RAM region starts (after the RAM regions
#              0x3FC80000 + 0x20000 + 0x20000)
#   3FCDC710   APP_USABLE_DRAM_END = SOC_ROM_STACK_START 0x3FCDE710 - SOC_ROM_STACK_SIZE
#              0x2000: where the start-up stack's region starts
#   3FCDF060   the ROM's reserved DRAM (ets_rom_layout_p->dram0_rtos_reserved_start):
#              the end of the log's 3FCDC710 line
#   50001FE8   the words ROM and bootloader keep at the end of RTC memory
#              (_rtc_reserved_start): the end of the log's RTCRAM line
# The app's: the RAM heap's start (_heap_start; the virtual board's own app,
# not the log's, whose line the excerpt does not show) and the RTCRAM heap's
# start (_rtc_force_slow_end, CircuitPython's RTC data; the virtual board takes
# the log's).
ESP32C3_LINES = [
    Line(0x3FC8D610, 0x000329F0, "RAM", False, True),
    Line(0x3FCC0000, 0x0001C710, "Retention RAM", True, True),
    Line(0x3FCDC710, 0x00002950, "Retention RAM", True, True),
    Line(0x50001204, 0x00000DE4, "RTCRAM", False, True),
]

CHIP_LINES = {"esp32": ESP32_LINES, "esp32s3": ESP32S3_LINES, "esp32c3": ESP32C3_LINES}
MCU_NAMES = {"ESP32": "esp32", "ESP32S3": "esp32s3", "ESP32C3": "esp32c3"}

HEAP_INIT = re.compile(r"heap_init: At ([0-9A-F]{8}) len ([0-9A-F]{8}) \((\d+) KiB\): (.+)")


def board_chip(board):
    machine = run(board, "import sys\nprint(repr(sys.implementation._machine))")
    return MCU_NAMES.get(machine.rsplit(" with ", 1)[-1])


@pytest.fixture
def chip(board):
    return board_chip(board)


def only_on(chip, wanted):
    if chip != wanted:
        pytest.skip("a test of the %s (this board is %s)" % (wanted, chip))


def boot_log_lines(board):
    """heap_init's lines of the virtual board's last power-on (its chip console)."""
    text = board.vboard.console_path.read_text(errors="replace")
    boot = text.rsplit("heap_init: Initializing.", 1)[-1]
    return [(int(a, 16), int(n, 16), int(k), name) for a, n, k, name in HEAP_INIT.findall(boot)]


def regions(board):
    return run(board, "print([(r.name, r.total, r.caps) for r in heaptrack.heap_info().regions])")


@pytest.mark.parametrize("wanted", sorted(CHIP_LINES))
@pytest.mark.usefixtures("from_power_on")
def test_heap_init_lines_are_the_boot_logs(board, chip, wanted):
    only_on(chip, wanted)
    if not board.virtual:
        pytest.skip("reads ESP-IDF's console, which a board writes to its UART")
    got = boot_log_lines(board)
    lines = CHIP_LINES[chip]
    # heap_init prints the heaps in address order; each line's KiB is len >> 10.
    expected = [(x.start, x.length, x.length >> 10, x.name) for x in lines]
    assert [g for g in got if g[3] != "RTCRAM" or chip != "esp32s3"] == expected, got


@pytest.mark.parametrize("wanted", sorted(CHIP_LINES))
def test_heaps_have_the_chips_bounds(board, chip, wanted):
    """heaptrack.heap_info() lists a heap for every region of the log whose
    both ends are the chip's, of that size and memory type, on any board; on
    the virtual board the app's too."""
    only_on(chip, wanted)
    have = regions(board)
    for line in CHIP_LINES[chip]:
        if line.chip_start and line.chip_end or board.virtual:
            assert [n for n, total, _ in have if (n, total) == (line.name, line.length)], (line, have)


def test_esp32_gc_heap_free_but_no_16k_internal_block(board, chip):
    """The classic ESP32's question: does a 16 KB buffer (a TLS record
    buffer) fit after MicroPython took its heap? MicroPython's 56 KB GC heap
    (ports/esp32/mpconfigport.h: MICROPY_GC_INITIAL_HEAP_SIZE on ESP32) grows
    into the chip's two large heaps, D/IRAM 0x1BCB0 and DRAM (from _heap_start
    to 0x3FFE0000); the chip's other 8-bit heaps are smaller than 16 KB from the
    start (DRAM 0x1920, D/IRAM 0x3AE0), and its IRAM heap is 32-bit only. With
    the GC heap full and sparse, gc.mem_free() is large yet no internal heap can
    give 16 KB, and print_heap_info(16384) shows why."""
    only_on(chip, "esp32")
    out = board.exec("""
import gc, heaptrack
me = heaptrack.current_task()
start = heaptrack.heap_info()
fits_at_boot = start.can_allocate(16384)
""" + SPARSE_GC_HEAP + """
info = heaptrack.heap_info()
gc_heaps = sorted(set((h.name, h.size) for h in heaptrack.task_stats(me, blocks=True).heaps
                  for a, s in h.blocks if s >= 16384))
heaptrack.print_heap_info(16384)
print([fits_at_boot, start.gc.total, gc.mem_free(), info.gc.areas, info.can_allocate(16384),
       [(r.name, r.total, r.largest_free) for r in info.regions if r.caps & heaptrack.CAP_8BIT], gc_heaps])
chunks = None
gc.collect()
""", timeout=120)
    lines = out.strip().splitlines()
    fits_at_boot, gc_total, gc_free, areas, fits, data_heaps, gc_heaps = eval(lines[-1])
    assert fits_at_boot and gc_total == 56000, out   # 56 KB less the GC's own tables
    assert gc_free > 4 * 16384 and areas >= 2 and not fits, out
    # MicroPython's heap took the two large heaps: its areas lie in them (the
    # DRAM one's size is the app's).
    assert ("D/IRAM", 0x1BCB0) in gc_heaps, out
    if board.virtual:
        assert ("DRAM", 0x27908) in gc_heaps, out
    small = [(name, total) for name, total, _ in data_heaps if total < 16384]
    assert ("DRAM", 0x1920) in small and ("D/IRAM", 0x3AE0) in small, out
    assert all(largest < 16384 for _, _, largest in data_heaps), out
    largest = max(largest for _, _, largest in data_heaps)
    assert " A 16384-byte block with caps 0x00001000 does NOT fit (largest free: %d)" % largest in lines, out


# An ESP32-S3 with 8 MiB of octal PSRAM running MicroPython (v1.20, ESP-IDF
# 5.0.2; an ESP32S3-N16R8 board), esp32.idf_heap_info(esp32.HEAP_DATA) as posted
# in https://github.com/micropython/micropython/issues/12075 (shariltumin, 2023-07-25):
#   [(32767, 32031, 31744, 32015), (8388608, 6338304, 6291456, 6338304),
#    (265392, 230676, 229376, 230676), (22308, 64, 56, 28), (32768, 16864, 13312, 13496),
#    (8132, 7752, 7680, 7752)]
# The totals that are the chip's and the configuration's, not the app's:
#   32767     the internal pool ESP-IDF's main task reserves for DMA/internal-only
#             blocks when PSRAM is on: CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL 32768,
#             made a heap one byte short of its block (esp_psram_extram_reserve_dma_pool)
#   8388608   the 8 MiB of PSRAM, one heap
#   22308     the ROM's start-up stack region (as without PSRAM, ESP32S3_LINES)
#   32768     the DRAM-only region 0x3FCF0000
# (265392 is the app's RAM heap; 8132 its RTC memory heap.)
PSRAM_HEAP_TOTALS = [32767, 8388608, 22308, 32768]


def has_psram(board):
    return run(board, "print(heaptrack.heap_info().largest_free(heaptrack.CAP_SPIRAM) > 0)")


def test_esp32s3_octal_psram(board, chip):
    """An ESP32-S3 with octal PSRAM, as MicroPython's SPIRAM_OCT variant:
    ESP-IDF's heaps as that board's idf_heap_info lists them, CAP_SPIRAM
    blocks in the SPIRAM heap, and MicroPython's GC heap in PSRAM (the
    port's malloc takes blocks over CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL, 8192,
    from PSRAM first)."""
    only_on(chip, "esp32s3")
    if not has_psram(board):
        pytest.skip("an ESP32-S3 without PSRAM")
    result = run(board, """
import esp32
totals = [h[0] for h in esp32.idf_heap_info(esp32.HEAP_DATA)]
me = heaptrack.current_task()
a = heaptrack.malloc(100000, heaptrack.CAP_SPIRAM)
heaps = {h.name: h for h in heaptrack.task_stats(me, blocks=True).heaps}
ext = [(h.name, h.size, h.caps & heaptrack.CAP_SPIRAM != 0) for h in heaps.values()
       if any(x == a for x, s in h.blocks)]
gc_in = [h.name for h in heaps.values() for x, s in h.blocks if s >= 65536 and x != a]
heaptrack.free(a)
print([totals, ext, gc_in, err(heaptrack.malloc, 16, heaptrack.CAP_SPIRAM | heaptrack.CAP_INTERNAL)])
""")
    totals, ext, gc_in, both = result
    for total in PSRAM_HEAP_TOTALS:
        assert total in totals, (total, totals)
    assert ext == [("SPIRAM", 8388608, True)], result
    assert gc_in and set(gc_in) == {"SPIRAM"}, result
    assert both == "MemoryError", result


def test_vboard_chip_names():
    """`--chip CHIP [--psram]` names one firmware build per chip; a chip or a
    PSRAM option there is none of is refused with the list."""
    from heaptrack_host import paths
    assert [paths.chip_name(c, p) for c, p in [(None, False), ("esp32", False), ("esp32c3", False),
                                                ("esp32s3", True), (None, True)]] == \
        ["esp32s3", "esp32", "esp32c3", "esp32s3-psram", "esp32s3-psram"]
    for chip, psram in [("esp32", True), ("esp32c6", False)]:
        with pytest.raises(ValueError, match="esp32, esp32c3, esp32s3"):
            paths.chip_name(chip, psram)


CHIPS_DIR = Path(__file__).resolve().parents[1] / "boards" / "HOST" / "chips"


def test_the_virtual_chips_are_the_folders_and_each_is_whole():
    # A chip is its folder: the host package's list is read from the folders,
    # each has its description, sdkconfig and a layout, and its boot log here.
    from heaptrack_host import paths
    folders = sorted(p.name for p in CHIPS_DIR.iterdir() if p.is_dir())
    assert sorted(paths.CHIPS) == folders
    for name in folders:
        desc = paths._read_chip(CHIPS_DIR / name / "chip.mk")
        assert set(desc) >= {"CHIP_TARGET", "CHIP_PSRAM", "CHIP_LAYOUT", "CHIP_BOARD"}, name
        assert (CHIPS_DIR / name / "sdkconfig.h").is_file(), name
        assert (CHIPS_DIR / desc["CHIP_LAYOUT"] / "layout.c").is_file(), name
        assert desc["CHIP_TARGET"] in CHIP_LINES, "%s: no boot log lines in this file" % name
