"""Build small root filesystems for tests from local material (Debian's busybox-static)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
"""
_GROUP = """root:x:0:
daemon:x:1:
wheel:x:10:app
app:x:1000:
nogroup:x:65534:
"""


def busybox_available() -> bool:
    """True when a static busybox is installed (Debian package busybox-static)."""
    # busybox-static ships /bin/busybox; the dynamic variant would need libc inside the rootfs.
    return BUSYBOX.exists() and b"/lib64/ld-linux" not in BUSYBOX.read_bytes()[:4096]


def make_busybox_rootfs(dest: Path) -> Path:
    """Create a minimal busybox root filesystem in ``dest`` and return it.

    Contains /bin/busybox with its applets as symlinks, /etc/passwd and /etc/group (users root,
    daemon, nobody, app=1000), and empty /proc, /sys, /dev, /tmp, /etc/hosts, /etc/resolv.conf.
    """
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
              "home/app", "var", "run"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = dest / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
    (dest / "etc" / "passwd").write_text(_PASSWD)
    (dest / "etc" / "group").write_text(_GROUP)
    (dest / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (dest / "etc" / "resolv.conf").write_text("")
    os.chown(dest / "home" / "app", 1000, 1000) if os.geteuid() == 0 else None
    return dest
