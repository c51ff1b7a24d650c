// The host side of crypto.subtle: what reaches it is data an isolate shaped, so malformed keys and
// unknown operations must fail as TypeErrors, never reach node:crypto as host objects.
import { createCipheriv } from 'node:crypto';
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

  it('takes AES-GCM IVs shorter than 12 bytes, which node\'s webcrypto refuses, with tag length and additional data', async () => {
    const key = await aesKey();
    const data = new Uint8Array([1, 2, 3]).buffer;
    for (const length of [1, 8, 11]) {
      const iv = new Uint8Array(length).fill(7).buffer;
      const algorithm = { name: 'AES-GCM', iv, tagLength: 96, additionalData: new Uint8Array([5]).buffer };
      const sealed = await runSubtle('encrypt', [algorithm, key, data]) as ArrayBuffer;
      expect(sealed.byteLength).toBe(3 + 12);
      // The same bytes as node's GCM cipher makes (the reference for what Web Crypto specifies).
      const c = createCipheriv('aes-128-gcm', new Uint8Array(16).fill(1), new Uint8Array(iv), { authTagLength: 12 });
      c.setAAD(new Uint8Array([5]));
      expect(Buffer.from(sealed)).toEqual(Buffer.concat([c.update(new Uint8Array(data)), c.final(), c.getAuthTag()]));
      expect([...new Uint8Array(await runSubtle('decrypt', [algorithm, key, sealed]) as ArrayBuffer)]).toEqual([1, 2, 3]);
    }
    // Past one 1 MB piece (these run on the event loop in pieces): the same bytes as in one go.
    const big = new Uint8Array(2.5 * 1048576).map((_, i) => i % 251);
    const bigSealed = await runSubtle('encrypt', [{ name: 'AES-GCM', iv: new Uint8Array(8).buffer }, key, big.buffer]) as ArrayBuffer;
    const once = createCipheriv('aes-128-gcm', new Uint8Array(16).fill(1), new Uint8Array(8), { authTagLength: 16 });
    expect(Buffer.from(bigSealed).equals(Buffer.concat([once.update(big), once.final(), once.getAuthTag()]))).toBe(true);
    const bigOpened = await runSubtle('decrypt', [{ name: 'AES-GCM', iv: new Uint8Array(8).buffer }, key, bigSealed]) as ArrayBuffer;
    expect(Buffer.from(bigOpened).equals(big)).toBe(true);
    const iv = new Uint8Array(8).buffer;
    const sealed = await runSubtle('encrypt', [{ name: 'AES-GCM', iv }, key, data]) as ArrayBuffer;
    new Uint8Array(sealed)[0]! ^= 1;
    const encryptOnly = { ...key, usages: ['encrypt'] };
    const failures = await Promise.all([
      runSubtle('decrypt', [{ name: 'AES-GCM', iv }, key, sealed]),
      runSubtle('decrypt', [{ name: 'AES-GCM', iv }, encryptOnly, sealed]),
      runSubtle('encrypt', [{ name: 'AES-GCM', iv, tagLength: 100 }, key, data]),
      runSubtle('encrypt', [{ name: 'AES-GCM', iv: new ArrayBuffer(0) }, key, data]),
    ].map((p) => p.then(() => 'no error', (e: { name: string }) => e.name)));
    expect(failures).toEqual(['OperationError', 'InvalidAccessError', 'OperationError', 'OperationError']);
  });

  it('takes Workers\' NODE-ED25519 as Ed25519, for importing, signing and verifying', async () => {
    const legacy = { name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' };
    const pair = await runSubtle('generateKey', [{ name: 'Ed25519' }, ['sign', 'verify']]) as { publicKey: KeyDescriptor; privateKey: KeyDescriptor };
    // A raw public key, as Discord gives its bots: the last 32 bytes of the key's SPKI.
    const raw = pair.publicKey.material.slice(-32);
    const publicKey = await runSubtle('importKey', ['raw', raw, legacy, ['verify']]) as KeyDescriptor;
    expect(publicKey.algorithm).toEqual({ name: 'Ed25519' });
    const data = new Uint8Array([1, 2, 3]).buffer;
    const signature = await runSubtle('sign', [legacy, pair.privateKey, data]) as ArrayBuffer;
    expect(await runSubtle('verify', [legacy, publicKey, signature, data])).toBe(true);
    expect(await runSubtle('verify', [{ name: 'Ed25519' }, publicKey, signature, new Uint8Array([1, 2]).buffer])).toBe(false);
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
    const pbkdf2 = await runSubtle('importKey', ['raw', new Uint8Array(16).buffer, { name: 'PBKDF2' }, ['deriveBits', 'deriveKey']]);
    const params = { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(16).buffer, iterations: 1000 };
    // Its work grows with the bits asked for: past the bound, refused before it runs.
    await expect(runSubtle('deriveBits', [params, pbkdf2, 256 * 300])).rejects.toMatchObject({ name: 'NotSupportedError' });
    await expect(runSubtle('deriveKey', [params, pbkdf2, { name: 'HMAC', hash: 'SHA-256', length: 256 * 300 }, ['sign']])).rejects.toMatchObject({ name: 'NotSupportedError' });
    expect(((await runSubtle('deriveBits', [params, pbkdf2, 2048])) as ArrayBuffer).byteLength).toBe(256);
    // A bound the runtime checks as a number cannot be passed as a string that node would take.
    for (const [op, args] of [
      ['deriveBits', [{ ...params, iterations: '5000000' }, pbkdf2, 256]],
      ['generateKey', [{ name: 'RSA-PSS', modulusLength: '16384', publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, ['sign']]],
    ] as const) {
      await expect(runSubtle(op, args as unknown as unknown[]), op).rejects.toMatchObject({ name: 'TypeError', message: expect.stringMatching(/must be a number/) });
    }
  });
});
