import { describe, expect, it } from 'vitest';
import { isNonPublicAddress } from './address-policy.ts';

describe('isNonPublicAddress', () => {
  it('refuses loopback, private, link-local, CGNAT, reserved and mapped forms', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
      '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1',
      '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip']) {
      expect(isNonPublicAddress(a), a).toBe(true);
    }
  });

  it('lets public addresses through', () => {
    for (const a of ['1.1.1.1', '8.8.8.8', '172.32.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isNonPublicAddress(a), a).toBe(false);
    }
  });
});
