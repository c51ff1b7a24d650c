// An initramfs is a cpio archive in the "newc" format (the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst): per entry a 110-byte ASCII header
// of hex fields, the name, the data, each padded to 4 bytes. Written here so that building a
// guest image needs no cpio program on the host.

export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  /** File type and permission bits (0o100755 a file, 0o40755 a directory, 0o120777 a symlink). */
  mode: number;
  /** A file's bytes, or a symlink's target. */
  data?: Uint8Array;
}

const TRAILER = 'TRAILER!!!';

function header(ino: number, mode: number, size: number, nameBytes: number): string {
  // magic, then ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameBytes, 0];
  return '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
}

const pad4 = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);

/** The archive holding `entries` (directories before what is in them), uncompressed. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const add = (ino: number, mode: number, name: string, data: Uint8Array) => {
    const head = Buffer.from(header(ino, mode, data.byteLength, Buffer.byteLength(name) + 1) + name + '\0');
    parts.push(head, pad4(head.length), Buffer.from(data), pad4(data.byteLength));
  };
  entries.forEach((e, i) => add(i + 1, e.mode, e.name, e.data ?? new Uint8Array(0)));
  add(0, 0, TRAILER, new Uint8Array(0));
  return Buffer.concat(parts);
}
