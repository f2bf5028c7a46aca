#!/usr/bin/env python3
"""Writes the small hand-made seeds of fuzz/corpus (CPU and boot targets).

CPU seeds: 33 bytes of state (8 GPRs, flags) then real instruction bytes.
Boot seeds: truncated and mutated headers of tiny synthetic images.
"""
import os, struct
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def state(regs=(1, 2, 3, 4, 0, 0x100, 0x200, 0x300), flags=0):
    return struct.pack("<8IB", *regs, flags)

real = {
    "add-halt": bytes.fromhex("01c8"),                      # add ax,cx
    "loop": bytes.fromhex("b90a00e2fe"),                    # mov cx,10; loop $
    "rep-movsb": bytes.fromhex("b90001f3a4"),               # mov cx,256; rep movsb
    "int3": bytes.fromhex("cc"),
    "div0": bytes.fromhex("31c9f7f1"),                      # xor cx,cx; div cx
    "ud2": bytes.fromhex("0f0b"),
    "push-pop": bytes.fromhex("50515a59"),
    "far-jmp": bytes.fromhex("ea05100000"),                 # jmp 0000:1005
    "pm-enter": bytes.fromhex("0f20c00c010f22c0"),          # mov eax,cr0; or al,1; mov cr0,eax
    "string-out": bytes.fromhex("bae900b041ee"),            # mov dx,0xe9; mov al,'A'; out dx,al
    "x87": bytes.fromhex("d9e8d9eedec1"),                   # fld1; fldz; faddp
    "sse": bytes.fromhex("0f57c0660fefc9"),                 # xorps; pxor
    "iret": bytes.fromhex("9c0e68071000cf"),                # pushf; push cs; push 0x1007; iret
    "self-modify": bytes.fromhex("c6060710f490"),           # mov byte [0x1007],0xf4; nop
}
pm32 = {
    "add-halt": bytes.fromhex("01c8"),
    "loop": bytes.fromhex("b90a000000e2fe"),
    "rep-stosd": bytes.fromhex("bf00200000b940000000f3ab"),
    "load-ds": bytes.fromhex("66b810008ed8"),              # mov ax,0x10; mov ds,ax
    "bad-selector": bytes.fromhex("66b840008ed8"),         # mov ax,0x40 (past GDT limit)
    "int80": bytes.fromhex("cd80"),
    "cpuid": bytes.fromhex("31c00fa2"),
    "paging-on": bytes.fromhex("b80000100f22d80f20c00d000000800f22c0"),
    "rdtsc-rdmsr": bytes.fromhex("0f31b9100000000f32"),
    "call-ret": bytes.fromhex("e801000000c3"),
    "bt-mem": bytes.fromhex("b8ffffff7f0fa305002000"),
    "lgdt": bytes.fromhex("0f0115002000"),
}
pm16 = {
    "add-halt": bytes.fromhex("01c8"),
    "loop": bytes.fromhex("b90a00e2fe"),
    "rep-movsb": bytes.fromhex("b90001f3a4"),
    "int3": bytes.fromhex("cc"),
    "ud2": bytes.fromhex("0f0b"),
    "load-ds32": bytes.fromhex("b810008ed8"),              # mov ax,0x10; mov ds,ax
    "far-jmp-32": bytes.fromhex("66ea0810000008000000"),  # jmp 0008:00001008 (32-bit code)
    "iret": bytes.fromhex("9c0e680810cf"),                # pushf; push cs; push 0x1008; iret
    "lidt-bad": bytes.fromhex("0f011e0020cd03"),          # lidt [0x2000]; int3
}
long = {
    "add-halt": bytes.fromhex("4801c8"),                   # add rax,rcx
    "loop": bytes.fromhex("b90a000000e2fe"),
    "rep-stosq": bytes.fromhex("bf00200000b940000000f348ab"),
    "ud2-ist": bytes.fromhex("0f0b"),
    "int3": bytes.fromhex("cc"),
    "noncanonical": bytes.fromhex("48b80000000000800000488b00"),  # mov rax,0x800000000000; mov rax,[rax]
    "page-fault": bytes.fromhex("48b800000040000000008b00"),      # above the mapped GiB
    "syscall": bytes.fromhex("0f05"),
    "iretq": bytes.fromhex("6a10ff3424489c6a28e80000000048cf"),
    "far-ret-compat": bytes.fromhex("6a0868181000004ccb"),
    "rip-rel": bytes.fromhex("488b0500000000"),
    "cr3-reload": bytes.fromhex("0f20d80f22d8"),
    "cpuid": bytes.fromhex("31c00fa2"),
    # mov rdi,-1; std; mov ecx,16; rep stosb: a REP down from the top of
    # the 64-bit address space (the chunk count overflowed).
    "rep-stosb-down-from-top": bytes.fromhex("48c7c7fffffffffdb910000000f3aa"),
}
compat = {
    "add-halt": bytes.fromhex("01c8"),
    "loop": bytes.fromhex("b90a000000e2fe"),
    "rep-stosd": bytes.fromhex("bf00200000b940000000f3ab"),
    "ud2-ist": bytes.fromhex("0f0b"),
    "int80": bytes.fromhex("cd80"),
    "far-jmp-64": bytes.fromhex("ea081000002800"),         # jmp 0028:00001008 (64-bit code)
    "push-pop": bytes.fromhex("50515a59"),
    "sysenter": bytes.fromhex("0f34"),
    "load-ds-bad": bytes.fromhex("66b840008ed8"),
}
for name, seeds in (("cpu_real", real), ("cpu_pm16", pm16), ("cpu_pm32", pm32),
                    ("cpu_long", long), ("cpu_compat", compat)):
    d = os.path.join(root, name); os.makedirs(d, exist_ok=True)
    for k, code in seeds.items():
        flags = 0x01 if "loop" in k else 0
        open(os.path.join(d, k), "wb").write(state(flags=flags) + code)

# Boot images. A bzImage setup header: 0x202 "HdrS", version, setup_sects.
def bzimage(version=0x020F, setup_sects=4, syssize=0x10, loadflags=1, extra=b""):
    img = bytearray(512 * (setup_sects + 1) + 16 * syssize)
    img[0x1F1] = setup_sects
    struct.pack_into("<I", img, 0x1F4, syssize)
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = loadflags
    struct.pack_into("<I", img, 0x230, 0x200000)   # kernel_alignment
    img[0x234] = 1                                  # relocatable
    struct.pack_into("<I", img, 0x238, 255)         # cmdline_size
    struct.pack_into("<I", img, 0x22C, 0x37FFFFFF)  # initrd_addr_max
    struct.pack_into("<I", img, 0x260, 0x100000)    # init_size
    return bytes(img)

def multiboot_aout(flags=0x00010003, load=0x100000, end=0x101000, bss=0x102000, entry=0x100020):
    img = bytearray(0x1000)
    magic = 0x1BADB002
    struct.pack_into("<III", img, 0x10, magic, flags, (-(magic + flags)) & 0xFFFFFFFF)
    struct.pack_into("<IIIII", img, 0x1C, 0x100010, load, end, bss, entry)
    return bytes(img)

def elf32(entry=0x100000, paddr=0x100000, filesz=0x40, memsz=0x80, phnum=1):
    eh = bytearray(52)
    eh[0:4] = b"\x7fELF"; eh[4] = 1; eh[5] = 1; eh[6] = 1
    struct.pack_into("<HHIIIIIHHHHHH", eh, 16, 2, 3, 1, entry, 52, 0, 0, 52, 32, phnum, 40, 0, 0)
    ph = struct.pack("<IIIIIIII", 1, 0x80, paddr, paddr, filesz, memsz, 5, 0x1000)
    img = bytes(eh) + ph
    img += b"\0" * (0x80 - len(img)) + b"\x90" * filesz
    return img

def multiboot_elf(**kw):
    img = bytearray(elf32(**kw)) + bytearray(0x40)
    magic, flags = 0x1BADB002, 0x3
    struct.pack_into("<III", img, 0x60, magic, flags, (-(magic + flags)) & 0xFFFFFFFF)
    return bytes(img)

boot = {
    "bzimage": bzimage(),
    "bzimage-truncated": bzimage()[:0x300],
    "bzimage-old-version": bzimage(version=0x0200),
    "bzimage-huge-setup": bzimage(setup_sects=0xFF)[:0x1000],
    "bzimage-huge-syssize": bzimage(syssize=0x10)[:0xA00] ,
    "bzimage-not-loaded-high": bzimage(loadflags=0),
    "multiboot-aout": multiboot_aout(),
    "multiboot-aout-end-before-load": multiboot_aout(end=0x0F0000),
    "multiboot-aout-bss-huge": multiboot_aout(bss=0xFFFFF000),
    "multiboot-aout-truncated": multiboot_aout()[:0x20],
    "multiboot-elf": multiboot_elf(),
    "multiboot-elf-memsz-huge": multiboot_elf(memsz=0xFFFFFFF0),
    "multiboot-elf-paddr-high": multiboot_elf(paddr=0xFFFFF000),
    "multiboot-elf-many-phdrs": multiboot_elf(phnum=0xFFFF),
    "empty": b"",
}
d = os.path.join(root, "boot_image"); os.makedirs(d, exist_ok=True)
for k, img in boot.items():
    open(os.path.join(d, k), "wb").write(img)

# Devices streams (crates/machine/src/fuzzing.rs): op byte k = sel << 3 | kind.
PORTS = [0x20, 0xA0, 0x40, 0x61, 0x60, 0x64, 0x70, 0x80, 0x92, 0x00, 0xC0, 0xE9,
         0x1F0, 0x3F6, 0x170, 0x376, 0xC000, 0x3F0, 0x3B0, 0x1CE, 0x3F8, 0x2F8,
         0x4D0, 0xB2, 0xCF8, 0xCF9, 0xCFC, 0x510, 0x600, 0xE0, 0x2000, 0x402]
WINDOWS = [0xFEE00000, 0xFEC00000, 0xFED00000, 0xA0000, 0xE0000000, 0xE1000000, 0xFF000000, 0]
SIZE = {1: 0, 2: 1, 4: 2, 8: 3}

PORT_LENS = [2, 2, 4, 1, 1, 1, 2, 16, 1, 16, 32, 1, 8, 1, 8, 1, 16, 8, 0x30, 2, 8, 8,
             2, 2, 4, 1, 4, 12, 64, 12, 32, 1]

def pbase(p):
    for i, (b, n) in enumerate(zip(PORTS, PORT_LENS)):
        if b <= p < b + n:
            return i, p - b
    raise ValueError("port %#x is in no range of PORTS" % p)

def out(p, v, s=1):
    i, off = pbase(p)
    return bytes([i << 3 | 0, off, SIZE[s]]) + struct.pack("<I", v)
def inp(p, s=1):
    i, off = pbase(p)
    return bytes([i << 3 | 1, off, SIZE[s]])
def mw(a, v, s=4):
    i = max(k for k, b in enumerate(WINDOWS) if b <= a and (b != 0 or a < 0x100000))
    return bytes([i << 3 | 2]) + struct.pack("<IB", a - WINDOWS[i], SIZE[s]) + struct.pack("<Q", v)
def mr(a, s=4):
    i = max(k for k, b in enumerate(WINDOWS) if b <= a and (b != 0 or a < 0x100000))
    return bytes([i << 3 | 3]) + struct.pack("<IB", a - WINDOWS[i], SIZE[s])
def wait(ns):
    return bytes([4]) + struct.pack("<I", ns)
INTA = bytes([5])
def ram(a, data):
    return b"".join(mw(a + i, data[i], 1) for i in range(len(data)))

PIC_INIT = (out(0x20, 0x11) + out(0x21, 0x08) + out(0x21, 0x04) + out(0x21, 0x01)
            + out(0xA0, 0x11) + out(0xA1, 0x70) + out(0xA1, 0x02) + out(0xA1, 0x01))
devices = {
    "pit-periodic": PIC_INIT + out(0x43, 0x34) + out(0x40, 0xA9) + out(0x40, 0x04) + out(0x21, 0xFE) + wait(2_000_000) + INTA + out(0x20, 0x20) + wait(2_000_000) + INTA,
    "rtc-periodic": PIC_INIT + out(0x70, 0x0B) + out(0x71, 0x42) + out(0x70, 0x0A) + out(0x71, 0x26) + out(0x21, 0xFB) + out(0xA1, 0xFE) + wait(5_000_000) + INTA + out(0x70, 0x0C) + inp(0x71),
    "ide-identify": out(0x1F6, 0xA0) + out(0x1F7, 0xEC) + b"".join(inp(0x1F0, 2) for _ in range(8)) + inp(0x1F7),
    "ide-dma-read": ram(0x1000, struct.pack("<IHH", 0x2000, 0x200, 0x8000)) + out(0xC004, 0x1000, 4) + out(0x1F2, 1) + out(0x1F3, 0) + out(0x1F6, 0xE0) + out(0x1F7, 0xC8) + out(0xC000, 0x09) + inp(0xC002) + mr(0x2000),
    "atapi-inquiry": out(0x176, 0xA0) + out(0x174, 0x24) + out(0x175, 0) + out(0x177, 0xA0) + b"".join(out(0x170, w, 2) for w in (0x0012, 0x0024, 0, 0, 0, 0)) + b"".join(inp(0x170, 2) for _ in range(6)),
    "atapi-read10": out(0x176, 0xA0) + out(0x174, 0x00) + out(0x175, 0x08) + out(0x177, 0xA0) + b"".join(out(0x170, w, 2) for w in (0x0028, 0, 0, 0x0100, 0, 0)) + inp(0x177) + inp(0x170, 4),
    "fdc-dma-read": out(0x0A, 0x06) + out(0x0C, 0) + out(0x04, 0x00) + out(0x04, 0x30) + out(0x81, 0) + out(0x05, 0xFF) + out(0x05, 0x01) + out(0x0B, 0x46) + out(0x0A, 0x02)
        + out(0x3F2, 0x1C) + out(0x3F7, 1) + b"".join(out(0x3F5, c) for c in (0xE6, 0, 0, 0, 1, 2, 9, 0x1B, 0xFF)) + wait(1_000_000) + b"".join(inp(0x3F5) for _ in range(7)) + mr(0x3000),
    "fw-cfg-signature": out(0x510, 0, 2) + b"".join(inp(0x511) for _ in range(4)) + out(0x510, 0x19, 2) + inp(0x511, 4),
    "fw-cfg-dma": ram(0x4000, struct.pack(">IIQ", (0x19 << 16) | 0x0A, 64, 0x5000)) + out(0x514, 0, 4) + out(0x518, 0x00400000, 4) + mr(0x4000),
    "fw-cfg-dma-outside-ram": ram(0x4000, struct.pack(">IIQ", (0x19 << 16) | 0x0A, 0xFFFFFFFF, 0xFFFFF000)) + out(0x514, 0, 4) + out(0x518, 0x00400000, 4),
    "vga-dispi-lfb": out(0x1CE, 4, 2) + out(0x1CF, 0, 2) + out(0x1CE, 1, 2) + out(0x1CF, 640, 2) + out(0x1CE, 2, 2) + out(0x1CF, 480, 2) + out(0x1CE, 3, 2) + out(0x1CF, 32, 2) + out(0x1CE, 4, 2) + out(0x1CF, 0x41, 2) + mw(0xE0000000, 0xFFFFFFFF) + mr(0xE0000000) + mw(0xE1000500 + 2, 1024, 2),
    "vga-text": out(0x3C2, 0x67) + out(0x3D4, 0x0E) + out(0x3D5, 0x01) + mw(0xB8000, 0x0741, 2) + mr(0xB8000, 2) + inp(0x3DA) + out(0x3C0, 0x20),
    "lapic-timer": mw(0xFEE000F0, 0x1FF) + mw(0xFEE003E0, 0xB) + mw(0xFEE00320, 0x20030) + mw(0xFEE00380, 1000) + wait(100_000) + INTA + mw(0xFEE000B0, 0) + mr(0xFEE00390),
    "ioapic-redirect": mw(0xFEC00000, 0x10) + mw(0xFEC00010, 0x30) + mw(0xFEC00000, 0x11) + mw(0xFEC00010, 0) + mw(0xFEC00000, 0x01) + mr(0xFEC00010),
    "hpet-periodic": mw(0xFED00100, 0x4C) + mw(0xFED00108, 100000) + mw(0xFED00010, 3) + wait(50_000_000) + mr(0xFED000F0, 8) + INTA,
    "pci-scan": b"".join(out(0xCF8, 0x80000000 | d << 11, 4) + inp(0xCFC, 4) for d in range(4)) + out(0xCF8, 0x80000A00 | 0x10, 4) + out(0xCFC, 0xFFFFFFFF, 4) + inp(0xCFC, 4),
    "uart-loopback": out(0x3FB, 0x80) + out(0x3F8, 1) + out(0x3F9, 0) + out(0x3FB, 3) + out(0x3FC, 0x1B) + out(0x3F9, 0x0F) + out(0x3F8, 0x41) + inp(0x3FD) + inp(0x3F8) + inp(0x3FA),
    "kbc-commands": out(0x64, 0xAA) + inp(0x60) + out(0x64, 0x60) + out(0x60, 0x47) + out(0x60, 0xFF) + wait(10_000_000) + inp(0x60) + inp(0x60) + out(0x64, 0xD4) + out(0x60, 0xF4) + bytes([6 | 3 << 3, 0x01]) + bytes([6 | 4 << 3, 5, 5, 0, 1]) + inp(0x60),
    "acpi-pm": inp(0x608, 4) + wait(1_000_000) + inp(0x608, 4) + out(0x602, 0x0121, 2) + out(0xB2, 0xF1) + out(0x604, 0x2001, 2),
    "testdev": out(0xE0, 0x12345678, 4) + inp(0xE0, 4) + out(0x2000, 1) + mw(0xFF000000, 7) + mr(0xFF000000) + INTA,
    "dma-8237-mem": out(0x0D, 0) + out(0x08, 0x01) + out(0x0B, 0x88) + out(0x0A, 0) + inp(0x08),
    "reset-cf9": out(0xCF9, 0x06) + inp(0x21) + out(0x92, 0x01) + out(0x64, 0xFE),
    "serial-flood": bytes([6 | 5 << 3, 255]) + bytes(255) + inp(0x3FD) + inp(0x3F8),
    "msr-tsc-deadline": bytes([6 | 0 << 3]) + struct.pack("<Q", 0xFEE00900) + bytes([6 | 1 << 3]) + struct.pack("<Q", 1000) + wait(10000) + INTA,
    "empty": b"",
}
d = os.path.join(root, "devices"); os.makedirs(d, exist_ok=True)
for k, s in devices.items():
    open(os.path.join(d, k), "wb").write(s)

# Debugger command lines (crates/debugger/src/fuzzing.rs).
dbg = {
    "views": b"r\ninfo sregs\ninfo cregs\ninfo gdt\ninfo idt\ninfo tss\ninfo tlb\ninfo mode\ninfo pic\ninfo pit\ninfo uart\nmode\n",
    "memory": b"x /32 0x7c00\nxp /4096 0\nx 0:7c00\nu\nu 0x7c00 200\nu ffff:fff0 3\nset mem 0x7c00 0x90 0x90\nxp /2 7c00h\npage 0x7c00\n",
    "breakpoints": b"b 0:7c03\nlb 0x7c06\npb 0x7c0a\nvb 0000:7c0c\nmodebp\nbl\nw 0x500 4 rw\nbd 1\ndelete 99\nc\nbl\n",
    "step": b"s\ns 10\nn\nn\nuntil 0x7c0e\nfinish\nc\ns\n",
    "set-regs": b"set reg eax 0x12345678\nset reg cr0 0x80000011\nset reg eip 0\nset reg cs 0xf000\nset reg nope 1\nset syntax att\nu\nset step-irqs on\ns 3\n",
    "bad-numbers": b"x /99999999999999999999 0\nb ffffffffffffffffff:1\nxp /0 -1\nu 0x7c00 -5\nset mem 0x7c00 0x1ff\nw\nbd\nhelp\n?\n",
    "files-refused": b"trace on /tmp/anyx86-fuzz-trace\nscreendump /tmp/anyx86-fuzz.png\ntrace\nq\nr\n",
}
d = os.path.join(root, "debugger_cmd"); os.makedirs(d, exist_ok=True)
for k, s in dbg.items():
    open(os.path.join(d, k), "wb").write(s)

# GDB remote protocol sessions: packets with checksums, acks, Ctrl-C.
def pkt(s):
    s = s.encode() if isinstance(s, str) else s
    return b"$" + s + b"#%02x" % (sum(s) & 0xFF)
def sess(*ps):
    return b"".join(pkt(p) + b"+" for p in ps)
gdb = {
    "handshake": sess("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386", "vMustReplyEmpty", "QStartNoAckMode", "Hg0", "qXfer:features:read:target.xml:0,ffb", "qTStatus", "?", "qfThreadInfo", "qC", "qAttached"),
    "regs-mem": sess("g", "p8", "P0=78563412", "m7c00,10", "M500,4:deadbeef", "X600,2:\x90\x90", "x7c00,20", "m0,fffff", "mffffffffffffffff,8"),
    "breaks": sess("Z0,7c03,1", "Z1,7c06,1", "Z2,500,4", "Z3,500,2", "Z4,500,1", "c", "z0,7c03,1", "z1,7c06,1", "s", "vCont?", "vCont;s", "vCont;c"),
    "monitor": sess("qRcmd," + b"info regs".hex(), "qRcmd," + b"x /16 0x7c00".hex(), "qRcmd," + b"screendump /tmp/anyx86-fuzz.png".hex(), "qRcmd," + b"step-irqs on".hex(), "qRcmd,zz"),
    "bad-checksums": b"$g#00+$m0,4#ff-$?#3f+" + b"\x03" + b"$#00" + b"}}}$$##" + pkt("qXfer:features:read:target.xml:ffffffff,ffffffff"),
    "ctrl-c": sess("c") + b"\x03" + sess("?", "k"),
    "detach": sess("D"),
    "g-write-garbage": sess("G" + "00" * 1000, "Pffff=00", "P8=zz"),
}
d = os.path.join(root, "gdb_packets"); os.makedirs(d, exist_ok=True)
for k, s in gdb.items():
    open(os.path.join(d, k), "wb").write(s)

# SingleStepTests vector files (crates/cpu/src/singlestep): MOO chunks and JSON.
def chunk(tag, body):
    return tag + struct.pack("<I", len(body)) + body
def regs16(vals):
    # REGS: mask, then the values in order ax bx cx dx cs ss ds es sp bp si di ip flags.
    mask = 0
    out = b""
    for n, v in sorted(vals.items()):
        mask |= 1 << n
        out += struct.pack("<H", v)
    return struct.pack("<H", mask) + out
def ram(pairs):
    return struct.pack("<I", len(pairs)) + b"".join(struct.pack("<IB", a, v) for a, v in pairs)
def moo_test(i, name, code, init_regs, fina_regs, init_ram, fina_ram, excp=None):
    body = struct.pack("<I", i)
    body += chunk(b"NAME", struct.pack("<I", len(name)) + name)
    body += chunk(b"BYTS", struct.pack("<I", len(code)) + code)
    body += chunk(b"INIT", chunk(b"REGS", regs16(init_regs)) + chunk(b"RAM ", ram(init_ram)))
    body += chunk(b"FINA", chunk(b"REGS", regs16(fina_regs)) + chunk(b"RAM ", ram(fina_ram)))
    if excp:
        body += chunk(b"EXCP", struct.pack("<BI", *excp))
    body += chunk(b"HASH", bytes(range(20)))
    return chunk(b"TEST", body)
def moo(cpu, tests):
    hdr = b"\x01\x00\x00\x00" + struct.pack("<I", len(tests)) + cpu
    return chunk(b"MOO ", hdr) + chunk(b"META", b"\x01\x00\x00" + struct.pack("<I", 0x40) + b"inc     ") + b"".join(tests)
# inc ax at 1000:0000 (cs=0x1000 ip=0): ax 1 -> 2; the final IP is past
# the HLT the generator puts after the instruction (2).
init = {0: 1, 4: 0x1000, 5: 0, 6: 0, 7: 0, 8: 0x100, 12: 0, 13: 0x0002}
fina = {0: 2, 12: 2, 13: 0x0002}
code_ram = [(0x10000, 0x40)]
conform = {
    "moo-inc": moo(b"C286", [moo_test(0, b"inc ax", b"\x40", init, fina, code_ram, code_ram)]),
    "moo-286-two": moo(b"C286", [moo_test(0, b"inc ax", b"\x40", init, fina, code_ram, code_ram),
                                 moo_test(1, b"int3", b"\xcc", init, {12: 0}, [(0x10000, 0xCC)], [], (3, 0xFA))]),
    "moo-count-lies": chunk(b"MOO ", b"\x01\x00\x00\x00\xff\xff\xff\xff8088"),
    "moo-truncated": moo(b"8088", [moo_test(0, b"inc ax", b"\x40", init, fina, code_ram, code_ram)])[:60],
    "moo-ram-count-huge": moo(b"8088", [chunk(b"TEST", struct.pack("<I", 0) + chunk(b"INIT", chunk(b"RAM ", struct.pack("<I", 0xFFFFFFFF))))]),
    "json-inc": b'[{"name":"inc ax","bytes":[64],"initial":{"regs":{"ax":1,"cs":4096,"ip":0,"flags":2,"ss":0,"sp":256,"ds":0,"es":0},"ram":[[65536,64]]},"final":{"regs":{"ax":2,"ip":2},"ram":[[65536,64]]},"hash":"00"}]',
    "json-deep": b"[" * 40 + b"]" * 40,
    "json-bad": b'[{"name":1,"bytes":"x"}]',
    "json-exception": b'[{"name":"int3","bytes":[204],"initial":{"regs":{"cs":4096,"ip":0,"ss":0,"sp":256,"flags":2},"ram":[[65536,204]]},"final":{"regs":{"ip":0},"ram":[]},"exception":{"number":3,"flag_address":250}}]',
}
d = os.path.join(root, "conform_vectors"); os.makedirs(d, exist_ok=True)
for k, s in conform.items():
    open(os.path.join(d, k), "wb").write(s)

# Disk images (crates/machine/src/fuzzing.rs): kind | snapshot<<2, sectors (u16), extra bytes, content.
def image(kind, sectors, extra=0, content=b"", snapshot=False):
    return bytes([kind | (4 if snapshot else 0)]) + struct.pack("<HB", sectors, extra) + content
mbr = bytes(446) + b"\x80" + bytes(15) + bytes(48) + b"\x55\xaa"
disks = {
    "hd-one-sector": image(0, 1, content=mbr),
    "hd-64k": image(0, 128, content=mbr + b"\xAB" * 512),
    "hd-snapshot": image(0, 16, content=mbr, snapshot=True),
    "hd-odd-size": image(0, 4, extra=100),
    "hd-empty": image(0, 0),
    "cd-one-block": image(1, 4, content=b"CD001" * 10),
    "cd-not-whole-block": image(1, 5),
    "cd-small": image(1, 2),
    "floppy-1440": image(2, 2880, content=b"\xEB\x3C\x90MSDOS5.0"),
    "floppy-360": image(2, 720),
    "floppy-2880": image(2, 5760),
    "floppy-odd": image(2, 2881),
}
d = os.path.join(root, "disk_image"); os.makedirs(d, exist_ok=True)
for k, s in disks.items():
    open(os.path.join(d, k), "wb").write(s)
