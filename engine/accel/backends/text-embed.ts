// A zero-config text embedder: feature hashing (Weinberger et al., "Feature Hashing for Large
// Scale Multitask Learning", ICML 2009) of words, word bigrams and character trigrams into a
// fixed number of signed buckets, L2-normalised, so cosine similarity reflects shared words and
// spellings. No weights to download; deterministic on every machine.

export const EMBED_DIMS = 256;

const WORD = /[\p{L}\p{N}]+/gu;

/** FNV-1a over UTF-16 code units: fast, stable, well spread for short keys. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function add(out: Float32Array, offset: number, feature: string, weight: number): void {
  const h = fnv1a(feature);
  // One bit of the hash picks the sign, so collisions cancel out on average instead of piling up.
  out[offset + (h % EMBED_DIMS)]! += h & 0x80000000 ? -weight : weight;
}

/** Writes the embedding of `text` into `out` at `offset` (EMBED_DIMS floats, zero when no words). */
export function embedText(text: string, out: Float32Array, offset: number): void {
  const words = text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    add(out, offset, `w:${word}`, 1);
    if (i + 1 < words.length) add(out, offset, `b:${word} ${words[i + 1]}`, 0.5);
    const padded = `<${word}>`;
    for (let j = 0; j + 3 <= padded.length; j++) add(out, offset, `c:${padded.slice(j, j + 3)}`, 0.25);
  }
  let norm = 0;
  for (let i = offset; i < offset + EMBED_DIMS; i++) norm += out[i]! * out[i]!;
  if (norm === 0) return;
  const scale = 1 / Math.sqrt(norm);
  for (let i = offset; i < offset + EMBED_DIMS; i++) out[i]! *= scale;
}
