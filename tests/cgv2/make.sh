#!/usr/bin/env bash
# Builds the cgroup v2 test machine from Debian packages (tests/setup.sh installs them): the
# newest /boot/vmlinuz-* unpacked to a raw vmlinux (QEMU boots it directly, PVH) and an initramfs
# with static busybox and the virtio/9p modules, whose /init is tests/cgv2/init.sh.
# usage: make.sh [DIR]   (default ${PYCOMPOSE_CGV2_DIR:-/var/tmp/pycompose-cgv2}); prints DIR.
# Idempotent: rebuilds only when the kernel or init.sh changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${PYCOMPOSE_CGV2_DIR:-/var/tmp/pycompose-cgv2}}
mkdir -p "$dir"
for tool in qemu-system-x86_64 cpio; do
  command -v "$tool" >/dev/null || { echo "make.sh: $tool missing (bash tests/setup.sh)" >&2; exit 3; }
done
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$kernel" ] || { echo "make.sh: no /boot/vmlinuz-* (apt-get install linux-image-amd64)" >&2; exit 3; }
kver=${kernel#/boot/vmlinuz-}
[ -d "/lib/modules/$kver" ] || { echo "make.sh: /lib/modules/$kver missing" >&2; exit 3; }
stamp="$kver $(sha256sum "$here/init.sh" | cut -c1-16)"
if [ -s "$dir/vmlinux" ] && [ -s "$dir/initramfs.gz" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$dir"; exit 0
fi
# Debian compresses the kernel with xz: find the stream inside the bzImage and unpack it.
/usr/bin/python3 - "$kernel" "$dir/vmlinux.tmp" <<'PY'
import lzma, sys
blob = open(sys.argv[1], "rb").read()
start = blob.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit("no xz stream in " + sys.argv[1])
with open(sys.argv[2], "wb") as out:
    out.write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob[start:]))
PY
mv "$dir/vmlinux.tmp" "$dir/vmlinux"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,mods,newroot}
bb=$(command -v busybox) || { echo "make.sh: busybox missing (busybox-static)" >&2; exit 3; }
cp "$bb" "$work/bin/busybox"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
         netfs fscache 9pnet 9pnet_virtio 9p; do
  src=$(find "/lib/modules/$kver" -name "$m.ko*" | head -n1)
  [ -n "$src" ] || { echo "make.sh: module $m not in /lib/modules/$kver" >&2; exit 3; }
  case $src in
    *.xz) xz -dc "$src" > "$work/mods/$m.ko";;
    *.zst) zstd -qdc "$src" > "$work/mods/$m.ko";;
    *) cp "$src" "$work/mods/$m.ko";;
  esac
  echo "$m" >> "$work/mods/order"
done
cp "$here/init.sh" "$work/init"
chmod 755 "$work/init"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -6) > "$dir/initramfs.gz"
echo "$stamp" > "$dir/stamp"
echo "$dir"
