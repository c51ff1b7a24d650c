import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findExecutable } from '../host-binaries.ts';
import { cpioArchive } from './cpio.ts';

const entries = [
  { name: 'bin', mode: 0o40755 },
  { name: 'bin/init', mode: 0o100755, data: Buffer.from('#!/bin/sh\n') },
  { name: 'odd-length-name', mode: 0o100644, data: Buffer.from('12345') },
];

describe('cpioArchive', () => {
  it('writes newc entries padded to 4 bytes, ending with the trailer', () => {
    const archive = cpioArchive(entries);
    expect(archive.length % 4).toBe(0);
    expect(archive.toString('latin1', 0, 6)).toBe('070701');
    // The file size field of the second entry (after magic and six 8-hex fields).
    const second = archive.indexOf('070701', 6, 'latin1');
    expect(parseInt(archive.toString('latin1', second + 6 + 6 * 8, second + 6 + 7 * 8), 16)).toBe(10);
    expect(archive.includes('TRAILER!!!\0')).toBe(true);
  });

  it.skipIf(!findExecutable('cpio'))('is read back by cpio(1) with every name and mode', () => {
    const list = spawnSync(findExecutable('cpio')!, ['-t', '-v'], { input: cpioArchive(entries), encoding: 'utf8' });
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).at(-1))).toEqual(['bin', 'bin/init', 'odd-length-name']);
    expect(lines.map((l) => l.slice(0, 10))).toEqual(['drwxr-xr-x', '-rwxr-xr-x', '-rw-r--r--']);
  });
});
