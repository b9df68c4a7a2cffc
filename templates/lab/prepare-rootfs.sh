#!/bin/sh
# Turns a freshly bootstrapped Debian rootfs into a lab node image: a host whose init is
# systemd, reached by root over SSH with a key only. Usage: prepare-rootfs.sh ROOTFS SNIPPETS
# (SNIPPETS: the folder holding sshd.conf and ssh-host-keys.service). Runs from outside the
# rootfs (mmdebstrap's customize hook, after debootstrap) or inside it with ROOTFS=/ (the
# Dockerfile); it needs no chroot.
set -eu
root="$1"
snippets="$2"

# Every node generates its own machine id and SSH host keys at first boot: an image that
# carried them would give every node the same identity.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
install -m 0644 "$snippets/ssh-host-keys.service" "$root/etc/systemd/system/ssh-host-keys.service"
mkdir -p "$root/etc/systemd/system/ssh.service.wants"
ln -sf /etc/systemd/system/ssh-host-keys.service \
    "$root/etc/systemd/system/ssh.service.wants/ssh-host-keys.service"

install -d -m 0755 "$root/etc/ssh/sshd_config.d"
install -m 0644 "$snippets/sshd.conf" "$root/etc/ssh/sshd_config.d/swarmform-lab.conf"
install -d -m 0700 "$root/root/.ssh"

# What a container has no use for, and what would only slow a boot or fail in one: consoles,
# periodic maintenance, hardware.
for unit in getty.target console-getty.service getty@tty1.service \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer systemd-pstore.service remote-fs.target \
    systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount \
    dev-hugepages.mount dev-mqueue.mount systemd-firstboot.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
rm -f "$root/etc/systemd/system/getty.target.wants/getty@tty1.service" \
    "$root/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service" \
    "$root/etc/systemd/system/multi-user.target.wants/remote-fs.target" \
    "$root/etc/systemd/system/sysinit.target.wants/systemd-pstore.service"
rm -f "$root"/etc/systemd/system/timers.target.wants/apt-daily*.timer \
    "$root/etc/systemd/system/timers.target.wants/dpkg-db-backup.timer" \
    "$root/etc/systemd/system/timers.target.wants/e2scrub_all.timer" \
    "$root/etc/systemd/system/timers.target.wants/fstrim.timer"

# The nodes run `apt-get update` before installing anything; stale lists and downloaded
# packages only make the image larger.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
