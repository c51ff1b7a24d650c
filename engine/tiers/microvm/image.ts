// The guest image of a microVM, built from Debian packages and cached, keyed by everything that
// goes into it: Debian's cloud kernel (linux-image-cloud-amd64, as it is in /boot), an initramfs
// (busybox-static, the kernel's virtio modules, guest-init.sh as /init) and a read-only ext4 disk
// (made with e2fsprogs' mke2fs -d) holding the host's Node binary, its libraries and the
// in-sandbox runtime. Node stays on the disk, shared by every VM and paged in on demand, instead
// of being unpacked from a 130 MB initramfs into each VM's memory at every boot.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../host-binaries.ts';
import { LOL_HTML_FILE, writeRuntimeFile } from '../process/runtime-file.ts';
import { cpioArchive, type CpioEntry } from './cpio.ts';

/** What the guest kernel must load before /init can reach its disk and the host. */
const GUEST_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console'];
const INIT_SCRIPT = fileURLToPath(new URL('./guest-init.sh', import.meta.url));
/** Where the runtime sits on the guest's disk, mounted at /node (guest-init.sh runs it). */
const RUNTIME_ON_DISK = 'islet/runtime.mjs';
/** Images not used for this long are removed when a new one is built. */
const STALE_IMAGE_MS = 86_400_000;

export interface GuestKernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

export interface GuestImage {
  kernel: string;
  initrd: string;
  /** The read-only ext4 disk with Node, its libraries and the runtime. */
  disk: string;
}

/** The newest Debian kernel whose modules are installed; the cloud flavour when there is one. */
export function findKernel(): GuestKernel | undefined {
  let files: string[];
  try {
    files = readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-'));
  } catch {
    return undefined;
  }
  const kernels = files
    .map((f) => ({ version: f.slice('vmlinuz-'.length), vmlinuz: path.join('/boot', f) }))
    .map((k) => ({ ...k, modulesDir: path.join('/lib/modules', k.version) }))
    .filter((k) => existsSync(path.join(k.modulesDir, 'modules.dep')));
  const cloud = kernels.filter((k) => k.version.endsWith('-cloud-amd64'));
  const byVersion = (a: GuestKernel, b: GuestKernel) => b.version.localeCompare(a.version, 'en', { numeric: true });
  return (cloud.length ? cloud : kernels).sort(byVersion)[0];
}

/** True when the ELF file at `file` has no program interpreter (PT_INTERP), i.e. is static. */
function isStaticElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    readSync(fd, head, 0, head.length, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) return false;
    const [phoff, phentsize, phnum] = [Number(head.readBigUInt64LE(32)), head.readUInt16LE(54), head.readUInt16LE(56)];
    for (let i = 0; i < phnum; i++) {
      const offset = phoff + i * phentsize;
      if (offset + 4 > head.length) return false;
      if (head.readUInt32LE(offset) === 3) return false;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** A static busybox (Debian busybox-static), which /init needs before any library is reachable. */
function findStaticBusybox(): string | undefined {
  return ['/bin/busybox', '/usr/bin/busybox'].find((f) => existsSync(f) && isStaticElf(f));
}

/** What is missing on this host to build a guest image, or undefined when nothing is. */
export function guestImageMissing(): string | undefined {
  if (!findKernel()) return 'no Debian kernel with its modules (linux-image-cloud-amd64) is installed';
  if (!findStaticBusybox()) return 'no static busybox (busybox-static) is installed';
  if (!findExecutable('mke2fs')) return 'mke2fs (e2fsprogs) is not installed';
  return undefined;
}

/** The kernel modules to load, dependencies first (modules.dep lists a module's own last-needed first). */
function moduleLoadOrder(kernel: GuestKernel): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(path.join(kernel.modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (file && rest !== undefined) deps.set(file, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((f) => [path.basename(f, '.ko'), f]));
  const order: string[] = [];
  const visit = (file: string) => {
    if (order.includes(file)) return;
    for (const dep of [...(deps.get(file) ?? [])].reverse()) visit(dep);
    order.push(file);
  };
  for (const name of GUEST_MODULES) {
    const file = byName.get(name);
    if (!file) throw new Error(`kernel ${kernel.version} has no module ${name} (is it built in? then drop it from GUEST_MODULES)`);
    visit(file);
  }
  return order;
}

/** The shared libraries `binary` loads, as ldd resolves them on this host, the loader included. */
function sharedLibraries(binary: string): string[] {
  const ldd = spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${binary} failed: ${ldd.stderr.trim()}`);
  return [...ldd.stdout.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]!);
}

/** Size, mtime and path of each file: enough to notice an upgraded package without hashing 130 MB. */
const fileStamp = (file: string) => {
  const s = statSync(file);
  return `${file}:${s.size}:${s.mtimeMs}`;
};

export function defaultImageDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'islet', 'microvm');
}

/**
 * The guest image for this host's kernel, Node and runtime: built into `dir` the first time
 * (a few seconds), then found there by its key.
 */
export async function guestImage(dir = defaultImageDir(), node = process.execPath): Promise<GuestImage> {
  const missing = guestImageMissing();
  if (missing) throw new Error(missing);
  const kernel = findKernel()!;
  const busybox = findStaticBusybox()!;
  mkdirSync(dir, { recursive: true });
  const staging = mkdtempSync(path.join(dir, '.build-'));
  try {
    const diskRoot = path.join(staging, 'disk');
    mkdirSync(path.join(diskRoot, path.dirname(RUNTIME_ON_DISK)), { recursive: true });
    const runtime = await writeRuntimeFile(path.join(diskRoot, path.dirname(RUNTIME_ON_DISK)));
    const libraries = sharedLibraries(node);
    const modules = moduleLoadOrder(kernel);
    const init = readFileSync(INIT_SCRIPT);
    const key = createHash('sha256')
      .update([kernel.vmlinuz, ...modules.map((m) => path.join(kernel.modulesDir, m)), busybox, node, ...libraries].map(fileStamp).join('\n'))
      .update(init)
      .update(readFileSync(runtime))
      .update(readFileSync(path.join(path.dirname(runtime), LOL_HTML_FILE)))
      .digest('hex')
      .slice(0, 16);
    const final = path.join(dir, key);
    const image = { kernel: kernel.vmlinuz, initrd: path.join(final, 'initrd.cpio'), disk: path.join(final, 'node.ext4') };
    if (existsSync(image.disk)) {
      // Marks it used, so that builds of other keys do not remove it as stale.
      utimesSync(final, new Date(), new Date());
      return image;
    }

    const initrd: CpioEntry[] = ['bin', 'code', 'dev', 'modules', 'node', 'proc', 'sys', 'tmp'].map((d) => ({ name: d, mode: 0o40755 }));
    initrd.push({ name: 'init', mode: 0o100755, data: init }, { name: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) });
    for (const m of modules) initrd.push({ name: `modules/${path.basename(m)}`, mode: 0o100644, data: readFileSync(path.join(kernel.modulesDir, m)) });
    initrd.push({ name: 'modules/order', mode: 0o100644, data: Buffer.from(modules.map((m) => path.basename(m, '.ko')).join('\n') + '\n') });
    writeFileSync(path.join(staging, 'initrd.cpio'), cpioArchive(initrd));

    let bytes = 0;
    for (const [from, to] of [[node, 'bin/node'], ...libraries.map((l) => [l, l.slice(1)])] as const) {
      mkdirSync(path.dirname(path.join(diskRoot, to)), { recursive: true });
      copyFileSync(from, path.join(diskRoot, to));
      bytes += statSync(from).size;
    }
    const sizeKb = Math.ceil((bytes * 1.15) / 1024) + 16 * 1024;
    const mke2fs = spawnSync(findExecutable('mke2fs')!, ['-q', '-F', '-t', 'ext4', '-O', '^has_journal', '-m', '0', '-L', 'islet-node', '-E', 'root_owner=0:0', '-d', diskRoot, path.join(staging, 'node.ext4'), `${sizeKb}k`], { encoding: 'utf8' });
    if (mke2fs.status !== 0) throw new Error(`mke2fs failed: ${mke2fs.stderr.trim()}`);
    rmSync(diskRoot, { recursive: true, force: true });
    removeStaleImages(dir);
    try {
      renameSync(staging, final);
    } catch (err) {
      // Another engine built the same image meanwhile: use theirs.
      if (!existsSync(image.disk)) throw err;
    }
    return image;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function removeStaleImages(dir: string): void {
  for (const entry of readdirSync(dir)) {
    const file = path.join(dir, entry);
    if (Date.now() - statSync(file).mtimeMs > STALE_IMAGE_MS) rmSync(file, { recursive: true, force: true });
  }
}
