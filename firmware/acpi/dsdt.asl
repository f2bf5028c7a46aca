/*
 * DSDT of anyx86's default machine: QEMU's `pc` board (i440FX host bridge,
 * PIIX3 ISA bridge at 00:01.0, PIIX4 ACPI at 00:01.3, one CPU).
 *
 * Modelled on the DSDT QEMU builds for `-M pc` (hw/i386/acpi-build.c),
 * without the hotplug machinery. Build with firmware/acpi/build.sh; the
 * README next to this file lists where it differs from QEMU's.
 *
 * Revision 1: 32-bit AML integers, as QEMU's pc DSDT.
 */
DefinitionBlock ("", "DSDT", 1, "ANYX86", "ANYX86PC", 0x00000001)
{
    Scope (\_SB)
    {
        /* The one processor, matched to MADT processor UID 0. */
        Device (CPU0)
        {
            Name (_HID, "ACPI0007")
            Name (_UID, Zero)
        }

        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_ADR, Zero)
            Name (_UID, Zero)

            /*
             * Root bridge windows. The 32-bit PCI hole is fixed at
             * 0xE0000000-0xFEBFFFFF: RAM is at most 3.5 GiB (0xE0000000),
             * so the hole never overlaps it, and SeaBIOS places BARs from
             * 0xE0000000 up on such machines. 0xFEC00000 up (I/O APIC,
             * HPET, local APIC, BIOS) is not PCI's to hand out.
             */
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100,,,)
                /* The configuration mechanism #1 ports, consumed here. */
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08,)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8,,, , TypeStatic)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300,,, , TypeStatic)
                /* Legacy VGA frame buffer window. */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000,,, , AddressRangeMemory, TypeStatic)
                /* 32-bit PCI hole. */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xE0000000, 0xFEBFFFFF, 0x00000000, 0x1EC00000,,, , AddressRangeMemory, TypeStatic)
            })

            /*
             * PCI interrupt routing, QEMU's swizzle: device `s`, pin `p`
             * (0 = INTA#) goes to link (s + p) mod 4, with 0 = LNKD,
             * 1 = LNKA, 2 = LNKB, 3 = LNKC. Device 1 pin INTA# (the PIIX
             * functions, whose ACPI function's SCI is hard-wired to IRQ 9)
             * goes to LNKS instead of LNKA.
             */
            Method (_PRT, 0, NotSerialized)
            {
                Local0 = Package (0x80) {}
                Local1 = Zero
                While (Local1 < 0x80)
                {
                    Local2 = (Local1 >> 0x02)
                    Local3 = ((Local1 + Local2) & 0x03)
                    If (Local3 == Zero)
                    {
                        Local4 = Package (0x04) { Zero, Zero, LNKD, Zero }
                    }
                    If (Local3 == One)
                    {
                        If (Local1 == 0x04)
                        {
                            Local4 = Package (0x04) { Zero, Zero, LNKS, Zero }
                        }
                        Else
                        {
                            Local4 = Package (0x04) { Zero, Zero, LNKA, Zero }
                        }
                    }
                    If (Local3 == 0x02)
                    {
                        Local4 = Package (0x04) { Zero, Zero, LNKB, Zero }
                    }
                    If (Local3 == 0x03)
                    {
                        Local4 = Package (0x04) { Zero, Zero, LNKC, Zero }
                    }
                    Local4 [Zero] = ((Local2 << 0x10) | 0xFFFF)
                    Local4 [One] = (Local1 & 0x03)
                    Local0 [Local1] = Local4
                    Local1++
                }
                Return (Local0)
            }

            /* PIIX3 PCI-to-ISA bridge, function 0 of device 1. */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                /* PIRQRC[A:D], PIIX3 configuration registers 0x60-0x63. */
                OperationRegion (P40C, PCI_Config, 0x60, 0x04)

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01,)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01,)
                        IRQNoFlags () {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08,)
                        IRQNoFlags () {4}
                    })
                }

                Device (COM2)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, 0x02)
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x02F8, 0x02F8, 0x00, 0x08,)
                        IRQNoFlags () {3}
                    })
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x08,)
                        IRQNoFlags () {8}
                    })
                }
            }

            /* QEMU's GPE0 block (not the PIIX4 one), reserved here. */
            Device (GPE0)
            {
                Name (_HID, "PNP0A06")
                Name (_UID, "GPE0 resources")
                Name (_STA, 0x0B)
                Name (_CRS, ResourceTemplate ()
                {
                    IO (Decode16, 0xAFE0, 0xAFE0, 0x01, 0x04,)
                })
            }

            /* QEMU firmware configuration interface (selector, data, DMA). */
            Device (FWCF)
            {
                Name (_HID, "QEMU0002")
                Name (_STA, 0x0B)
                Name (_CRS, ResourceTemplate ()
                {
                    IO (Decode16, 0x0510, 0x0510, 0x01, 0x0C,)
                })
            }
        }

        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400,)
            })
        }

        /* PIRQRC[A:D]: bits 3:0 the ISA IRQ, bit 7 set = routing disabled. */
        Field (PCI0.ISA.P40C, ByteAcc, NoLock, Preserve)
        {
            PRQ0, 8,
            PRQ1, 8,
            PRQ2, 8,
            PRQ3, 8
        }

        /* _STA of a link from its PIRQRC: disabled (9) or enabled (0x0B). */
        Method (IQST, 1, NotSerialized)
        {
            If (0x80 & Arg0)
            {
                Return (0x09)
            }
            Return (0x0B)
        }

        /* _CRS of a link from its PIRQRC: the routed IRQ, or none. */
        Method (IQCR, 1, Serialized)
        {
            Name (PRR0, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,, _Y00)
                {
                    0x00000000,
                }
            })
            CreateDWordField (PRR0, \_SB.IQCR._Y00._INT, PRRI)
            If (Arg0 < 0x80)
            {
                PRRI = Arg0
            }
            Return (PRR0)
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, Zero)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,,) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (PRQ0)) }
            Method (_DIS, 0, NotSerialized) { PRQ0 |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (PRQ0)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ0 = PRRI
            }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,,) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (PRQ1)) }
            Method (_DIS, 0, NotSerialized) { PRQ1 |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (PRQ1)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ1 = PRRI
            }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,,) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (PRQ2)) }
            Method (_DIS, 0, NotSerialized) { PRQ2 |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (PRQ2)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ2 = PRRI
            }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,,) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (PRQ3)) }
            Method (_DIS, 0, NotSerialized) { PRQ3 |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (PRQ3)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ3 = PRRI
            }
        }

        /* The PIIX4 ACPI function's INTA#: wired to the SCI, IRQ 9. */
        Device (LNKS)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x04)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,,) {9}
            })
            Method (_STA, 0, NotSerialized) { Return (0x0B) }
            Method (_DIS, 0, NotSerialized) {}
            Method (_CRS, 0, NotSerialized) { Return (_PRS) }
            Method (_SRS, 1, NotSerialized) {}
        }
    }

    /* Soft-off: PIIX4 PM1a_CNT SLP_TYP 0 (QEMU). No S3/S4. */
    Name (\_S5, Package (0x04) { Zero, Zero, Zero, Zero })
}
