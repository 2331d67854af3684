#!/bin/sh
# Runs inside the debootstrapped (minbase) rootfs, as root in a chroot, once per image build.
# Installs packages.txt with apt (which, unlike debootstrap, resolves virtual packages), then
# makes the tree look like a Debian cloud image: an `admin` login user with sudo, and no host
# keys baked in (the entrypoint generates them per container).
set -eu
export DEBIAN_FRONTEND=noninteractive
# No daemon may start inside the chroot while packages are configured.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update -qq
# shellcheck disable=SC2046
apt-get install -y -qq --no-install-recommends $(sed -e 's/#.*//' /tmp/packages.txt) >/dev/null
rm -f /usr/sbin/policy-rc.d
useradd --create-home --shell /bin/bash --user-group admin
usermod -aG sudo admin
echo 'admin ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users
chmod 0440 /etc/sudoers.d/90-cloud-init-users
passwd -l root >/dev/null
rm -f /etc/ssh/ssh_host_*
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /root/.bash_history
