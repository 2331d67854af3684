#!/bin/sh
# PID 1 (under tini) of a local cloud test host: what cloud-init and systemd do on
# an EC2 instance, reduced to what a container can do without privileges.
#   - host keys generated on first boot
#   - the key pair's public key installed for the login user (LOCALCLOUD_SSH_PUBLIC_KEY)
#   - sshd started as a daemon (so a config reload by HUP or restart does not end the container)
set -eu
ssh-keygen -A >/dev/null
login_user=${LOCALCLOUD_LOGIN_USER:-admin}
home=$(getent passwd "$login_user" | cut -d: -f6)
if [ -n "${LOCALCLOUD_SSH_PUBLIC_KEY:-}" ] && [ ! -s "$home/.ssh/authorized_keys" ]; then
  install -d -m 0700 -o "$login_user" -g "$login_user" "$home/.ssh"
  printf '%s\n' "$LOCALCLOUD_SSH_PUBLIC_KEY" > "$home/.ssh/authorized_keys"
  chown "$login_user:$login_user" "$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
fi
mkdir -p /run/sshd
/usr/sbin/sshd
exec sleep infinity
