#!/usr/bin/env bash
# Prepares the local material the example base images are built from (no registry needed):
#
#   examples/images/busybox/busybox            Debian's busybox-static binary (/bin/busybox)
#   examples/images/debian/debian-rootfs.tar   a debootstrap --variant=minbase rootfs with the
#                                              packages listed in examples/images/debian/packages
#
# The Debian rootfs is cached in $PYCOMPOSE_EXAMPLES_CACHE (default
# /var/cache/pycompose/examples), keyed by the suite, the mirror and the package list, so only
# the first run on a machine pays for debootstrap (about a minute); later runs link or copy the
# cached tarball (instant). Older tarballs in the cache are not pruned: remove them by hand.
#
# Usage: examples/images/prepare.sh [busybox|debian|all]     (default: all; needs root)
# Then:  pycompose build (the example stacks name these directories as their build contexts).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WHAT="${1:-all}"
SUITE=bookworm
RECIPE=2   # bump when build_rootfs/slim_rootfs change what goes into the tarball (cache key)
CACHE="${PYCOMPOSE_EXAMPLES_CACHE:-/var/cache/pycompose/examples}"

say() { echo "prepare: $*" >&2; }

prepare_busybox() {
  local src=/bin/busybox dest="$HERE/busybox/busybox"
  [ -x "$src" ] || { say "$src missing: apt-get install busybox-static"; exit 1; }
  if ! cmp -s "$src" "$dest" 2>/dev/null; then
    install -m 0755 "$src" "$dest"
  fi
  say "busybox ready ($dest)"
}

# The first http(s) URI of the Debian main archive in this machine's apt sources (deb822 or
# one-line format): package mirrors are the only network this kind of machine can reach.
# PYCOMPOSE_DEBIAN_MIRROR overrides it.
apt_mirror() {
  if [ -n "${PYCOMPOSE_DEBIAN_MIRROR:-}" ]; then echo "$PYCOMPOSE_DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk 'tolower($1)=="uris:" {for (i = 2; i <= NF; i++) print $i}' \
          | grep -E '/debian/?$' | head -n1 || true)"
  if [ -z "$uri" ]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1=="deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' \
            | grep -E '/debian/?$' | head -n1 || true)"
  fi
  [ -n "$uri" ] || { say "no Debian mirror found in the apt sources"; exit 1; }
  echo "$uri"
}

package_list() {
  grep -v -e '^\s*#' -e '^\s*$' "$HERE/debian/packages" | tr -d ' \t' | sort -u | paste -sd, -
}

# Drop what a container never needs: docs, man pages, translations, locale sources (C.UTF-8
# is built in; nothing runs locale-gen), apt's caches, and
# postgres' optional LLVM JIT (libLLVM + libz3 are ~130 MB; without the plugin postgres simply
# runs with jit unavailable).
slim_rootfs() {
  local root="$1"
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
         "$root"/usr/share/locale/* "$root"/usr/share/lintian "$root"/var/cache/apt/* \
         "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
         "$root"/var/log/*.log "$root"/var/log/apt/* \
         "$root"/usr/share/i18n/charmaps "$root"/usr/share/i18n/locales \
         "$root"/usr/lib/postgresql/*/lib/llvmjit* "$root"/usr/lib/postgresql/*/lib/bitcode
  rm -f "$root"/usr/lib/*/libLLVM-*.so* "$root"/usr/lib/*/libz3.so*  # libz3: only LLVM uses it
  # The package's post-install script created a cluster; the example stacks run initdb into
  # their own volume instead.
  rm -rf "$root"/var/lib/postgresql/[0-9]* "$root"/etc/postgresql/[0-9]*
  find "$root" -name '__pycache__' -type d -prune -exec rm -rf {} +
  # debootstrap leaves the host's resolv.conf/hostname behind; the engine provides both.
  : > "$root/etc/resolv.conf"
  echo localhost > "$root/etc/hostname"
}

build_rootfs() {
  local tar="$1" mirror="$2" packages="$3" work
  work="$(mktemp -d "$CACHE/.work.XXXXXX")"
  say "debootstrap --variant=minbase $SUITE from $mirror (+ $packages)"
  local start=$SECONDS
  if ! debootstrap --variant=minbase --include="$packages" "$SUITE" "$work/root" "$mirror" \
        >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    cp "$work/root/debootstrap/debootstrap.log" "$CACHE/debootstrap-failed.log" 2>/dev/null || true
    rm -rf "$work"
    say "debootstrap failed (log: $CACHE/debootstrap-failed.log)"
    exit 1
  fi
  say "debootstrap took $((SECONDS - start)) s"
  slim_rootfs "$work/root"
  tar --numeric-owner --xattrs -C "$work/root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tar"
  rm -rf "$work"
}

prepare_debian() {
  command -v debootstrap >/dev/null || { say "apt-get install debootstrap"; exit 1; }
  local mirror packages key tar dest="$HERE/debian/debian-rootfs.tar"
  mirror="$(apt_mirror)"
  packages="$(package_list)"
  key="$(printf '%s\n' "$RECIPE" "$SUITE" "$mirror" "$packages" | sha256sum | cut -c1-16)"
  mkdir -p "$CACHE"
  # One debootstrap at a time per cache (parallel test runs, two terminals): the second waits
  # and then finds the tarball cached.
  exec 9>"$CACHE/.lock"
  flock 9
  tar="$CACHE/debian-rootfs-$SUITE-$key.tar"
  if [ ! -s "$tar" ]; then
    build_rootfs "$tar" "$mirror" "$packages"
  else
    say "cached rootfs $tar"
  fi
  # Put it in the build context: a hard link when the cache is on the same file system
  # (instant), otherwise a copy. Skip when the context already holds this very tarball.
  if [ ! "$tar" -ef "$dest" ] && ! { [ -s "$dest" ] && cmp -s "$tar" "$dest"; }; then
    rm -f "$dest"
    ln "$tar" "$dest" 2>/dev/null || cp "$tar" "$dest"
  fi
  say "debian rootfs ready ($dest, $(du -m "$dest" | cut -f1) MB)"
}

case "$WHAT" in
  busybox) prepare_busybox ;;
  debian) prepare_debian ;;
  all) prepare_busybox; prepare_debian ;;
  *) say "usage: $0 [busybox|debian|all]"; exit 2 ;;
esac
