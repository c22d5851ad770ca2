#!/usr/bin/env python3
"""Where heaptrack's compiled code and data land on an ESP chip, read from the
objects `make check-idf` compiled for one board (mk/check-idf.mk runs it):

- IRAM code must not reach flash. A function in IRAM (`.iram0*`, `.iram1*`:
  IRAM_ATTR, HEAP_IRAM_ATTR) can run while the flash cache is disabled, during
  a flash write (MicroPython's filesystem), from an interrupt handler that
  allocates. Every relocation in such a section must name IRAM, RAM or ROM:
    - a symbol of the object itself: by the section it is in (.text and
      .rodata are flash; .iram*, .dram*, .data, .bss are RAM);
    - a function of ESP-IDF's: by the placement ESP-IDF gives it for this
      board's configuration, which CALLEES below says how to find out: a ROM
      linker script that esp_rom links, or ESP-IDF's linker fragments (.lf)
      evaluated as ldgen evaluates them, with ldgen's own parser and kconfiglib
      over the board's sdkconfig. A function not in CALLEES fails: its place
      is not known.
- RAM: the bytes of DRAM (.data, .bss, .dram*) and IRAM (.iram*) per tracker,
  against the board's budget (boards/<BOARD>/mpconfigboard.cmake).

  check_placement.py --idf IDF --chip esp32c3 --board ESP32_C3 \\
      --config-dir DIR [--label idf] [--dram-budget N --iram-budget N] OBJ...

DIR holds kconfgen's sdkconfig and config.env for the objects' configuration.
Exits 1 on a violation or an overrun, printing each.
"""

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

IRAM_PREFIXES = ('.iram0', '.iram1')
# Flash code that IRAM code calls only in task context, where the flash cache
# is on (failures.c says why that holds): the section name is the claim, made
# next to the code (HT_TASK_CONTEXT_ONLY), and reported as such.
TASK_CONTEXT_PREFIX = '.text.task_context.'
RAM_PREFIXES = ('.data', '.sdata', '.bss', '.sbss', '.dram', '.noinit') + IRAM_PREFIXES
DRAM_PREFIXES = ('.data', '.sdata', '.bss', '.sbss', '.dram')
# Relocations that name no place: linker relaxation and alignment.
NO_TARGET = {'R_RISCV_RELAX', 'R_RISCV_ALIGN'}
# ldgen's output sections that are internal RAM, reachable with the cache off.
RAM_TARGETS = {'iram0_text', 'rtc_text', 'tcm_text', 'dram0_data', 'dram0_bss', 'rtc_data', 'rtc_bss',
               'tcm_data', 'tcm_bss', 'iram0_data', 'iram0_bss'}


@dataclass(frozen=True)
class Rom:
    """The function is in ROM, given by this esp_rom linker script."""
    script: str        # components/esp_rom/<chip>/ld/<chip>.rom.<script>.ld
    linked_when: str   # when esp_rom's CMakeLists.txt links that script (kconfig expression)


@dataclass(frozen=True)
class Fragment:
    """The function (or variable) is compiled from ESP-IDF's sources; its
    component's linker fragments place it."""
    component: str
    fragments: Tuple[str, ...]   # the component's LDFRAGMENTS, as its CMakeLists.txt gives them
    source: str                  # relative to the component: must define it
    placed_as: Optional[str] = None   # the symbol the fragments name, when the function is its alias
    sections: str = 'text'       # ldgen's name for its input sections: text, or bss for a
                                 # variable without initialiser

    @property
    def archive(self) -> str:
        return f'lib{self.component}.a'

    @property
    def object(self) -> str:
        return os.path.splitext(os.path.basename(self.source))[0]


# Every function of ESP-IDF's that heaptrack's IRAM code may call: where ESP-IDF
# defines it, one (condition, where) per configuration. When a hook needs a new
# one, add it here from ESP-IDF's sources (and the check says where it lands).
FREERTOS = ('freertos', ('linker_common.lf', 'linker.lf'))   # FreeRTOS-Kernel (not SMP): components/freertos/CMakeLists.txt
TASKS = Fragment(*FREERTOS, 'FreeRTOS-Kernel/tasks.c')
RISCV_PORT = Fragment(*FREERTOS, 'FreeRTOS-Kernel/portable/riscv/port.c')
HEAP = ('heap', ('linker.lf',))
CALLEES: Dict[str, List[Tuple[str, object]]] = {
    # ESP-IDF's registry of heaps (heap_private.h), which find_containing_heap() walks.
    'registered_heaps': [('y', Fragment(*HEAP, 'heap_caps_init.c', sections='bss'))],
    'xTaskGetCurrentTaskHandle': [('y', TASKS)],
    'pcTaskGetName': [('y', TASKS)],
    'xTaskGetTickCount': [('y', TASKS)],
    'xTaskGetTickCountFromISR': [('y', TASKS)],
    'xPortInIsrContext': [('IDF_TARGET_ARCH_RISCV', RISCV_PORT)],
    # taskENTER_CRITICAL / taskEXIT_CRITICAL (portmacro.h): single-core RISC-V chips, then dual-core.
    'vPortEnterCritical': [('IDF_TARGET_ARCH_RISCV', RISCV_PORT)],
    'vPortExitCritical': [('IDF_TARGET_ARCH_RISCV', RISCV_PORT)],
    'xPortEnterCriticalTimeout': [('IDF_TARGET_ARCH_RISCV', RISCV_PORT)],
    'vPortExitCriticalMultiCore': [('IDF_TARGET_ARCH_RISCV', RISCV_PORT)],
    # multi_heap.h: TLSF in ROM (esp_rom links <chip>.rom.heap.ld), else multi_heap.c's
    # alias of multi_heap_get_allocated_size_impl, or with heap poisoning multi_heap_poisoning.c's.
    'multi_heap_get_allocated_size': [
        ('HEAP_TLSF_USE_ROM_IMPL && HEAP_POISONING_DISABLED', Rom('heap', 'HEAP_TLSF_USE_ROM_IMPL')),
        ('!HEAP_TLSF_USE_ROM_IMPL && HEAP_POISONING_DISABLED',
         Fragment(*HEAP, 'multi_heap.c', placed_as='multi_heap_get_allocated_size_impl')),
        ('!HEAP_POISONING_DISABLED', Fragment(*HEAP, 'multi_heap_poisoning.c')),
    ],
}


class Config:
    """The board's configuration, as ldgen reads it (ldgen/sdkconfig.py)."""

    def __init__(self, idf: str, config_dir: str):
        with open(os.path.join(config_dir, 'config.env')) as f:
            os.environ.update(json.load(f))
        os.environ['IDF_MINIMAL_BUILD'] = 'n'
        import kconfiglib
        self.kconfig = kconfiglib.Kconfig(os.path.join(idf, 'Kconfig'), warn=False)
        self.kconfig.load_config(os.path.join(config_dir, 'sdkconfig'))

    def evaluate_expression(self, expression: str) -> bool:
        result = self.kconfig.eval_string(expression)
        if result not in (0, 2):
            raise ValueError(f'{expression}: not a y/n expression')
        return result == 2


class Placer:
    """Where ESP-IDF puts one of its functions on this board."""

    def __init__(self, idf: str, chip: str, config: Config):
        self.idf = idf
        self.chip = chip
        self.config = config
        sys.path.insert(0, os.path.join(idf, 'tools', 'ldgen'))
        from ldgen import fragments
        self.fragments = fragments
        self.schemes: Dict[str, Dict[str, str]] = {}
        self.mappings: List[Tuple[str, str, Optional[str], str]] = []   # archive, object, symbol, scheme
        self._read(os.path.join(idf, 'components', 'esp_system', 'app.lf'))   # the schemes, and `* (default)`
        self._read_components = set()

    def _read(self, path: str) -> None:
        for fragment in self.fragments.parse_fragment_file(path, self.config).fragments:
            if isinstance(fragment, self.fragments.Scheme):
                self.schemes[fragment.name] = dict(fragment.entries)
            elif isinstance(fragment, self.fragments.Mapping):
                for obj, symbol, scheme in fragment.entries:
                    self.mappings.append((fragment.archive, obj, symbol, scheme))

    def _target(self, fragment: Fragment, symbol: str) -> Tuple[str, str]:
        """The output section of symbol: ldgen's most specific entry
        (object:symbol over object over * of the archive over the default
        mapping), its scheme's target for the symbol's sections (else the
        default scheme's)."""
        if fragment.component not in self._read_components:
            for lf in fragment.fragments:
                self._read(os.path.join(self.idf, 'components', fragment.component, lf))
            self._read_components.add(fragment.component)
        best, rank = 'default', -1
        for archive, obj, sym, scheme in self.mappings:
            if archive not in (fragment.archive, '*'):
                continue
            if obj == fragment.object and sym == symbol:
                r = 3
            elif obj == fragment.object and sym is None:
                r = 2
            elif obj == '*':
                r = 1 if archive == fragment.archive else 0
            else:
                continue
            if r > rank:
                best, rank = scheme, r
        kind = fragment.sections
        target = self.schemes.get(best, {}).get(kind) or self.schemes['default'][kind]
        return target, best

    def place(self, symbol: str) -> Tuple[bool, str]:
        """(in RAM or ROM, how we know)."""
        alternatives = CALLEES.get(symbol)
        if alternatives is None:
            return False, 'not a symbol heaptrack knows the place of (mk/check_placement.py CALLEES)'
        chosen = [where for condition, where in alternatives if self.config.evaluate_expression(condition)]
        if len(chosen) != 1:
            return False, f'{len(chosen)} of its CALLEES entries apply to this configuration'
        where = chosen[0]
        if isinstance(where, Rom):
            script = os.path.join(self.idf, 'components', 'esp_rom', self.chip, 'ld', f'{self.chip}.rom.{where.script}.ld')
            if not self.config.evaluate_expression(where.linked_when):
                return False, f'{os.path.basename(script)} is not linked here'
            with open(script) as f:
                text = f.read()
            if not re.search(rf'(^|\W)PROVIDE\s*\(\s*{symbol}\s*=|^\s*{symbol}\s*=', text, re.M):
                return False, f'{os.path.basename(script)} does not give it'
            return True, f'ROM ({os.path.basename(script)})'
        source = os.path.join(self.idf, 'components', where.component, where.source)
        with open(source) as f:
            text = f.read()
        if where.sections == 'text':
            definition = re.search(rf'^[ \t]*(?!(?:if|while|for|switch|return|else)\b)[A-Za-z_][^;{{}}=]*?\b{symbol}\s*'
                                   rf'\([^;{{}}]*?\)\s*(?:/\*.*?\*/\s*)?'
                                   rf'(\{{|__attribute__\(\(alias\("(\w+)"\)\)\))', text, re.M | re.S)
        else:
            definition = re.search(rf'^(?!\s*extern\b)[A-Za-z_][^;{{}}()=]*\b{symbol}\s*;()', text, re.M)
        if definition is None:
            return False, f'{where.component}/{where.source} does not define it'
        placed_as = where.placed_as or symbol
        if where.placed_as is not None and definition.group(2) != where.placed_as:
            return False, f'{where.component}/{where.source} defines it, not as an alias of {where.placed_as}'
        target, scheme = self._target(where, placed_as)
        how = f'{where.archive}:{where.object}:{placed_as} ({scheme}) -> {target}'
        return target in RAM_TARGETS, how


@dataclass
class Reference:
    section: str   # the IRAM section it is in
    symbol: str
    where: Optional[str]   # the section of the object holding it, None for another object's


def read_assembly(path: str) -> Dict[str, int]:
    """The sizes of the data objects in GCC's assembly text, per section (for
    Xtensa chips, whose objects this compiler cannot make: their data has the
    same layout, ILP32, and their code is not this compiler's to measure)."""
    sizes: Dict[str, int] = {}
    section = '.text'
    with open(path) as f:
        for line in f:
            words = line.split(None, 1)
            if not words:
                continue
            if words[0] == '.section':
                section = words[1].split(',')[0].strip()
            elif words[0] in ('.text', '.data', '.bss'):
                section = words[0]
            elif words[0] == '.size' and section.startswith(DRAM_PREFIXES):
                size = words[1].split(',')[1].strip()
                if size.isdigit():
                    sizes[section] = sizes.get(section, 0) + int(size)
            elif words[0] in ('.comm', '.lcomm'):
                size = words[1].split(',')[1].strip()
                sizes['.bss'] = sizes.get('.bss', 0) + int(size)
    return sizes


def read_object(path: str) -> Tuple[Dict[str, int], List[Reference], Dict[str, str]]:
    """Its allocated sections' sizes, what its IRAM code refers to, and the
    section of each global symbol it defines."""
    if path.endswith('.s'):
        return read_assembly(path), [], {}
    sizes: Dict[str, int] = {}
    references: List[Reference] = []
    defines: Dict[str, str] = {}
    with open(path, 'rb') as f:
        elf = ELFFile(f)
        sections = list(elf.iter_sections())
        for section in sections:
            if section['sh_flags'] & 0x2:   # SHF_ALLOC
                sizes[section.name] = section['sh_size']
        symtab = elf.get_section_by_name('.symtab')
        for sym in symtab.iter_symbols():
            if sym['st_info']['bind'] != 'STB_LOCAL' and isinstance(sym['st_shndx'], int):
                defines[sym.name] = sections[sym['st_shndx']].name
        for rel in sections:
            if not isinstance(rel, RelocationSection):
                continue
            target = sections[rel['sh_info']]
            if not target.name.startswith(IRAM_PREFIXES):
                continue
            for r in rel.iter_relocations():
                kind = r.entry.r_info_type
                name = describe_reloc_type(kind, elf)
                if name in NO_TARGET or r['r_info_sym'] == 0:
                    continue
                sym = symtab.get_symbol(r['r_info_sym'])
                shndx = sym['st_shndx']
                if shndx == 'SHN_UNDEF':
                    references.append(Reference(target.name, sym.name, None))
                elif isinstance(shndx, int):
                    references.append(Reference(target.name, sym.name or sections[shndx].name, sections[shndx].name))
    return sizes, references, defines


def describe_reloc_type(kind: int, elf: ELFFile) -> str:
    from elftools.elf.descriptions import describe_reloc_type as describe
    return describe(kind, elf)


def in_ram(section: str) -> bool:
    return section.startswith(RAM_PREFIXES)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--idf', required=True)
    ap.add_argument('--chip', required=True)
    ap.add_argument('--board', required=True)
    ap.add_argument('--config-dir', required=True)
    ap.add_argument('--label', default='', help='what these objects are (a tracker)')
    ap.add_argument('--dram-budget', type=int)
    ap.add_argument('--iram-budget', type=int)
    ap.add_argument('objects', nargs='+')
    args = ap.parse_args()

    dram = iram = 0
    code_measured = not any(path.endswith('.s') for path in args.objects)
    problems: List[str] = []
    external: Dict[str, List[str]] = {}
    task_context: set = set()
    objects = {os.path.basename(path): read_object(path) for path in args.objects}
    ours = {name: (obj, section) for obj, (_, _, defines) in objects.items() for name, section in defines.items()}
    for obj, (sizes, references, _) in objects.items():
        dram += sum(n for s, n in sizes.items() if s.startswith(DRAM_PREFIXES))
        iram += sum(n for s, n in sizes.items() if s.startswith(IRAM_PREFIXES))
        for ref in references:
            where = ref.where
            if where is None and ref.symbol in ours:
                where = ours[ref.symbol][1]   # another of these objects'
            if where is None:
                external.setdefault(ref.symbol, []).append(f'{obj} {ref.section}')
            elif where.startswith(TASK_CONTEXT_PREFIX):
                task_context.add(f'{obj}: {where[len(TASK_CONTEXT_PREFIX):]}')
            elif not in_ram(where):
                problems.append(f'{obj}: IRAM code ({ref.section}) refers to {ref.symbol}, in {where}: flash')

    placed: List[str] = []
    if external:
        placer = Placer(args.idf, args.chip, Config(args.idf, args.config_dir))
        for symbol in sorted(external):
            ok, how = placer.place(symbol)
            if ok:
                placed.append(f'{symbol}: {how}')
            else:
                problems.append(f'{external[symbol][0]}: IRAM code uses {symbol}: {how}')

    label = f' {args.label}' if args.label else ''
    budget = ''
    if args.dram_budget is not None:
        budget = f' (budget {args.dram_budget:,} / {args.iram_budget:,})'
        if dram > args.dram_budget:
            problems.append(f'{dram:,} B of DRAM, over the board\'s budget of {args.dram_budget:,} B')
        if code_measured and args.iram_budget is not None and iram > args.iram_budget:
            problems.append(f'{iram:,} B of IRAM, over the board\'s budget of {args.iram_budget:,} B')
    if code_measured:
        code = (f'IRAM {iram:,} B{budget}; IRAM code calls {len(placed)} function{"" if len(placed) == 1 else "s"} out'
                f'{", each in IRAM or ROM here" if placed else ""}')
    else:
        code = f'(budget {args.dram_budget:,}); code not measured (Xtensa: needs Espressif\'s compiler)'
    print(f'  {args.chip:8} {args.board:9}{label:6}: DRAM {dram:,} B, {code}')
    for line in placed:
        print(f'      {line}')
    for line in sorted(task_context):
        print(f'      {line}: flash code, called in task context only')
    for line in dict.fromkeys(problems):
        print(f'  check-idf: {args.board}{label}: {line}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
