#!/usr/bin/env bash
# The seed tutorial with jdmsetup, end to end, on a fresh machine (JDK 17+; qemu-io if installed):
# start a daemon on a temporary runtime folder, create my_basic_target_device over a 20000-sector
# file, write sector 10 with the tutorial's `dd` on the device attached as a kernel block device
# (nbdfuse + losetup, as root with /dev/fuse and loop devices), or else over NBD with qemu-io (or
# jdm's own NBD client without it), show the target's log line and the data in the file, and stop
# the daemon. Builds nothing: run
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
loopdev=
fusepid=
detach() { # the attached block device: loop device, then the FUSE file (nbdfuse exits)
  if [ -n "$loopdev" ]; then
    losetup -d "$loopdev" || true
    loopdev=
  fi
  if [ -n "$fusepid" ]; then
    local i
    for i in $(seq 100); do # the loop device lets go of the file asynchronously
      umount "$work/fuse" 2>/dev/null && break
      sleep 0.1
    done
    mountpoint -q "$work/fuse" && umount -l "$work/fuse"
    timeout 20 tail --pid="$fusepid" -f /dev/null || kill "$fusepid" # until nbdfuse is gone
    fusepid=
  fi
}
can_attach() {
  [ "$(id -u)" = 0 ] && [ -e /dev/fuse ] && [ -e /dev/loop-control ] &&
    command -v nbdfuse >/dev/null 2>&1 && command -v losetup >/dev/null 2>&1
}
cleanup() {
  detach
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
if can_attach; then
  echo "# attach the NBD export as a kernel block device: nbdfuse serves it as a file, losetup"
  echo "# makes the file /dev/loopN (see \"Mount a file system on a jdm device\" in README.md)"
  mkdir "$work/fuse"
  show nbdfuse -P "$work/nbdfuse.pid" "$work/fuse/my_basic_target_device" "$uri" &
  until [ -s "$work/nbdfuse.pid" ]; do
    kill -0 $! 2>/dev/null || { echo "nbdfuse failed" >&2; exit 1; }
    sleep 0.1
  done
  fusepid=$(cat "$work/nbdfuse.pid")
  echo "\$ loopdev=\$(losetup -f --show $work/fuse/my_basic_target_device)"
  loopdev=$(losetup -f --show "$work/fuse/my_basic_target_device")
  echo "# $loopdev"
  show dd if=/dev/zero of="$loopdev" bs=512 seek=10 count=1 2>&1
  echo "# (through the page cache, as on a kernel dm device: sector 10 goes out in its 4 KiB page)"
  show losetup -d "$loopdev"
  loopdev=
  detach
elif command -v qemu-io >/dev/null 2>&1; then
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
