import { describe, expect, it } from 'vitest';
import { LogBudget } from './log-budget.ts';

describe('console lines from a sandbox', () => {
  it('pass in a burst of 200, then 100 a second, and dropped ones are counted', () => {
    const lines: string[] = [];
    const log = { console: (_level: string, message: string) => lines.push(message), event() {} };
    const budget = new LogBudget();
    for (let i = 0; i < 250; i++) budget.line(log, 'info', `l${i}`, 1_000);
    expect(lines).toHaveLength(200);
    budget.line(log, 'info', 'later', 1_100);
    expect(lines.slice(200)).toEqual(['console: 50 line(s) dropped (limit: 200 at once, 100 a second)', 'later']);
  });

  it('are rewritten (a stack mapped) only when they pass, and only as far as they are kept', () => {
    const log = { console: () => {}, event() {} };
    const budget = new LogBudget();
    const seen: number[] = [];
    for (let i = 0; i < 250; i++) budget.line(log, 'error', 'x'.repeat(100_000), 1_000, (text) => (seen.push(text.length), text));
    expect(seen).toHaveLength(200);
    expect(Math.max(...seen)).toBe(16 * 1024);
  });

  it('are cut to 16 KB on the host, whatever the runtime sent', () => {
    const lines: string[] = [];
    const log = { console: (_level: string, message: string) => lines.push(message), event() {} };
    new LogBudget().line(log, 'info', 'x'.repeat(4_000_000), 0);
    expect(lines[0]!.length).toBeLessThan(16 * 1024 + 64);
    expect(lines[0]).toMatch(/… \(3983616 more characters\)$/);
  });
});
