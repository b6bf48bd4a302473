#!/bin/busybox sh
# /init of the cgroup v2 test machine (stage 1, in the initramfs). Mounts the host's / read-only
# over 9p as the new root, tmpfs over every directory tests write to, the per-run share (rw) on
# /mnt/share and cgroup2 alone on /sys/fs/cgroup, then runs /mnt/share/guest.sh as PID 1 of the
# new root. The guest powers off when it ends (panic=-1 turns a crash into a reboot = exit).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do insmod /mods/$m.ko || echo "cgv2 init: insmod $m failed"; done
opts=trans=virtio,version=9p2000.L,msize=262144,cache=loose
r=/newroot
if ! mount -t 9p -o ro,$opts hostroot $r; then
  echo "cgv2 init: cannot mount the host root"; echo o > /proc/sysrq-trigger; sleep 10
fi
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
for d in /tmp /run /var/tmp /var/lib /var/log /var/cache /root /home /mnt /srv /opt; do
  [ -d $r$d ] && mount -t tmpfs -o mode=755 tmpfs $r$d
done
chmod 1777 $r/tmp
mkdir -p $r/mnt/share
mount -t 9p -o $opts share $r/mnt/share || echo "cgv2 init: cannot mount the share"
mount -t cgroup2 -o nsdelegate cgroup2 $r/sys/fs/cgroup
exec switch_root $r /bin/sh /mnt/share/guest.sh
