#!/usr/bin/env bash
# The seed tutorial with jdmsetup, end to end, on a fresh machine (JDK 17+; qemu-io if installed):
# start a daemon on a temporary runtime folder, create my_basic_target_device over a 20000-sector
# file, write sector 10 over NBD with qemu-io (or jdm's own NBD client without it), show the
# target's log line and the data in the file, and stop the daemon. Builds nothing: run
#   mvn -B -q -DskipTests package
# once first. JDMSETUP overrides the command used (default: dm-cli/jdmsetup, the launcher).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
read -r -a jdmsetup_cmd <<<"${JDMSETUP:-$here/jdmsetup}"

work=$(mktemp -d "${TMPDIR:-/tmp}/jdm-demo.XXXXXX")
export JDM_RUNTIME_DIR=$work/run
disk=$work/disk1

jdmsetup() { "${jdmsetup_cmd[@]}" "$@"; }
show() { # print a command as a shell session would (quoted where needed), then run it
  local a line='$'
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=+-]+$ ]]; then line+=" $a"; else line+=" '$a'"; fi
  done
  printf '%s\n' "$line"
  "$@"
}
cleanup() {
  jdmsetup daemon --stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

show truncate -s $((20000 * 512)) "$disk"
show jdmsetup daemon --background
show jdmsetup create my_basic_target_device --table "0 20000 basic_target $disk 0"
show jdmsetup ls
show jdmsetup table my_basic_target_device
uri="nbd+unix:///my_basic_target_device?socket=$JDM_RUNTIME_DIR/nbd.sock"
if command -v qemu-io >/dev/null 2>&1; then
  show qemu-io -f raw "$uri" -c 'write -P 0x5a 5120 512'
else
  echo "# qemu-io is not installed (Debian: qemu-utils); writing through jdm's NBD client"
  show jdmsetup nbd-write --pattern 0x5a "$uri" 5120 512
fi
echo "# the target's log (jdm's dmesg): $JDM_RUNTIME_DIR/daemon.log"
show grep basic_target "$JDM_RUNTIME_DIR/daemon.log"
show od -A d -t x1 -j 5120 -N 16 "$disk"
show jdmsetup info my_basic_target_device
show jdmsetup remove my_basic_target_device
show jdmsetup daemon --stop
