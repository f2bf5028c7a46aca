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
