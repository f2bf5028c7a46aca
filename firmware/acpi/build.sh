#!/bin/sh
# Compiles dsdt.asl into dsdt.aml reproducibly.
#
#   build.sh          recompile and replace dsdt.aml
#   build.sh --check  recompile and fail (exit 1) if dsdt.aml differs
#
# iasl stamps its own identity into the table header (Compiler ID "INTL"
# and its version as Compiler Revision, bytes 28-35). Those 8 bytes are
# overwritten with "ANYX" and revision 1, as our other tables carry, and the
# checksum (byte 9) is recomputed, so any iasl that emits the same AML
# gives the same file. See README.md for the iasl version used.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-build}
case "$mode" in
    build|--check) ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

command -v iasl >/dev/null 2>&1 || {
    echo "build.sh: iasl not found (Debian/Ubuntu: apt-get install acpica-tools)" >&2
    exit 2
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/dsdt.asl" "$tmp/dsdt.asl"
(cd "$tmp" && iasl -vs -p dsdt dsdt.asl >"$tmp/iasl.log" 2>&1) || {
    cat "$tmp/iasl.log" >&2
    echo "build.sh: iasl failed" >&2
    exit 1
}

# Fixed creator fields, then the checksum so all bytes sum to 0 mod 256.
perl -e '
    binmode STDIN; binmode STDOUT;
    local $/; my $t = <STDIN>;
    substr($t, 28, 8) = "ANYX" . pack("V", 1);
    substr($t, 9, 1) = "\0";
    my $sum = unpack("%8C*", $t);
    substr($t, 9, 1) = chr((256 - $sum) % 256);
    print $t;
' <"$tmp/dsdt.aml" >"$tmp/dsdt.fixed"

if [ "$mode" = "--check" ]; then
    if cmp -s "$tmp/dsdt.fixed" "$here/dsdt.aml"; then
        echo "build.sh: dsdt.aml matches dsdt.asl"
        exit 0
    fi
    echo "build.sh: dsdt.aml is stale or was built differently; run firmware/acpi/build.sh" >&2
    exit 1
fi
cp "$tmp/dsdt.fixed" "$here/dsdt.aml"
echo "build.sh: wrote $here/dsdt.aml ($(wc -c <"$here/dsdt.aml") bytes)"
