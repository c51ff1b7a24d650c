// HTMLRewriter inside isolates, through the engine: what it rewrites, how it fails, and what its
// WebAssembly costs the tenant. (fixtures/diff/html-rewriter.js compares it with workerd's.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

let engine: Engine;

beforeAll(() => {
  engine = new Engine();
});

afterAll(async () => {
  await engine.close();
});

async function run(name: string, fetchBody: string, limits: Record<string, number> = {}): Promise<Response> {
  await engine.deploy(name, { code: `export default { async fetch(request) { ${fetchBody} } };`, limits });
  return engine.fetch(name, new Request(`http://${name}.test/`));
}

describe('HTMLRewriter', () => {
  it('rewrites elements, text and comments, keeps status and headers, and drops Content-Length', async () => {
    const res = await run('rewrite', `
      const page = new Response('<html><body><a href="/x">go</a><!-- note --><p>hi <b>there</b></p></body></html>',
        { status: 203, headers: { 'content-type': 'text/html', 'content-length': '84', 'x-kept': '1' } });
      return new HTMLRewriter()
        .on('a', { element(el) { el.setAttribute('href', 'https://e.example' + el.getAttribute('href')); el.after('<hr>', { html: true }); } })
        .on('b', { text(t) { if (t.text) t.replace(t.text.toUpperCase()); } })
        .onDocument({ comments(c) { c.replace('<i>&</i>'); }, end(e) { e.append('<!-- end -->', { html: true }); } })
        .transform(page);
    `);
    expect(res.status).toBe(203);
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('x-kept')).toBe('1');
    expect(await res.text()).toBe('<html><body><a href="https://e.example/x">go</a><hr>&lt;i&gt;&amp;&lt;/i&gt;<p>hi <b>THERE</b></p></body></html><!-- end -->');
  });

  it('waits for asynchronous handlers, with transforms in one isolate interleaving', async () => {
    const res = await run('async', `
      const order = [];
      const one = (tag) => new HTMLRewriter().on('p', {
        async element(el) {
          order.push(tag + ' in');
          await new Promise((r) => setTimeout(r, tag === 'a' ? 20 : 1));
          order.push(tag + ' out');
          el.setAttribute('data-tag', tag);
        },
      }).transform(new Response('<p>x</p>')).text();
      const [a, b] = await Promise.all([one('a'), one('b')]);
      return Response.json({ a, b, order });
    `);
    expect(await res.json()).toEqual({
      a: '<p data-tag="a">x</p>',
      b: '<p data-tag="b">x</p>',
      // An instance of lol-html's module has one stack, which a rewriter waiting on a handler
      // holds: the second transform gets an instance of its own (html-rewriter.ts).
      order: ['a in', 'b in', 'b out', 'a out'],
    });
  });

  it('runs a transform awaited inside another transform\'s handler', async () => {
    // With one instance of the module, the inner transform waited for the outer one's turn, which
    // waited for it: the request ran out of wall clock.
    const res = await run('nested', `
      return new HTMLRewriter().on('p', {
        async element(el) {
          const inner = await new HTMLRewriter().on('b', { element(e) { e.setAttribute('inner', '1'); } }).transform(new Response('<b>i</b>')).text();
          el.append(inner, { html: true });
        },
      }).transform(new Response('<p>x</p>'));
    `, { wallMs: 5_000 });
    expect(await res.text()).toBe('<p>x<b inner="1">i</b></p>');
  });

  it('keeps concurrent transforms with asynchronous text handlers apart, round after round', async () => {
    // Two rewriters suspended in the module at once corrupted it within a few rounds (a probe).
    const res = await run('concurrent', `
      const one = (d) => new HTMLRewriter().on('p', {
        async text(t) { await new Promise((r) => setTimeout(r, d)); if (t.text) t.replace(t.text + d); },
      }).transform(new Response('<p>hello</p><p>x</p>')).text();
      const seen = new Set();
      for (let round = 0; round < 30; round++) for (const out of await Promise.all([one(3), one(1)])) seen.add(out);
      return Response.json([...seen].sort());
    `, { cpuMs: 5_000 });
    expect(await res.json()).toEqual(['<p>hello1</p><p>x1</p>', '<p>hello3</p><p>x3</p>']);
  });

  it('survives handlers that throw, reject or are cancelled mid-wait, and a thenable is waited for', async () => {
    // Each exception used to unwind through the module and leak its stack: 32,701 throws or 642
    // rejections broke an isolate's lol-html.
    const res = await run('abuse', `
      const transform = (handlers) => new HTMLRewriter().on('p', handlers).transform(new Response('<p>x</p>'));
      const failures = new Set();
      for (let i = 0; i < 1000; i++) {
        try { await transform({ element() { throw new Error('thrown'); } }).text(); } catch (err) { failures.add(err.message); }
        try { await transform({ async element() { throw new Error('rejected'); } }).text(); } catch (err) { failures.add(err.message); }
      }
      // A cancel while a handler waits (a client gone): each one left its call suspended in the
      // module, and 642 of them broke it.
      for (let i = 0; i < 1000; i++) {
        const reader = transform({ element() { return new Promise(() => {}); } }).body.getReader();
        const pending = reader.read();
        for (let turn = 0; turn < 6; turn++) await null;
        await reader.cancel();
        await pending.catch(() => {});
      }
      const thenable = await transform({ element(el) { return { then(done) { setTimeout(() => { el.setAttribute('late', '1'); done(); }, 5); } }; } }).text();
      return Response.json({ failures: [...failures].sort(), thenable, after: await transform({ element(el) { el.setAttribute('ok', '1'); } }).text() });
    `, { cpuMs: 10_000 });
    expect(await res.json()).toEqual({ failures: ['rejected', 'thrown'], thenable: '<p late="1">x</p>', after: '<p ok="1">x</p>' });
  });

  it('lets the isolate\'s other transforms go on once a request whose handler never settles is cut', async () => {
    // The handler holds lol-html's module (one rewriter waits in it at a time): before, the
    // isolate's HTMLRewriter stayed stuck behind it after its request's wall clock ran out.
    await engine.deploy('stuck', {
      limits: { wallMs: 1_000 },
      code: `export default { fetch(request) {
        if (new URL(request.url).pathname === '/stuck') return new HTMLRewriter().on('p', { element() { return new Promise(() => {}); } }).transform(new Response('<p>x</p>'));
        return new HTMLRewriter().on('p', { element(e) { e.setAttribute('ok', '1'); } }).transform(new Response('<p>y</p>'));
      } };`,
    });
    const stuck = await engine.fetch('stuck', new Request('http://stuck.test/stuck'));
    await expect(stuck.text()).rejects.toThrow(/wall-clock limit/);
    const after = await engine.fetch('stuck', new Request('http://stuck.test/after'));
    expect(await after.text()).toBe('<p ok="1">y</p>');
  });

  it('rewrites a streamed body whose chunks split tags and characters', async () => {
    const res = await run('streamed', `
      const bytes = new TextEncoder().encode('<div class="c">caf\u00e9 <span>\u20ac</span></div>');
      let at = 0;
      const body = new ReadableStream({ pull(c) { if (at >= bytes.length) return c.close(); c.enqueue(bytes.slice(at, at + 3)); at += 3; } });
      return new HTMLRewriter().on('span', { element(el) { el.setInnerContent('\u00a3'); } }).transform(new Response(body));
    `);
    expect(await res.text()).toBe('<div class="c">caf\u00e9 <span>\u00a3</span></div>');
  });

  it('throws a TypeError for a selector it cannot parse when it is registered', async () => {
    const res = await run('selector', `
      try { new HTMLRewriter().on('p:hover', {}); return new Response('accepted'); }
      catch (err) { return new Response(err.constructor.name + ': ' + err.message); }
    `);
    expect(await res.text()).toMatch(/^TypeError: .*pseudo-class/);
  });

  it("fails the rewritten body with a handler's exception", async () => {
    const res = await run('throws', `
      const out = new HTMLRewriter().on('p', { element() { throw new RangeError('from the handler'); } }).transform(new Response('<p>x</p>'));
      try { await out.text(); return new Response('no error'); }
      catch (err) { return new Response(err.constructor.name + ': ' + err.message); }
    `);
    expect(await res.text()).toBe('RangeError: from the handler');
  });

  it('refuses a document whose unfinished tag passes 32 MB instead of growing without bound', async () => {
    // One attribute value that never ends, streamed 1 MB at a time: to give the element handler
    // the tag, lol-html buffers it all (unbounded, it grew to 312 MB by 200 chunks).
    const res = await run('unbounded', `
      const mb = new TextEncoder().encode('x'.repeat(1048576));
      let sent = 0;
      const body = new ReadableStream({ pull(c) { if (sent++ === 0) c.enqueue(new TextEncoder().encode('<a href="')); else if (sent < 200) c.enqueue(mb); else c.close(); } });
      const rewriter = new HTMLRewriter().on('a', { element(el) { el.setAttribute('b', '1'); } });
      const answers = [];
      try { await rewriter.transform(new Response(body)).arrayBuffer(); answers.push('no error'); }
      catch (err) { answers.push(err.message + ' after ' + sent + ' chunks'); }
      // The instance's state after its trap is not to be trusted: the next transform gets another.
      answers.push(await new HTMLRewriter().on('p', { element(el) { el.setAttribute('next', '1'); } }).transform(new Response('<p>x</p>')).text());
      return Response.json(answers);
    `, { cpuMs: 20_000 });
    const [first, next] = await res.json() as string[];
    expect(first).toMatch(/more than lol-html's 32 MB/);
    expect(Number(first!.match(/after (\d+) chunks/)![1])).toBeLessThan(100);
    expect(next).toBe('<p next="1">x</p>');
  });

  it("does not charge a request for loading lol-html, but stops a tenant that loops inside the load", async () => {
    // Compiling and warming the module takes ~50 ms: a first use in a fresh isolate must still fit
    // a small limit.
    const first = await run('first-use', `
      return new HTMLRewriter().on('p', { element(el) { el.setAttribute('a', '1'); } }).transform(new Response('<p>x</p>'));
    `, { cpuMs: 20 });
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('<p a="1">x</p>');
    // The load calls what the tenant can patch; a loop there is charged once the allowance is spent.
    const looped = await run('loops-in-load', `
      Array.prototype.push = function () { for (;;) {} };
      return new HTMLRewriter().transform(new Response('<p>x</p>'));
    `, { cpuMs: 20 });
    expect(looped.status).toBe(503);
    expect(looped.headers.get('islet-error')).toBe('cpu-limit');
  });
});
