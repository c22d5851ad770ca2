#!/usr/bin/env bash
# The QEMU board's MicroPython (make firmware-qemu) under qemu-system-riscv32
# -M virt, its REPL (the UART) on a pseudo-terminal, as a USB board's:
#
#   qemu-board.sh FIRMWARE                   prints the device (/dev/pts/N) once
#                                            the REPL reads it; serves until Ctrl-C
#   qemu-board.sh FIRMWARE COMMAND [ARG...]  runs COMMAND with QEMU_BOARD_PORT set
#                                            to the device, then stops QEMU; exits
#                                            with COMMAND's status
#
# The chip's console (ESP-IDF's log, through QEMU's semihosting) and QEMU's own
# messages go to QEMU_BOARD_CONSOLE (default: console.log beside FIRMWARE).
# machine.reset() (mpremote reset) resets the virt machine: the program starts
# again as from power-on, on the same device.
set -uo pipefail

firmware=${1:?usage: qemu-board.sh FIRMWARE [COMMAND [ARG...]]}
shift
[ -f "$firmware" ] || { echo "qemu-board: no firmware at $firmware (make firmware-qemu builds it)" >&2; exit 2; }
console=${QEMU_BOARD_CONSOLE:-$(dirname "$firmware")/console.log}
qemu=${QEMU:-qemu-system-riscv32}
command -v "$qemu" >/dev/null || { echo "qemu-board: $qemu not found (Debian: apt-get install qemu-system-misc)" >&2; exit 2; }

# Emptied here, not only by QEMU's redirection: that happens in the background
# child, and until it does the wait below would read the last run's console.
: >"$console"
# The ESP32-C3's ISA (RV32IMC), one hart, as native/tests/qemu runs the C tests.
"$qemu" -M virt -cpu rv32,a=false,f=false,d=false -smp 1 -m 32M -bios none -nographic -monitor none \
    -serial pty -semihosting-config enable=on,target=native -kernel "$firmware" >"$console" 2>&1 &
qemu_pid=$!
trap 'kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

# Until the firmware says its REPL reads the UART (stdio.c), QEMU's end or 30 s.
deadline=$((SECONDS + 30))
until grep -q "^qemu board: MicroPython's REPL is on the UART" "$console" 2>/dev/null; do
    if ! kill -0 "$qemu_pid" 2>/dev/null; then
        echo "qemu-board: QEMU ended before the REPL started; its output ($console):" >&2
        cat "$console" >&2
        exit 1
    fi
    if ((SECONDS > deadline)); then
        echo "qemu-board: no REPL after 30 s; the console ($console):" >&2
        cat "$console" >&2
        exit 1
    fi
    sleep 0.1
done
port=$(sed -n 's|^char device redirected to \(/dev/[^ ]*\) (label serial0)$|\1|p' "$console")
[ -n "$port" ] || { echo "qemu-board: QEMU did not say where the UART's pty is ($console)" >&2; exit 1; }

if [ $# -eq 0 ]; then
    echo "$port"
    echo "qemu-board: MicroPython on the QEMU board at $port (mpremote connect $port ...); the console is $console; Ctrl-C stops it" >&2
    wait "$qemu_pid"
    exit $?
fi
QEMU_BOARD_PORT=$port "$@"
