#!/bin/sh
# Docker 28 for a trixie lab node (testbed.md §5): sid's docker.io through a source pinned
# below trixie, so only what is asked for with `-t sid` comes from sid (systemd and libc stay
# trixie's). Usage: docker-from-sid.sh ROOTFS (mmdebstrap's customize hook, before
# prepare-rootfs.sh). The mirror is a snapshot whose sid Release file has expired, hence
# Check-Valid-Until=false.
set -eu
root="$1"

echo "deb http://deb.debian.org/debian sid main" >"$root/etc/apt/sources.list.d/sid.list"
cat >"$root/etc/apt/preferences.d/sid" <<'PIN'
Package: *
Pin: release n=sid
Pin-Priority: 100
PIN
chroot "$root" apt-get -q -o Acquire::Check-Valid-Until=false update
chroot "$root" env DEBIAN_FRONTEND=noninteractive \
    apt-get -q -y --no-install-recommends -o Acquire::Check-Valid-Until=false \
    install -t sid docker.io docker-cli
