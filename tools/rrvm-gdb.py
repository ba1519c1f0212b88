# gdb helper for rrvm's GDB server: makes x/i, display/i $pc and disassemble
# decode 32-bit guest code correctly.
#
#   gdb -x tools/rrvm-gdb.py -ex 'target remote | rrvm replay t.rrt --gdb -'
#
# rrvm describes the vCPU to gdb as i386:x86-64, the only description that
# holds the registers in both of a Multiboot guest's modes: gdb 13 reads it
# once per connection and cannot switch when the guest enters long mode. So
# gdb's own disassembler decodes everything as 64-bit code, which is wrong
# for 32-bit code (0x40 is "inc eax" there but a REX prefix in 64-bit code,
# moffs operands are 4 bytes, not 8). This registers a gdb 13 Python
# disassembler that, while the CPU is not in 64-bit mode (`monitor mode`),
# asks the server to decode each instruction in the mode the CPU is really
# in (`monitor decode ADDR FLAVOR`, Capstone). In 64-bit mode, and on targets
# other than rrvm, gdb's own disassembler runs unchanged.
import gdb
import gdb.disassembler


def _monitor(command):
    try:
        return gdb.execute("monitor " + command, to_string=True)
    except gdb.error:
        return ""  # not connected, or not an rrvm server


class RrvmDisassembler(gdb.disassembler.Disassembler):
    def __init__(self):
        super().__init__("rrvm")

    def __call__(self, info):
        if not _monitor("mode").startswith("32-bit"):
            return None  # gdb's own disassembler
        flavor = gdb.parameter("disassembly-flavor")
        reply = _monitor(f"decode {info.address:#x} {flavor}").strip()
        size, _, text = reply.partition(" ")
        if not size.isdigit():
            return None
        return gdb.disassembler.DisassemblerResult(int(size), text)


gdb.disassembler.register_disassembler(RrvmDisassembler(), "i386:x86-64")
