// The host side of crypto.subtle: what reaches it is data an isolate shaped, so malformed keys and
// unknown operations must fail as TypeErrors, never reach node:crypto as host objects.
import { describe, expect, it } from 'vitest';
import { runSubtle, type KeyDescriptor } from './web-crypto.ts';

const aesKey = (): Promise<KeyDescriptor> =>
  runSubtle('importKey', ['raw', new Uint8Array(16).fill(1).buffer, { name: 'AES-GCM' }, ['encrypt', 'decrypt']]) as Promise<KeyDescriptor>;

describe('runSubtle', () => {
  it('turns an imported key into a descriptor holding its material, and uses it', async () => {
    const key = await aesKey();
    expect(key).toMatchObject({ type: 'secret', algorithm: { name: 'AES-GCM', length: 128 }, usages: ['encrypt', 'decrypt'] });
    expect(new Uint8Array(key.material)).toEqual(new Uint8Array(16).fill(1));
    const iv = new Uint8Array(12).buffer;
    const sealed = await runSubtle('encrypt', [{ name: 'AES-GCM', iv }, key, new Uint8Array([1, 2, 3]).buffer]) as ArrayBuffer;
    const opened = await runSubtle('decrypt', [{ name: 'AES-GCM', iv }, key, sealed]) as ArrayBuffer;
    expect([...new Uint8Array(opened)]).toEqual([1, 2, 3]);
  });

  it('keeps PBKDF2 key material although node will not export it', async () => {
    const ok = await runSubtle('importKey', ['raw', new Uint8Array([9, 9]).buffer, { name: 'PBKDF2' }, ['deriveBits']]) as KeyDescriptor;
    expect([...new Uint8Array(ok.material)]).toEqual([9, 9]);
  });

  it('refuses unknown operations, forged keys and wrong argument shapes with TypeError', async () => {
    const key = await aesKey();
    const failures = await Promise.all([
      runSubtle('constructor', []),
      runSubtle('__proto__', []),
      runSubtle('encrypt', 'not a list'),
      runSubtle('encrypt', [{ name: 'AES-GCM', iv: new ArrayBuffer(12) }, { ...key, material: 'bytes' }, new ArrayBuffer(1)]),
      runSubtle('encrypt', [{ name: 'AES-GCM', iv: new ArrayBuffer(12) }, { ...key, usages: ['launch'] }, new ArrayBuffer(1)]),
      runSubtle('encrypt', [{ name: 'AES-GCM', iv: new ArrayBuffer(12) }, key, 'text']),
      runSubtle('exportKey', ['pem', key]),
      runSubtle('importKey', ['jwk', 'not an object', { name: 'HMAC', hash: 'SHA-256' }, ['sign']]),
    ].map((p) => p.then(() => 'resolved', (e: { name: string }) => e.name)));
    expect(failures).toEqual(Array(failures.length).fill('TypeError'));
  });

  it('passes node\'s Web Crypto errors on by name', async () => {
    const key = await aesKey();
    const iv = new Uint8Array(12).buffer;
    const tampered = runSubtle('decrypt', [{ name: 'AES-GCM', iv }, key, new ArrayBuffer(32)]);
    await expect(tampered).rejects.toMatchObject({ name: 'OperationError' });
    await expect(runSubtle('sign', [{ name: 'HMAC' }, key, new ArrayBuffer(1)])).rejects.toMatchObject({ name: 'InvalidAccessError' });
  });

  it('bounds the work one call may put on the host', async () => {
    const rsa = runSubtle('generateKey', [{ name: 'RSA-PSS', modulusLength: 8192, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, ['sign']]);
    await expect(rsa).rejects.toMatchObject({ name: 'NotSupportedError' });
  });
});
