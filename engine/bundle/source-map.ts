// Maps a tenant's stack trace from the bundle back to its sources: "at f (file:///api.js:12:7)"
// becomes "at f (src/routes.ts:3:5)". Uses Node's own source map reader (node:module SourceMap).
import { SourceMap } from 'node:module';

/** A function that rewrites frames in `generatedUrl` (the bundle's script URL) in a stack. */
export function stackMapper(sourceMapJson: string, generatedUrl: string): (stack: string) => string {
  let map: SourceMap | undefined;
  const frame = new RegExp(`${escape(generatedUrl)}:(\\d+):(\\d+)`, 'g');
  return (stack) =>
    stack.replace(frame, (whole, line: string, column: string) => {
      map ??= new SourceMap(JSON.parse(sourceMapJson));
      const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (entry.originalSource === undefined || entry.originalLine === undefined) return whole;
      return `${entry.originalSource}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
    });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
