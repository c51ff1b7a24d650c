#!/bin/busybox sh
# /init of an islet microVM (see image.ts): load the virtio modules, mount the read-only disk
# holding Node, its libraries and the runtime, run the runtime on the virtio serial port named
# "islet", and power off when it ends, so that the host sees the VM exit.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

fail() {
  echo "islet-guest: $*" >/dev/console
  poweroff -f
}

for module in $(cat /modules/order); do insmod "/modules/$module.ko" || fail "insmod $module failed"; done

# Devices appear once their driver probed them, a little after insmod returns; the serial port
# is found by the name the host gave it.
port=
tries=0
while [ ! -e /dev/vda ] || [ -z "$port" ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = islet ] && port="/dev/${p##*/}"
  done
  tries=$((tries + 1))
  [ "$tries" -gt 500 ] && fail "no disk or serial port appeared: $(ls /dev /sys/class/virtio-ports | tr '\n' ' ')"
  usleep 10000
done
mount -t ext4 -o ro /dev/vda /node || fail 'the Node disk did not mount'
ln -s /node/lib /lib
ln -s /node/lib64 /lib64

heap=128
memory=192
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    islet.heap=*) heap="${arg#islet.heap=}" ;;
    islet.memory=*) memory="${arg#islet.memory=}" ;;
  esac
done

# Node and what it allocates outside its heap (ArrayBuffers) get the same budget as in a process
# sandbox's cgroup, below the VM's size, so the OOM killer takes Node and not the guest.
mount -t cgroup2 none /sys/fs/cgroup
echo +memory >/sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/tenant
echo $((memory * 1048576)) >/sys/fs/cgroup/tenant/memory.max
echo $$ >/sys/fs/cgroup/tenant/cgroup.procs

cd /code
env -i ISLET_CHANNEL_FD=3 /node/bin/node --max-old-space-size="$heap" /node/islet/runtime.mjs 3<>"$port" </dev/null >/dev/console 2>&1
echo "islet-guest: node exited ($?)" >/dev/console
poweroff -f
