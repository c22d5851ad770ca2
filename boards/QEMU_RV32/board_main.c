// The C test programs' main() (crt0 calls it): the chip's start-up. Kept out
// of the board's library, which MicroPython links with a main() of its own.
#include "qemu_board.h"

int main(void) {
    qemu_board_start();
}
