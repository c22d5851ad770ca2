# The virtual board's boot: what a board's frozen _boot.py does, run by every
# boot (the firmware's command-line code calls boot(root), heaptrack_host/vboard/
# board.py: BOOT_CODE) before boot.py, main.py and the REPL. The firmware arms
# no Ctrl-C while it runs (boards/HOST/repl.c), so it cannot be interrupted half
# way. Frozen, so that the host passes the flash directory and nothing else.
import os
import sys
import vfs


class Flash:
    # The flash directory as a board's root filesystem: a VfsPosix rooted there,
    # whose ilistdir also gives sizes as FAT/littlefs do (mpremote fs ls shows
    # them) and whose statvfs is a board's 2 MiB partition (mpremote df). It
    # delegates rather than subclasses VfsPosix: the VFS layer would call a
    # native subclass's C protocol with the Python instance.
    def __init__(self, root):
        self.p = vfs.VfsPosix(root)

    def mount(self, readonly, mkfs):
        self.p.mount(readonly, mkfs)

    def umount(self):
        self.p.umount()

    def ilistdir(self, path):
        for e in self.p.ilistdir(path):
            size = 0
            if e[1] == 0x8000:
                try:
                    size = self.p.stat(path.rstrip("/") + "/" + e[0] if path else e[0])[6]
                except Exception:
                    pass
            yield (e[0], e[1], e[2], size)

    def open(self, path, mode):
        return self.p.open(path, mode)

    def chdir(self, path):
        self.p.chdir(path)

    def getcwd(self):
        return self.p.getcwd()

    def mkdir(self, path):
        self.p.mkdir(path)

    def remove(self, path):
        self.p.remove(path)

    def rename(self, old, new):
        self.p.rename(old, new)

    def rmdir(self, path):
        self.p.rmdir(path)

    def stat(self, path):
        return self.p.stat(path)

    def statvfs(self, path):
        # As a board's 2 MiB littlefs partition of 4 KiB blocks, with the blocks
        # its files take (the host disk's figures would mean nothing here).
        free = max(0, 512 - self._blocks(""))
        return (4096, 4096, 512, free, free, 0, 0, 0, 0, 255)

    def _blocks(self, path):
        n = 1
        for e in self.p.ilistdir(path):
            sub = path + "/" + e[0] if path else e[0]
            try:
                n += self._blocks(sub) if e[1] == 0x4000 else (self.p.stat(sub)[6] + 4095) // 4096
            except Exception:
                pass
        return n

    def __repr__(self):
        return "<VfsFlash>"


def boot(root):
    try:
        os.umount("/")
        os.mount(Flash(root), "/")
        os.chdir("/")
    except Exception as e:
        print("vboard: flash not mounted at /:", repr(e))
    # The firmware's command line is the host's business, not the board's.
    while sys.argv:
        sys.argv.pop()
