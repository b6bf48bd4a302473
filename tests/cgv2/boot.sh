#!/usr/bin/env bash
# Boots the cgroup v2 test machine once and runs SHARE/guest.sh in it as root.
# usage: boot.sh SHARE [TIMEOUT_S]
#   SHARE    a host directory, mounted read-write at /mnt/share in the guest: put guest.sh there,
#            read the results back from it. console.log (the kernel console) lands there too.
# env: PYCOMPOSE_CGV2_MEM (MiB, 2048)  PYCOMPOSE_CGV2_SMP (2)
#      PYCOMPOSE_CGV2_DISK (size of an empty scratch virtio disk, /dev/vda in the guest; none)
# Exits with guest.sh's exit code (written by it to SHARE/rc), 125 if the guest never wrote one.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
share=$(cd "$1" && pwd)
timeout_s=${2:-900}
dir=$("$here/make.sh") || exit 125
disk=()
if [ -n "${PYCOMPOSE_CGV2_DISK:-}" ]; then
  truncate -s "$PYCOMPOSE_CGV2_DISK" "$share/scratch.img"
  disk=(-drive "file=$share/scratch.img,format=raw,if=virtio")
fi
rm -f "$share/rc"
# Software emulation: this machine's /dev/kvm cannot run guests (no VMX).
timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp "${PYCOMPOSE_CGV2_SMP:-2}" -m "${PYCOMPOSE_CGV2_MEM:-2048}" \
  -nodefaults -no-user-config -display none -no-reboot \
  -serial "file:$share/console.log" \
  -kernel "$dir/vmlinux" -initrd "$dir/initramfs.gz" \
  -append "console=ttyS0 panic=-1 loglevel=4 mitigations=off" \
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=share,path=$share,security_model=none,multidevs=remap" \
  -device virtio-9p-pci,fsdev=share,mount_tag=share \
  "${disk[@]}" > "$share/qemu.log" 2>&1
qemu_rc=$?
rm -f "$share/scratch.img"
if [ -s "$share/rc" ]; then exit "$(cat "$share/rc")"; fi
echo "boot.sh: the guest wrote no exit code (qemu exit $qemu_rc); console tail:" >&2
tail -n 30 "$share/console.log" >&2
tail -n 5 "$share/qemu.log" >&2
exit 125
