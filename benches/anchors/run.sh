#!/usr/bin/env bash
# Runs the bench-anchors harness (../shared/bench-anchors: a parallel OpenSSH floor, pyinfra,
# Ansible and swarmform on one swarm-provisioning workload against N local sshd hosts) with
# this project's own copy of the swarmform plug-in, benches/anchors/swarmform.sh.
#
#   benches/anchors/run.sh -n "30 100" -r 3 -t "floor pyinfra ansible swarmform" -o NAME
#
# Installs the harness at $PB_DEST (default /tmp/pb; outside any repository) when it is not
# there, runs its setup.sh (apt: openssh-server, jq, time; a venv with ansible-core and
# pyinfra), copies the plug-in into its tools/ with its paths filled in, builds the release
# binary, then runs bench.sh with the arguments given and stops the test hosts. Results go to
# $PB_DEST/results/NAME. $PB_HARNESS names another copy of the harness.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
harness=${PB_HARNESS:-$root/../shared/bench-anchors}
dest=${PB_DEST:-/tmp/pb}
if [[ ! -x $dest/bench.sh ]]; then
    "$harness/install.sh" "$dest"
fi
(cd "$dest" && ./setup.sh)
sed "s#@PB@#$dest#g" "$root/benches/anchors/swarmform.sh" > "$dest/tools/swarmform.sh"
chmod +x "$dest/tools/swarmform.sh"
(cd "$root" && cargo build --release --locked)
cd "$dest"
. lib/common.sh
export SWARMFORM_BIN=$root/target/release/swarmform
# The plug-in's TLS material (a CA and one certificate per host, kept across runs as an
# operator keeps a CA) is made once per N before anything is timed.
sizes=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ ${args[i]} == -n ]] && sizes=${args[i + 1]:-}
done
sizes=${sizes:-3 10 30 100}
mkdir -p run
# Each test sshd binds its state dir over /etc/docker in its own mount namespace: the mount
# point must exist, and a machine without Docker has none.
mkdir -p /etc/docker
largest=$(printf '%s\n' $sizes | sort -n | tail -1)
./hosts_up.sh "$largest" >/dev/null   # the client key and known_hosts the config names
for n in $sizes; do
    for ((k = 1; k <= n; k++)); do pb_addr "$k"; done > "run/hosts-$n.txt"
    PB_HOSTS_FILE=$dest/run/hosts-$n.txt PB_KEY=$dest/keys/id_ed25519 \
        PB_KNOWN_HOSTS=$dest/keys/known_hosts SWARMFORM_PREPARE=1 tools/swarmform.sh "$n" >/dev/null
done
./hosts_down.sh >/dev/null   # bench.sh starts the hosts each size needs
trap './hosts_down.sh >/dev/null 2>&1 || true' EXIT
./bench.sh "$@"
