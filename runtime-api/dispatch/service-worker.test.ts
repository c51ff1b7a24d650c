// Listener order and removal in service-worker syntax, as DOM's dispatch has them.
import { describe, expect, it } from 'vitest';
import { defineServiceWorker } from './service-worker.ts';

const ctx = { waitUntil: () => {} };

describe('service-worker listeners', () => {
  it('skip one an earlier listener removed, run a once listener once, and stop at the first answer', async () => {
    const sw = defineServiceWorker(Event, DOMException);
    const ran: string[] = [];
    const c = () => ran.push('c (removed: must not run)');
    sw.addEventListener('fetch', () => {
      ran.push('a');
      sw.removeEventListener('fetch', c);
    });
    sw.addEventListener('fetch', () => ran.push('b once'), { once: true });
    sw.addEventListener('fetch', c);
    sw.addEventListener('fetch', (e: Event) => (e as unknown as { respondWith(r: unknown): void }).respondWith('d'));
    sw.addEventListener('fetch', () => ran.push('e (after the answer: must not run)'));
    const handler = sw.handler()!;
    expect(await handler.fetch!('request 1', {}, ctx)).toBe('d');
    expect(await handler.fetch!('request 2', {}, ctx)).toBe('d');
    expect(ran).toEqual(['a', 'b once', 'a']);
  });
});
