#!/usr/bin/env python3
"""The virtual board's configuration against the firmware it stands for
(`make check-idf`, mk/check-idf.mk): one chip of the virtual board, and the
heaptrack board (and variant) whose sdkconfig ESP-IDF's kconfgen made from the
same fragments a real build uses.

- Values: every CONFIG_ macro of the virtual board's hand-written sdkconfig.h
  (with ESP-IDF's tracking, and with the hooks tracker) has the value kconfgen
  gives it, once the differences intended.h lists are applied to kconfgen's.
- Code: ESP-IDF's heap sources, preprocessed as the host compiles them, come
  out the same with the virtual board's sdkconfig.h as with kconfgen's plus
  intended.h: no option the heap code reads is missing or different.
- mbedTLS: boards/HOST/mbedtls/mbedtls_sdkconfig.h, which sets the virtual
  board's mbedTLS options from the sdkconfig (what a TLS session allocates, and
  where), gives the same MBEDTLS_ macros with the virtual board's sdkconfig.h
  as with kconfgen's.
- TCB: the size of the TCB blocks the virtual board's FreeRTOS stand-in
  allocates is sizeof(TCB_t) under the board's configuration: FreeRTOS's
  StaticTask_t (its public mirror) as this compiler lays it out, plus, where
  the configuration has newlib, newlib's struct _reent inside it, as
  Espressif's newlib (built reent-small) lays it out.

  check_host_config.py --chip C --board B --hand DIR --intended FILE \\
      --kconfgen DIR --kconfgen-hooks DIR --pp DIR --cc CC --cflags FILE \\
      --newlib-include DIR --mbedtls-config FILE

--pp holds host/, board/, host-hooks/, board-hooks/: the preprocessed sources.
Prints one line, or each difference and exits 1.
"""

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, List

DEFINE = re.compile(r'^#define (CONFIG_\w+) ?(.*)$')


def defines(cc: str, header: str, *macros: str) -> Dict[str, str]:
    """The CONFIG_ macros header leaves defined, and their values, by the preprocessor."""
    out = subprocess.run([cc, '-E', '-dM', *['-D' + m for m in macros], header],
                         check=True, capture_output=True, text=True).stdout
    return {m.group(1): m.group(2).strip() for m in map(DEFINE.match, out.splitlines()) if m}


def with_intended(kconfgen_dir: str) -> str:
    """kconfgen's sdkconfig.h with the intended differences applied: the header
    mk/check-idf.mk writes in a directory of its own (first/), to be found as
    sdkconfig.h before the virtual board's."""
    return os.path.join(kconfgen_dir, 'first', 'sdkconfig.h')


def compare_values(cc: str, hand: str, board: str, macros: List[str], what: str) -> List[str]:
    mine = defines(cc, hand, *macros)
    theirs = defines(cc, board)
    bad = []
    for name, value in sorted(mine.items()):
        if name not in theirs:
            bad.append(f'{what}: {name} {value}: the firmware leaves it unset')
        elif theirs[name] != value:
            bad.append(f'{what}: {name} {value}: the firmware has {theirs[name]}')
    return bad


def compare_mbedtls(cc: str, config: str, hand_dir: str, board_dir: str) -> List[str]:
    """The MBEDTLS_ macros config gives with each sdkconfig.h (found by its
    directory on the include path)."""
    def macros(include_dir: str) -> Dict[str, str]:
        out = subprocess.run([cc, '-E', '-dM', '-I', include_dir, config], check=True, capture_output=True,
                             text=True).stdout
        return {m.group(1): m.group(2).strip()
                for m in map(re.compile(r'^#define ((?:MBEDTLS|HEAPTRACK_MBEDTLS)_\w+) ?(.*)$').match,
                             out.splitlines()) if m}
    def shown(values: Dict[str, str], name: str) -> str:
        return 'unset' if name not in values else (values[name] or 'defined')
    mine, theirs = macros(hand_dir), macros(board_dir)
    bad = []
    for name in sorted(set(mine) | set(theirs)):
        if mine.get(name) != theirs.get(name):
            bad.append(f'mbedTLS: {name} is {shown(mine, name)}, with the firmware\'s sdkconfig '
                       f'{shown(theirs, name)} ({os.path.basename(config)})')
    if not mine:
        bad.append(f'mbedTLS: {config} sets no MBEDTLS_ macro')
    return bad


def code_lines(path: str) -> List[str]:
    """A preprocessed file's lines that hold code (blank ones are where a
    directive or a macro that expands to nothing was, and mean nothing)."""
    return [line.rstrip() for line in open(path) if line.strip()]


def compare_code(host_dir: str, board_dir: str, what: str) -> List[str]:
    bad = []
    for root, _, files in os.walk(host_dir):
        for name in sorted(files):
            mine = os.path.join(root, name)
            rel = os.path.relpath(mine, host_dir)
            theirs = os.path.join(board_dir, rel)
            a = code_lines(mine)
            b = code_lines(theirs) if os.path.exists(theirs) else []
            if a != b:
                diff = list(difflib.unified_diff(b, a, 'firmware', 'virtual board', n=1, lineterm=''))
                bad.append(f'{what}: ESP-IDF\'s {rel[:-2]}.c preprocesses otherwise:\n      '
                           + '\n      '.join(diff[:16]) + ('\n      ...' if len(diff) > 16 else ''))
    return bad


def probe_size(cc: str, args: List[str], source: str) -> int:
    """sizeof of what `source` declares as `char probe[sizeof(...)]`, from the assembly text."""
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, 'probe.c')
        with open(c, 'w') as f:
            f.write(source)
        out = subprocess.run([cc, *args, '-S', '-o', '-', c], check=True, capture_output=True, text=True).stdout
    m = re.search(r'\.size\s+probe,\s*(\d+)', out)
    if m is None:
        raise SystemExit('check-idf: no size in the probe\'s assembly text')
    return int(m.group(1))


def tcb_size(cc: str, cflags: str, newlib: bool, newlib_include: str) -> int:
    static_task = probe_size(cc, ['@' + cflags], '#include "freertos/FreeRTOS.h"\n#include "freertos/task.h"\n'
                             'char probe[sizeof(StaticTask_t)];\n')
    if not newlib:
        return static_task
    gcc_include = subprocess.run([cc, '-print-file-name=include'], check=True, capture_output=True,
                                 text=True).stdout.strip()
    arch = [a for a in open(cflags).read().split() if a.startswith(('-march=', '-mabi='))]
    reent = probe_size(cc, [*arch, '-nostdinc', '-D_REENT_SMALL', '-isystem', newlib_include, '-isystem', gcc_include],
                       '#include <reent.h>\nchar probe[sizeof(struct _reent)];\n')
    return static_task + reent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--chip', required=True)
    ap.add_argument('--board', required=True, help='the heaptrack board (and variant) it stands for')
    ap.add_argument('--hand', required=True, help="the virtual board's sdkconfig.h directory")
    ap.add_argument('--intended', required=True)
    ap.add_argument('--kconfgen', required=True)
    ap.add_argument('--kconfgen-hooks', required=True)
    ap.add_argument('--pp', required=True)
    ap.add_argument('--cc', required=True)
    ap.add_argument('--cflags', required=True, help="check-idf's compiler flags for the board")
    ap.add_argument('--newlib-include', required=True)
    ap.add_argument('--mbedtls-config', required=True, help="the virtual board's mbedtls_sdkconfig.h")
    args = ap.parse_args()

    hand = os.path.join(args.hand, 'sdkconfig.h')
    board = with_intended(args.kconfgen)
    board_hooks = with_intended(args.kconfgen_hooks)
    bad = compare_values(args.cc, hand, board, ['HEAPTRACK_IDF_TRACKING=1', 'HEAPTRACK_IDF_HOOKS=0'],
                         'with ESP-IDF\'s tracking')
    bad += compare_values(args.cc, hand, board_hooks, ['HEAPTRACK_IDF_TRACKING=0', 'HEAPTRACK_IDF_HOOKS=1'],
                          'with the hooks tracker')
    bad += compare_code(os.path.join(args.pp, 'host'), os.path.join(args.pp, 'board'), 'with ESP-IDF\'s tracking')
    bad += compare_code(os.path.join(args.pp, 'host-hooks'), os.path.join(args.pp, 'board-hooks'),
                        'with the hooks tracker')
    bad += compare_mbedtls(args.cc, args.mbedtls_config, args.hand, os.path.dirname(board))
    mbedtls_macros = len(re.findall(r'^#define MBEDTLS_', open(args.mbedtls_config).read(), re.M))

    config = defines(args.cc, board)
    want = tcb_size(args.cc, args.cflags, config.get('CONFIG_LIBC_NEWLIB') == '1', args.newlib_include)
    macros = subprocess.run([args.cc, '-E', '-dM', hand], check=True, capture_output=True, text=True).stdout
    m = re.search(r'^#define HOST_TCB_SIZE (\d+)$', macros, re.M)
    have = int(m.group(1)) if m else None
    if have != want:
        bad.append(f'HOST_TCB_SIZE is {have}: sizeof(TCB_t) with the firmware\'s configuration is {want}')

    values = len(defines(args.cc, hand, 'HEAPTRACK_IDF_TRACKING=1'))
    intended = len(re.findall(r'^#define CONFIG_', open(args.intended).read(), re.M))
    if bad:
        for line in bad:
            print(f'  check-idf: virtual {args.chip} against {args.board}: {line}')
        print(f'check-idf: the virtual {args.chip} is not heaptrack\'s {args.board} firmware '
              f'(boards/HOST/chips/{args.chip}/, intended differences: '
              f'{os.path.relpath(args.intended, os.getcwd())})')
        return 1
    print(f'  {args.chip:13} = {args.board}: its {values} CONFIG_ values, ESP-IDF\'s heap code as preprocessed, '
          f'its mbedTLS options and its {want}-byte TCB are the firmware\'s, but for {intended} '
          f'value{"" if intended == 1 else "s"} set otherwise on purpose ({os.path.basename(args.intended)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
