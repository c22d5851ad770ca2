"""The virtual board's REPL protocol: what passes between the unix firmware's REPL and a client.

A board's REPL and the unix port's differ in line endings (``\\r\\n`` vs ``\\n``) and in
how input line ends reach the lexer; ReplProtocol translates both ways and follows
the REPL's state on the way (friendly or raw REPL, a raw-REPL command's progress,
raw-paste sessions, mpremote's mount protocol). No I/O here: board.py feeds it.
"""

import re

__all__ = ["ReplProtocol", "RAW_BANNER", "FRIENDLY_PROMPT", "MOUNT_COMMANDS"]

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_PROMPT = b">>> "

# mpremote's mount protocol: after 0x18 and a command byte the device writes
# these fields (1 = s8, 4 = s32, "s" = s32 length + bytes), then reads the
# reply. See mpremote/transport_serial.py (RemoteCommand, PyboardCommand).
MOUNT_COMMANDS = {
    1: ("s",),  # stat(path)
    2: ("s",),  # ilistdir_start(path)
    3: (),  # ilistdir_next
    4: ("s", "s"),  # open(path, mode)
    5: (1,),  # close(fd)
    6: (1, 4),  # read(fd, n)
    7: (1,),  # readline(fd)
    8: (1, "s"),  # write(fd, data)
    9: (1, 4, 1),  # seek(fd, n, whence)
    10: ("s",),  # remove(path)
    11: ("s", "s"),  # rename(old, new)
    12: ("s",),  # mkdir(path)
    13: ("s",),  # rmdir(path)
}

_LONE_LF = re.compile(rb"(?<!\r)\n")


class ReplProtocol:
    """What sits between the unix firmware's REPL and the client, in both directions.

    feed(firmware_output) -> bytes for the client: a board's line endings, and the
    REPL state followed on the way (mode "friendly"/"raw", raw-REPL command
    progress, raw-paste sessions).

    client_input(data) -> (bytes for the firmware, bytes for the client). The unix
    firmware's REPL input turns every \\n into \\r, so code with CRLF line ends
    (a CRLF file sent with `mpremote run`) would reach its lexer as \\r\\r: two
    line breaks, where a board's lexer sees one. While a raw-REPL client sends
    code, \\r\\n goes to the firmware as \\r. In raw-paste mode that would
    upset the firmware's flow-control count (it acks each window of bytes *it*
    read), so in a paste session the board answers the client's windows itself
    (its buffer, a pipe and a queue, cannot overflow) and drops the firmware's acks.
    Program input (the mount protocol, sys.stdin) is never changed.
    """

    # raw-REPL states
    (_IDLE, _PROMPT_WAIT, _AT_PROMPT, _GOT_O, _GOT_R, _PASTE_W, _PASTE_CREDIT, _PASTE_DATA,
     _EXEC) = range(9)

    def __init__(self, banner=None):
        self.banner = banner  # the firmware's banner line, ends with \r\n
        self.mode = "friendly"
        self._prev_cr = False
        self._tail = b""
        self._rstate = self._IDLE
        self._eofs_left = 0
        self._wbuf = b""
        # client side of a raw-paste session
        self._paste_in = False
        self._paste_window = 0
        self._paste_count = 0
        self._in_cr = False
        # mpremote's mount protocol: a session runs from the client's `__mount()`
        # (mpremote's fs_hook_code) until the firmware's next boot or `os.umount`;
        # outside one, 0x18 is program output like any other byte.
        self.mount_active = False
        self._in_tail = b""
        # output for the client at the start of the next raw-REPL command's output
        self.command_notice = b""
        # mount protocol record being passed through
        self._pending_18 = False
        self._fields = []
        self._need = 0
        self._lenbuf = None

    def soft_reboot(self):
        """The firmware rebooted: its mounts are gone (mpremote mounts again if it wants)."""
        self.mount_active = False
        self._pending_18 = False
        self._fields = []
        self._need = 0
        self._lenbuf = None

    def _follow_mount(self, data):
        buf = self._in_tail + data
        start = buf.rfind(b"__mount()")
        stop = buf.rfind(b'os.umount("/remote")')
        if start >= 0 or stop >= 0:
            self.mount_active = start > stop
        self._in_tail = buf[-24:]

    def new_firmware(self):
        """A new firmware process starts: nothing is half-sent any more."""
        self.soft_reboot()
        self._in_tail = b""
        self.command_notice = b""
        self._prev_cr = False
        self._paste_in = False
        self._in_cr = False

    def eofs_missing(self):
        """In raw mode while a command runs: how many of its 0x04 end markers are still due."""
        if self.mode != "raw":
            return 0
        if self._rstate in (self._PASTE_W, self._PASTE_CREDIT, self._PASTE_DATA):
            return 3
        if self._rstate == self._EXEC:
            return self._eofs_left
        return 0

    # -- client -> firmware ----------------------------------------------------

    def client_input(self, data):
        self._follow_mount(data)
        if self._paste_in:
            ends = [j for j in (data.find(b"\x04"), data.find(b"\x03")) if j >= 0]
            j = min(ends) if ends else len(data)
            self._paste_count += j
            acks = b"\x01" * (self._paste_count // self._paste_window)
            self._paste_count %= self._paste_window
            to_fw = self._crlf(data[:j])
            if ends:  # end of the code (or abort): what follows is the program's input
                self._paste_in = False
                to_fw += data[j:]
            return to_fw, acks
        if self.mode == "raw" and self._rstate in (self._PROMPT_WAIT, self._AT_PROMPT):
            return self._crlf(data), b""  # raw-REPL command being typed
        self._in_cr = False
        return data, b""

    def _crlf(self, data):
        if self._in_cr and data[:1] == b"\n":
            data = data[1:]
        if data:
            self._in_cr = data[-1:] == b"\r"
        return data.replace(b"\r\n", b"\r")

    # -- firmware -> client ----------------------------------------------------

    def feed(self, data):
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            if self._pending_18:
                self._pending_18 = False
                fields = MOUNT_COMMANDS.get(data[i])
                if fields is None:
                    self._text(b"\x18", out)  # not a record; the byte is reread as text
                    continue
                out += b"\x18" + data[i : i + 1]
                i += 1
                self._fields = list(fields)
                self._next_field()
            elif self._need:
                k = min(self._need, n - i)
                chunk = data[i : i + k]
                out += chunk
                i += k
                self._need -= k
                if self._lenbuf is not None:
                    self._lenbuf += chunk
                    if not self._need:
                        self._need = max(0, int.from_bytes(self._lenbuf, "little", signed=True))
                        self._lenbuf = None
                        if not self._need:
                            self._next_field()
                elif not self._need:
                    self._next_field()
            else:
                j = data.find(b"\x18", i) if self.mount_active else -1
                if j < 0:
                    self._text(data[i:], out)
                    break
                self._text(data[i:j], out)
                self._pending_18 = True
                i = j + 1
        return bytes(out)

    def _next_field(self):
        self._prev_cr = False
        self._lenbuf = None
        self._need = 0
        if self._fields:
            f = self._fields.pop(0)
            if f == "s":
                self._lenbuf = bytearray()
                self._need = 4
            else:
                self._need = f

    def _text(self, seg, out):
        seg = self._track(seg)
        if not seg:
            return
        last_cr = seg[-1:] == b"\r"
        if self._prev_cr and seg[:1] == b"\n":
            out += b"\n"
            seg = seg[1:]
        out += _LONE_LF.sub(b"\r\n", seg)
        self._prev_cr = last_cr

    def _track(self, seg):
        """Follows the REPL state through seg; returns seg without the firmware's paste acks."""
        buf = self._tail + seg
        best = None
        for marker, mode in ((RAW_BANNER, "raw"), (self.banner, "friendly")):
            if not marker:
                continue
            p = buf.rfind(marker)
            if p >= 0:
                end = p + len(marker)
                if end > len(self._tail) and (best is None or end > best[0]):
                    best = (end, mode)
        keep = max(len(RAW_BANNER), len(self.banner or b"")) - 1
        self._tail = buf[-keep:]
        if best is not None:
            end, self.mode = best
            self._rstate = self._PROMPT_WAIT if self.mode == "raw" else self._IDLE
            self._paste_in = False
            end -= len(buf) - len(seg)  # now an index into seg
            head, seg = seg[:end], seg[end:]
        else:
            head = b""
        if self.mode == "raw" and seg:
            seg = self._raw_track(seg)
        return head + seg

    def _put_notice(self, kept, seg, start, at):
        """A command's output starts at seg[at]: the pending notice goes first."""
        if not self.command_notice:
            return start
        kept.append(seg[start:at])
        kept.append(self.command_notice)
        self.command_notice = b""
        return at

    def _raw_track(self, seg):
        kept = []
        i, n = 0, len(seg)
        start = 0
        while i < n:
            st = self._rstate
            if st == self._EXEC:
                j = seg.find(b"\x04", i)
                if j < 0:
                    break
                i = j + 1
                self._eofs_left -= 1
                if not self._eofs_left:
                    self._rstate = self._PROMPT_WAIT
            elif st == self._PROMPT_WAIT:
                j = seg.find(b">", i)
                if j < 0:
                    break
                i = j + 1
                self._rstate = self._AT_PROMPT
            elif st == self._PASTE_DATA:
                # only window acks (dropped: the board sends its own) and the end 0x04
                c = seg[i]
                if c == 0x01:
                    kept.append(seg[start:i])
                    start = i + 1
                elif c == 0x04:
                    self._rstate, self._eofs_left = self._EXEC, 2
                    start = self._put_notice(kept, seg, start, i + 1)
                i += 1
            else:
                c = seg[i]
                i += 1
                if st == self._AT_PROMPT:
                    self._rstate = {0x4F: self._GOT_O, 0x52: self._GOT_R}.get(c, self._PROMPT_WAIT)
                elif st == self._GOT_O:
                    if c == 0x4B:  # "OK": a command was received
                        self._rstate, self._eofs_left = self._EXEC, 2
                        start = self._put_notice(kept, seg, start, i)
                    else:
                        self._rstate = self._PROMPT_WAIT
                elif st == self._GOT_R:
                    if c == 0x01:  # "R\x01": raw-paste accepted; the window size follows
                        self._rstate, self._wbuf = self._PASTE_W, b""
                    elif c == 0x00:  # raw-paste refused; the client falls back to "OK"
                        self._rstate = self._AT_PROMPT
                    else:
                        self._rstate = self._PROMPT_WAIT
                elif st == self._PASTE_W:
                    self._wbuf += bytes([c])
                    if len(self._wbuf) == 2:
                        self._rstate = self._PASTE_CREDIT
                elif st == self._PASTE_CREDIT:
                    # the firmware's first credit (passed on); from here the board does flow control
                    self._rstate = self._PASTE_DATA
                    self._paste_in = True
                    self._paste_window = max(1, int.from_bytes(self._wbuf, "little"))
                    self._paste_count = 0
                    self._in_cr = False
                else:
                    self._rstate = self._PROMPT_WAIT
        kept.append(seg[start:])
        return b"".join(kept)

